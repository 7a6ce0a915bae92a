// How well each layer's attention finds a pass key: for pass-key documents at several needle depths,
// the full prefill's attention of the last `window` prompt tokens is read at every layer (patched
// build, probeAttention), and the worst rank of the key's ten digit tokens among all prompt tokens
// is printed (0.10: the lowest-ranked digit is still in the top 10%), for that layer alone and for
// the layers from --from up to it summed, each max-pooled over --pool positions. This is what chose
// lazy prefill's scoring and default schedule (docs/design/LAZY_PREFILL.md).
//
//   npx tsx scripts/lazy-needle-ranks.ts [--tokens 7350] [--window 8] [--pool 7] [--from 3] [--depths 0,0.1,…]
import { EngineClient } from '../src-main/engine/engineClient.js';
import { passkeyPrompt } from '../test/helpers/passkey.js';
import { testModelPath } from '../test/helpers/testModel.js';

const KEY = '50007';
/** Offsets of the digits in the needle sentence "The pass key is 50007. Remember it. 50007 is the pass key." */
const DIGIT_OFFSETS = [4, 5, 6, 7, 8, 13, 14, 15, 16, 17];
const NEEDLE_TOKENS = 23;
/** A layer where the needle gets most of the last tokens' attention, used to find it. */
const LOCATING_LAYER = 7;
/** The question and the chat template's tail, which mention the pass key too: not searched. */
const QUESTION_TAIL = 40;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

function maxPool(score: Float64Array, size: number): Float64Array {
  const half = size >> 1;
  return score.map((_, i) => {
    let best = 0;
    for (let d = Math.max(0, i - half); d <= Math.min(score.length - 1, i + half); d++) best = Math.max(best, score[d]!);
    return best;
  });
}

/** Rank of each position by score, as a fraction of the positions (0 = the highest). */
function ranks(score: Float64Array): Float64Array {
  const order = Array.from(score.keys()).sort((a, b) => score[b]! - score[a]!);
  const rank = new Float64Array(score.length);
  order.forEach((position, i) => (rank[position] = i / score.length));
  return rank;
}

const tokens = Number(option('tokens', '7350'));
const window = Number(option('window', '8'));
const pool = Number(option('pool', '7'));
const from = Number(option('from', '3'));
const depths = option('depths', '0,0.1,0.25,0.4,0.5,0.6,0.75,0.9').split(',').map(Number);

const engine = await EngineClient.start({ build: 'patched' });
try {
  await engine.loadModel({ path: testModelPath(), contextSize: 8192 });
  const rows: string[][] = [];
  for (const depth of depths) {
    const task = passkeyPrompt(tokens, depth, KEY);
    const attention = await engine.probeAttention({ messages: [{ role: 'user', content: `${task.document}\n\n${task.question}` }], window });
    const n = attention.promptTokens;
    // per layer, each prompt position's attention summed over the KV heads
    const perLayer = attention.layers.map((obs) => {
      const score = new Float64Array(n);
      for (let cell = 0; cell < obs.nKv; cell++) {
        const position = attention.positions[cell]!;
        if (position < 0 || position >= n) continue;
        for (let h = 0; h < obs.nHeadKv; h++) score[position] = score[position]! + obs.scores[h * obs.nKv + cell]!;
      }
      return score;
    });
    let start = 0;
    let best = -1;
    for (let i = 0; i + NEEDLE_TOKENS < n - QUESTION_TAIL; i++) {
      let mass = 0;
      for (let k = 0; k < NEEDLE_TOKENS; k++) mass += perLayer[LOCATING_LAYER]![i + k]!;
      if (mass > best) [best, start] = [mass, i];
    }
    const worstDigit = (score: Float64Array) => {
      const rank = ranks(maxPool(score, pool));
      return Math.max(...DIGIT_OFFSETS.map((o) => rank[start + o]!)).toFixed(2);
    };
    const summed = new Float64Array(n);
    perLayer.forEach((score, layer) => {
      if (layer >= from) score.forEach((v, i) => (summed[i] = summed[i]! + v));
      (rows[layer] ??= []).push(`${worstDigit(score)}/${layer >= from ? worstDigit(summed) : '—'}`);
    });
    process.stderr.write(`depth ${depth}: ${n} tokens, needle at ${start}\n`);
  }
  console.log(`window ${window}, pool ${pool}; per depth ${depths.join(', ')}: worst digit rank, layer alone / layers ${from}…l summed`);
  rows.forEach((row, layer) => console.log(`layer ${String(layer).padStart(2)}  ${row.join('  ')}`));
} finally {
  await engine.close();
}
