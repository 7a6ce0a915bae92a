// Experiment: a pass key in real prose (the binder of the corpus sources), longer than the model's
// trained context, read through an evicting cache (issue 16 item 1).
//   npx tsx scripts/long-doc-probe.mts <tokens> <depths> <policy> [<policy> ...]
// SIFT_PROBE_ONLY=0,3 runs only those depth indices (a 32k turn takes 3-10 minutes on 2 cores).
import { EngineClient } from '../src-main/engine/engineClient.js';
import { tokenize } from '../test/bench/fidelity.js';
import { loadProseCorpus } from '../src-main/models/proseCases.js';

const [tokensArg, depthsArg, ...policies] = process.argv.slice(2);
const tokens = Number(tokensArg ?? 16384);
const depthCount = Number(depthsArg ?? 3);
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, contextSize: 8192 });
const text = loadProseCorpus().map((s) => s.text).join('\n\n');
const charsPerToken = 4000 / (await tokenize(client, text.slice(0, 4000))).length;
const chars = Math.round(tokens * charsPerToken);
const body = text.repeat(Math.ceil(chars / text.length)).slice(0, chars);
const only = process.env.SIFT_PROBE_ONLY?.split(',').map(Number);
for (let d = 0; d < depthCount; d++) {
  if (only && !only.includes(d)) continue;
  const depth = (d + 0.5) / depthCount;
  const key = String(10000 + ((d * 7919 + 4111) % 89999));
  const at = body.indexOf('\n\n', Math.floor(depth * body.length));
  const needle = `The pass key is ${key}. Remember it. ${key} is the pass key.`;
  const doc = `${body.slice(0, at)}\n\n${needle}${body.slice(at)}`;
  const needleFrom = at + 2;
  for (const policy of policies) {
    const { answer, metrics } = await client.runTurn({ messages: [{ role: 'user', content: `${doc}\n\nWhat is the pass key number?` }], sampling: { temperature: 0, topP: 1, maxTokens: 16 }, policy, cachePrompt: false }, () => {}).result;
    // how much of the needle's text the cache still held when the answer was written
    const ranges = metrics.kept?.messages?.find((m) => m.index === 0)?.ranges ?? [];
    let held = 0;
    for (let i = 0; i < ranges.length; i += 2) held += Math.max(0, Math.min(ranges[i + 1]!, needleFrom + needle.length) - Math.max(ranges[i]!, needleFrom));
    console.log(`${depth.toFixed(2)} ${policy}: ${answer.includes(key) ? 'FOUND' : 'lost'} needle held ${held}/${needle.length} chars prompt ${metrics.promptTokens} ttft ${(metrics.ttftMs / 1000).toFixed(1)} s (${Math.round(metrics.prefillTokensPerSec)} tok/s) peak ${((metrics.kvBytesPeak ?? 0) / 2 ** 20).toFixed(0)} MiB “${answer.replace(/\s+/g, ' ')}” [${key}]`);
  }
}
await client.close();
