// Issue 13 diagnostic: chosen questions of the real-prose QA suite (the bench's documents at one
// length), answered greedily under each policy, as the bench asks them; prints answer, verdict, TTFT.
// A quick check of a scoring change on the questions a bench run lost, before a whole run.
//   [SIFT_MODEL=file.gguf] npx tsx scripts/prose-ask.mts <length> --rounds 2,6 --policies 'lazy;lazy:span=48' [--sizes cache.json]
// --sizes reads the documents' sizes the bench stored (~/.cache/sift/bench-cache); rounds count from 1.
import { EngineClient } from '../src-main/engine/engineClient.js';
import { answerMatches } from '../src-main/models/proseCases.js';
import { prosePlan } from './prosePlan.mjs';

const args = process.argv.slice(2);
const length = Number(args[0] ?? 2048);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const rounds = (opt('--rounds') ?? '1').split(',').map(Number);
const policies = (opt('--policies') ?? 'full;lazy').split(';');
const sizesFile = opt('--sizes');

const client = await EngineClient.start({ build: 'patched' });
const model = `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`;
await client.loadModel({ path: model, contextSize: length });
const { suite, plan } = await prosePlan(client, length, sizesFile);

for (const round of rounds) {
  const task = plan.cases.find((c) => c.round === round - 1);
  if (!task) throw new Error(`no question ${round} at ${length}`);
  console.log(`q${round} (${task.kind}, depth ${task.depths.map((d) => d.toFixed(2)).join('+')}): ${task.question} [${task.accept.map((a) => a.join(' ')).join(' | ')}]`);
  for (const policy of policies) {
    const running = client.runTurn({ messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens: suite.answerTokens }, policy, cachePrompt: false }, () => {});
    const { answer, metrics } = await running.result;
    const verdict = answerMatches(answer, task.accept) ? 'correct' : 'wrong';
    console.log(`  ${policy}: ${verdict} ${(metrics.ttftMs / 1000).toFixed(1)} s “${answer.replace(/\s+/g, ' ').slice(0, 90)}”`);
  }
}
await client.close();
