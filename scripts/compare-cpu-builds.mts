// Paired prefill speed of one build kind from two native folders (e.g. a `--cpu native` and a
// `--cpu variants` build of the same source): A and B in turn, one engine process each, the same
// real-prose prompt, prefill tokens/s per run and the B/A ratio per pair.
//
// Usage: npx tsx scripts/compare-cpu-builds.mts <nativeDirA> <nativeDirB> [--build stock|patched]
//          [--tokens 2048] [--pairs 5]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient, forkEngineHost } from '../src-main/engine/engineClient.js';
import type { BuildKind } from '../src-common/engineTypes.js';
import { testModelPath } from '../test/helpers/testModel.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { build: { type: 'string', default: 'stock' }, tokens: { type: 'string', default: '2048' }, pairs: { type: 'string', default: '5' } },
});
const [dirA, dirB] = positionals;
if (!dirA || !dirB) throw new Error('usage: compare-cpu-builds.mts <nativeDirA> <nativeDirB> [--build stock|patched] [--tokens N] [--pairs N]');
const build = values.build as BuildKind;
// about 4 characters a token in English prose
const text = readFileSync(path.resolve('test/fixtures/prose/us-constitution.txt'), 'utf8').slice(0, Number(values.tokens) * 4);

async function start(dir: string) {
  const engine = await EngineClient.start({ build, host: forkEngineHost({ env: { ...process.env, SIFT_NATIVE_DIR: path.resolve(dir) } }) });
  await engine.loadModel({ path: testModelPath(), contextSize: 8192 });
  return engine;
}

async function prefill(engine: EngineClient): Promise<{ tokensPerSec: number; promptTokens: number }> {
  const { result } = engine.runTurn(
    { messages: [{ role: 'user', content: `${text}\n\nWho may be President?` }], sampling: { temperature: 0, topP: 1, maxTokens: 1 }, policy: 'full' },
    () => {},
  );
  const { metrics } = await result;
  return { tokensPerSec: metrics.prefillTokensPerSec, promptTokens: metrics.promptTokens };
}

const a = await start(dirA);
const b = await start(dirB);
console.log(`A: ${dirA} (${a.build.cpu.build}${a.build.cpu.variant ? ` ${a.build.cpu.variant}` : ''})`);
console.log(`B: ${dirB} (${b.build.cpu.build}${b.build.cpu.variant ? ` ${b.build.cpu.variant}` : ''})`);
await prefill(a); // warm-up, each
await prefill(b);
const ratios: number[] = [];
for (let pair = 0; pair < Number(values.pairs); pair++) {
  const ra = await prefill(a);
  const rb = await prefill(b);
  ratios.push(rb.tokensPerSec / ra.tokensPerSec);
  console.log(`pair ${pair + 1}: ${ra.promptTokens} tokens, A ${ra.tokensPerSec.toFixed(1)} tok/s, B ${rb.tokensPerSec.toFixed(1)} tok/s, B/A ${ratios.at(-1)!.toFixed(3)}`);
}
const sorted = [...ratios].sort((x, y) => x - y);
console.log(`B/A prefill speed: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} (min ${sorted[0]!.toFixed(3)}, max ${sorted.at(-1)!.toFixed(3)})`);
await a.close();
await b.close();
