// Issue 13 diagnostic: chosen questions of the real-prose QA suite (the bench's documents at one
// length), answered greedily under each policy, as the bench asks them; prints answer, verdict, TTFT.
// A quick check of a scoring change on the questions a bench run lost, before a whole run.
//   [SIFT_MODEL=file.gguf] npx tsx scripts/prose-ask.mts <length> --rounds 2,6 --policies 'lazy;lazy:span=48' [--sizes cache.json]
// --sizes reads the documents' sizes the bench stored (~/.cache/sift/bench-cache), --depths the
// run's fact depths (20 unless the bench was given --depths); rounds count from 1.
// --kept also prints how deep a lazy prefill computed each fact sentence the question needs and
// the text around it (the share of layers; 1 = every layer), or under eviction whether the cache
// kept it (1 = all of it, 0 = some of it dropped).
// --replay W then asks `full` again with only the text computed in at least share W of the layers
// (the kept runs in order, nothing else changed): is the kept set enough when read whole?
import { createHash } from 'node:crypto';
import { EngineClient } from '../src-main/engine/engineClient.js';
import type { ChatMessage, KeptText } from '../src-common/engineTypes.js';
import { answerMatches, type ProseCase } from '../src-main/models/proseCases.js';
import { prosePlan } from './prosePlan.mjs';

const args = process.argv.slice(2);
const length = Number(args[0] ?? 2048);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const rounds = (opt('--rounds') ?? '1').split(',').map(Number);
const policies = (opt('--policies') ?? 'full;lazy').split(';');
const sizesFile = opt('--sizes');
const showKept = args.includes('--kept');
const replayShare = opt('--replay') === undefined ? null : Number(opt('--replay'));

/** The request with the user's message cut to the text a lazy turn computed in at least `share` of the layers. */
function keptOnly(messages: ChatMessage[], kept: KeptText, share: number): ChatMessage[] {
  const user = messages.findIndex((m) => m.role === 'user');
  const content = messages[user]!.content;
  const message = kept.messages?.find((m) => m.index === user);
  if (!message) return messages;
  let text = '';
  for (let i = 0; i < message.ranges.length; i += 2) {
    if ((message.weights?.[i / 2] ?? 1) >= share - 1e-6) text += content.slice(message.ranges[i]!, message.ranges[i + 1]!);
  }
  return messages.map((m, i) => (i === user ? { ...m, content: text } : m));
}

/** The lowest and mean computed depth over chars [from, to) of message `index`, from a lazy turn's kept text. */
function depthOver(kept: KeptText | null | undefined, index: number, from: number, to: number): { min: number; mean: number } {
  const message = kept?.messages?.find((m) => m.index === index);
  if (!kept || !message) return { min: 1, mean: 1 };
  let min = 1;
  let weighted = 0;
  let covered = 0;
  for (let i = 0; i < message.ranges.length; i += 2) {
    const a = Math.max(from, message.ranges[i]!);
    const b = Math.min(to, message.ranges[i + 1]!);
    if (b <= a) continue;
    const w = message.weights?.[i / 2] ?? 1;
    min = Math.min(min, w);
    weighted += w * (b - a);
    covered += b - a;
  }
  // characters outside every range were not computed past the first prune point's layers
  if (covered < to - from) min = 0;
  return { min, mean: covered > 0 ? weighted / (to - from) : 0 };
}

function describeFacts(task: ProseCase, kept: KeptText | null | undefined): string[] {
  const document = plan.documents[task.document]!;
  const question = document.questions.find((q) => q.question === task.question)!;
  const user = task.messages.findIndex((m) => m.role === 'user');
  const content = task.messages[user]!.content;
  const lines: string[] = [];
  for (const f of question.facts) {
    const sentence = document.facts[f]!.sentence;
    const at = content.indexOf(sentence);
    if (at < 0) { lines.push(`    fact ${f}: sentence not found in the prompt`); continue; }
    const fact = depthOver(kept, user, at, at + sentence.length);
    const before = depthOver(kept, user, Math.max(0, at - 300), at);
    const after = depthOver(kept, user, at + sentence.length, at + sentence.length + 300);
    const fmt = (d: { min: number; mean: number }) => `min ${d.min.toFixed(2)} mean ${d.mean.toFixed(2)}`;
    lines.push(`    fact ${f} “${sentence.slice(0, 60)}…”: ${fmt(fact)}; 300 chars before ${fmt(before)}; after ${fmt(after)}`);
  }
  return lines;
}

const client = await EngineClient.start({ build: 'patched' });
const model = `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`;
await client.loadModel({ path: model, contextSize: length });
const depths = opt('--depths');
const { suite, plan } = await prosePlan(client, length, sizesFile, depths === undefined ? undefined : Number(depths));

for (const round of rounds) {
  const task = plan.cases.find((c) => c.round === round - 1);
  if (!task) throw new Error(`no question ${round} at ${length}`);
  console.log(`q${round} (${task.kind}, depth ${task.depths.map((d) => d.toFixed(2)).join('+')}): ${task.question} [${task.accept.map((a) => a.join(' ')).join(' | ')}]`);
  for (const policy of policies) {
    const running = client.runTurn({ messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens: suite.answerTokens }, policy, cachePrompt: false }, () => {});
    const { answer, metrics } = await running.result;
    const verdict = answerMatches(answer, task.accept) ? 'correct' : 'wrong';
    console.log(`  ${policy}: ${verdict} ${(metrics.ttftMs / 1000).toFixed(1)} s “${answer.replace(/\s+/g, ' ').slice(0, 90)}”`);
    if (showKept && metrics.kept) {
      // a digest of the kept ranges: two turns that kept the same text print the same one
      const digest = createHash('sha256').update(JSON.stringify(metrics.kept.messages ?? [])).digest('hex').slice(0, 12);
      console.log(`    kept ${metrics.kept.keptTokens} of ${metrics.kept.promptTokens} tokens (${metrics.kept.basis}, ranges ${digest})`);
      for (const line of describeFacts(task, metrics.kept)) console.log(line);
    }
    if (replayShare !== null && metrics.kept?.basis === 'computed') {
      const replay = client.runTurn({ messages: keptOnly(task.messages, metrics.kept, replayShare), sampling: { temperature: 0, topP: 1, maxTokens: suite.answerTokens }, policy: 'full', cachePrompt: false }, () => {});
      const again = await replay.result;
      const ok = answerMatches(again.answer, task.accept) ? 'correct' : 'wrong';
      console.log(`    full on the text computed in ≥ ${replayShare} of the layers (${again.metrics.promptTokens} tokens): ${ok} “${again.answer.replace(/\s+/g, ' ').slice(0, 90)}”`);
    }
  }
}
await client.close();
