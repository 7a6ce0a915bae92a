// Experiment: a pass key in real prose (the binder of the corpus sources), longer than the model's
// trained context, read through an evicting cache (issue 16 item 1). The documents, keys and
// prompts are the long bench's own (test/bench/longRun.ts), so a probe of one depth reproduces that
// bench cell; it prints how much of the needle the cache still held when the answer was written.
//   npx tsx scripts/long-doc-probe.mts <tokens> <depths> <policy> [<policy> ...]
// SIFT_PROBE_ONLY=3,4 runs only those depth indices (a 32k turn takes 3-10 minutes on 2 cores).
import { EngineClient } from '../src-main/engine/engineClient.js';
import { LONG_CONTEXT, longDepths, longPasskey, messages, sizedProse, withNeedle } from '../test/bench/longRun.js';

const [tokensArg, depthsArg, ...policies] = process.argv.slice(2);
const length = Number(tokensArg ?? 16384);
const depths = longDepths(Number(depthsArg ?? 3));
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, contextSize: LONG_CONTEXT });
const prose = await sizedProse(client, length);
const only = process.env.SIFT_PROBE_ONLY?.split(',').map(Number);
for (const [index, depth] of depths.entries()) {
  if (only && !only.includes(index)) continue;
  const key = longPasskey(index, length);
  const prompt = messages(withNeedle(prose.text, depth, key));
  const user = prompt.findIndex((m) => m.role === 'user');
  const needle = `The pass key is ${key}.`;
  const needleFrom = prompt[user]!.content.indexOf(needle);
  for (const policy of policies) {
    const { answer, metrics } = await client.runTurn({ messages: prompt, sampling: { temperature: 0, topP: 1, maxTokens: 16 }, policy, cachePrompt: false }, () => {}).result;
    // how much of the needle's first sentence the cache still held when the answer was written
    const ranges = metrics.kept?.messages?.find((m) => m.index === user)?.ranges ?? [];
    let held = 0;
    for (let i = 0; i < ranges.length; i += 2) held += Math.max(0, Math.min(ranges[i + 1]!, needleFrom + needle.length) - Math.max(ranges[i]!, needleFrom));
    console.log(
      `${depth.toFixed(3)} ${policy}: ${answer.includes(key) ? 'FOUND' : 'lost'} needle held ${held}/${needle.length} chars prompt ${metrics.promptTokens} ` +
        `ttft ${(metrics.ttftMs / 1000).toFixed(1)} s (${Math.round(metrics.prefillTokensPerSec)} tok/s) peak ${((metrics.kvBytesPeak ?? 0) / 2 ** 20).toFixed(0)} MiB “${answer.replace(/\s+/g, ' ')}” [${key}]`,
    );
  }
}
await client.close();
