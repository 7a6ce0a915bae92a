// Where the question goes in the user's message (issues 13 and 16): after the document (the app
// today) or both before and after it, measured on the real-prose QA suite: answers correct under
// each policy, and the TTFT. The question before the document lets every document token attend to
// it, and lazy prefill's scores come from hidden states that have seen it.
//   npx tsx scripts/prose-question-placement.mts <length> [depths] <policy> [<policy> ...]
import { EngineClient } from '../src-main/engine/engineClient.js';
import type { ChatMessage } from '../src-common/engineTypes.js';
import { DEFAULT_SESSION_SETTINGS } from '../src-main/store/sessionDefaults.js';
import { tokenize } from '../test/bench/fidelity.js';
import { answerMatches, loadProseCorpus, type ProseCase } from '../src-main/models/proseCases.js';
import { buildProseSuite } from '../test/bench/proseSuite.js';
import { sizeLength, type ProseContext } from '../test/bench/proseRun.js';

const [lengthArg, depthsArg, ...policies] = process.argv.slice(2);
const length = Number(lengthArg ?? 2048);
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, contextSize: length + 256 });
const suite = buildProseSuite('full', { lengths: [length], depths: Number(depthsArg ?? 20) });
const sources = loadProseCorpus();
const charsPerToken: Record<string, number> = {};
for (const s of sources) charsPerToken[s.id] = 2500 / (await tokenize(client, s.text.slice(0, 2500))).length;
const ctx = { suite, cache: { readJson: () => null, writeJson: () => {} } } as unknown as ProseContext;
const countTokens = async (c: ProseCase) => (await client.probeLogits({ messages: c.messages })).promptTokens.length;
const { plan } = await sizeLength(ctx, length, sources, charsPerToken, countTokens);

function placed(task: ProseCase, placement: 'after' | 'both'): ChatMessage[] {
  if (placement === 'after') return task.messages;
  const user = task.messages[1]!.content;
  return [{ role: 'system', content: DEFAULT_SESSION_SETTINGS.systemPrompt }, { role: 'user', content: `${task.question}\n\n${user}` }];
}

const tally = new Map<string, { correct: number; ttft: number[]; n: number }>();
for (const task of plan.cases) {
  for (const placement of ['after', 'both'] as const) {
    for (const policy of policies) {
      const { answer, metrics } = await client.runTurn({ messages: placed(task, placement), sampling: { temperature: 0, topP: 1, maxTokens: 32 }, policy }, () => {}).result;
      const ok = answerMatches(answer, task.accept);
      const key = `${placement} ${policy}`;
      const t = tally.get(key) ?? { correct: 0, ttft: [], n: 0 };
      t.correct += ok ? 1 : 0; t.ttft.push(metrics.ttftMs); t.n++;
      tally.set(key, t);
      console.log(`q${task.round} ${task.kind} ${task.depths.map((d) => d.toFixed(2)).join('+')} ${key}: ${ok ? 'correct' : 'wrong'} ${(metrics.ttftMs / 1000).toFixed(2)} s “${answer.replace(/\s+/g, ' ').slice(0, 60)}”`);
    }
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
for (const [key, t] of tally) console.log(`${key}: ${t.correct}/${t.n} correct, median TTFT ${(median(t.ttft) / 1000).toFixed(2)} s`);
await client.close();
