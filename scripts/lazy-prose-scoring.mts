// How lazy prefill's scoring rules rank the facts of the real-prose QA suite (issue 13): for each
// single-fact question, one full prefill with the attention of the last `window` prompt tokens
// observed at every layer, then, for each rule (which layers are summed before a prune point at
// layer `at`), the worst rank fraction (0 = best) of the answer's tokens among the prompt's tokens.
// A schedule keeps a fact when, at each of its prune points, that rank is under the point's keep
// fraction (ignoring that earlier points remove competitors: a slight overestimate of the rank).
//   [SIFT_MODEL=file.gguf] npx tsx scripts/lazy-prose-scoring.mts <length> [--windows 8,q] [--out file.json] [--sizes cache.json]
// window `q` = the question's own tokens and the template's tail (question-aware observation).
// Rules ending in +sent rank whole sentences by their best token (lazy:span, llama-sift-prune-score.cpp);
// /p1 without max-pooling. --sizes reads the documents' sizes the bench stored (~/.cache/sift/bench-cache).
// Ends with a replay: how many facts each candidate schedule (fractions of the depth) would keep,
// and the same for eviction (one kept set for every layer, as a KV cell holds all of them): each
// rule sums the attention of layers [from, last] and ranks the middle (after 20 sinks, before the
// recent half of the budget); a fact is kept at budget b when it ranks among the middle's kept share.
import { writeFileSync } from 'node:fs';
import { loadLlama } from '../src-engine/loadLlama.js';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { tokenize } from '../test/bench/fidelity.js';
import { prosePlan } from './prosePlan.mjs';

const args = process.argv.slice(2);
const length = Number(args[0] ?? 2048);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const windows = (opt('--windows') ?? '8,q').split(',');
const outFile = opt('--out');
const sizesFile = opt('--sizes');
const SPAN_MAX = 48;
const POOL = 15;

const client = await EngineClient.start({ build: 'patched' });
const model = `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`;
const info = await client.loadModel({ path: model, contextSize: length });
const nLayer = info.layers ?? 30;
const { plan } = await prosePlan(client, length, sizesFile);
// the tokens' text, for sentence ends (the engine process has the model; this one only needs its vocabulary)
const { llama } = await loadLlama('patched');
const vocab = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
/** The native rule (llama-sift-prune-score.cpp): a sentence ends after . ! ? before closing quotes or brackets, a line break, or SPAN_MAX tokens. */
function sentenceIds(tokens: number[]): Int32Array {
  const ids = new Int32Array(tokens.length);
  let id = 0, len = 0;
  tokens.forEach((t, i) => {
    ids[i] = id;
    len++;
    const piece = vocab.detokenize([t as never], true);
    if (len >= SPAN_MAX || piece.includes('\n') || /[.!?]["')\] \t]*$/.test(piece)) { id++; len = 0; }
  });
  return ids;
}

function findRun(hay: number[], needle: number[], from = 0, to = hay.length): number {
  for (let i = from; i + needle.length <= to; i++) if (needle.every((t, k) => hay[i + k] === t)) return i;
  return -1;
}

/** Token positions of the answer inside its fact sentence (the sentence without its first token, which depends on what precedes it). */
async function answerSpan(tokens: number[], sentence: string, answer: string): Promise<number[] | null> {
  // the first and last tokens may merge with their neighbours in place (Qwen's tokenizer does)
  const whole = await tokenize(client, sentence);
  let sent = whole.slice(1);
  let at = findRun(tokens, sent);
  if (at < 0) {
    sent = whole.slice(1, -1);
    at = findRun(tokens, sent);
  }
  if (at < 0) return null;
  for (const variant of [` ${answer}`, answer]) {
    const ans = await tokenize(client, variant);
    const a = findRun(tokens, ans, Math.max(0, at - 2), at + sent.length + 2);
    if (a >= 0) return ans.map((_, k) => a + k);
  }
  return sent.map((_, k) => at + k); // the whole sentence when the answer is tokenized differently in place
}

type Rule = { name: string; layers: (at: number, prev: number) => [number, number]; pool?: number; sentences?: boolean };
// `from` is the lazy press's default: a tenth of the depth (3 on SmolLM2's 30 layers)
const FROM = Math.round(0.1 * nLayer);
const RULES: Rule[] = [
  { name: 'from', layers: (at) => [FROM, at] },
  { name: 'prev', layers: (at, prev) => [prev, at] },
  { name: 'last4', layers: (at) => [Math.max(0, at - 4), at] },
  { name: 'last', layers: (at) => [at - 1, at] },
  { name: 'from+sent', layers: (at) => [FROM, at], sentences: true },
  { name: 'from+sent/p1', layers: (at) => [FROM, at], sentences: true, pool: 1 },
];
const POINTS = Array.from({ length: nLayer }, (_, l) => l).filter((l) => l >= 2 && l < nLayer);
const SHOWN = [0.27, 0.4, 0.53, 0.67, 0.8].map((f) => Math.round(f * nLayer));

// eviction rules: the layers summed (fractions of the depth, to the last layer), pooling, sentences
const EVICT_SINK = 20;
type EvictRule = { name: string; from: number; pool: number; sentences: boolean };
const EVICT_RULES: EvictRule[] = [0, 0.25, 0.5, 0.75].flatMap((from) => [
  { name: `L${from}/p7`, from, pool: 7, sentences: false },
  { name: `L${from}/p7+sent`, from, pool: 7, sentences: true },
  { name: `L${from}/p1+sent`, from, pool: 1, sentences: true },
]);
const EVICT_BUDGETS = [0.2, 0.1];
const evictRanks: Array<{ window: string; n: number; ranks: Record<string, number[]> }> = [];
/** Per budget (a fraction of the prompt, the recent window half of it): the fact's worst rank among the middle candidates. */
function evictionRank(rule: EvictRule, perLayer: Map<number, Float64Array>, H: number, n: number, span: number[], sentences: Int32Array): number[] {
  const acc = new Float64Array(H * n);
  for (let il = Math.round(rule.from * nLayer); il < nLayer; il++) { const a = perLayer.get(il); if (a) for (let i = 0; i < acc.length; i++) acc[i] += a[i]!; }
  const half = (rule.pool - 1) / 2;
  const score = new Float64Array(n);
  for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) {
    let b = 0;
    for (let d = Math.max(0, i - half); d <= Math.min(n - 1, i + half); d++) b = Math.max(b, acc[h * n + d]!);
    score[i] += b;
  }
  const best = new Float64Array(n);
  if (rule.sentences) for (let i = 0; i < n; i++) best[sentences[i]!] = Math.max(best[sentences[i]!]!, score[i]!);
  const group = (i: number) => (rule.sentences ? best[sentences[i]!]! : score[i]!);
  // per budget: the fact's worst rank among the middle (-1 when it sits in the recent window)
  return EVICT_BUDGETS.map((budget) => {
    const recentFrom = n - Math.floor((budget * n) / 2);
    const middle = [...Array(n).keys()].filter((i) => i >= EVICT_SINK && i < recentFrom);
    const rank = new Map(middle.sort((a, b) => group(b) - group(a) || score[b]! - score[a]!).map((t, idx) => [t, idx]));
    return Math.max(...span.map((p) => rank.get(p) ?? -1));
  });
}

interface Row { round: number; document: number; depth: number; window: string; windowTokens: number; n: number; ranks: Record<string, Record<number, number>> }
const rows: Row[] = [];
const started = Date.now();
for (const task of plan.cases.filter((c) => c.kind === 'single')) {
  const doc = plan.documents[task.document]!;
  const q = doc.questions.find((x) => x.question === task.question)!;
  const fact = doc.facts[q.facts[0]!]!;
  const questionTokens = (await tokenize(client, task.question)).length + 5; // + "<|im_end|>\n<|im_start|>assistant\n"
  for (const w of windows) {
    const obsWindow = w === 'q' ? questionTokens : Number(w);
    const r = await client.probeLazyPrefill({
      messages: task.messages,
      schedule: { pruneLayers: [nLayer - 1], keep: [1], nSink: 4, nRecent: 16, obsWindow, pool: 1, scoreFrom: -1 },
      withObservation: true,
    });
    const tokens = r.promptTokens;
    const n = tokens.length;
    const span = await answerSpan(tokens, fact.sentence, q.answer);
    if (!span) {
      console.log(`q${task.round}: the fact's sentence is tokenized differently in place; skipped`);
      continue;
    }
    const sentences = sentenceIds(tokens);
    const obs = r.observation!;
    const H = obs.layers[0]!.nHeadKv;
    // per layer, per head, per position
    const perLayer = new Map<number, Float64Array>();
    for (const l of obs.layers) {
      const a = new Float64Array(H * n);
      for (let h = 0; h < H; h++) for (let j = 0; j < l.nKv; j++) { const p = obs.positions[j]!; if (p >= 0 && p < n) a[h * n + p] += l.scores[h * l.nKv + j]!; }
      perLayer.set(l.layer, a);
    }
    const ranks: Record<string, Record<number, number>> = {};
    for (const rule of RULES) {
      ranks[rule.name] = {};
      POINTS.forEach((at, k) => {
        const prev = k === 0 ? FROM : POINTS[k - 1]!;
        const [lo, hi] = rule.layers(at, prev);
        const acc = new Float64Array(H * n);
        for (let il = lo; il < hi; il++) { const a = perLayer.get(il); if (a) for (let i = 0; i < acc.length; i++) acc[i] += a[i]!; }
        const score = new Float64Array(n), raw = new Float64Array(n);
        const half = ((rule.pool ?? POOL) - 1) / 2;
        for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) {
          let b = acc[h * n + i]!;
          for (let d = Math.max(0, i - half); d <= Math.min(n - 1, i + half); d++) b = Math.max(b, acc[h * n + d]!);
          score[i] += b; raw[i] += acc[h * n + i]!;
        }
        // with sentences, a token ranks by its sentence's best token, then by its own score
        const best = new Float64Array(n);
        if (rule.sentences) for (let i = 0; i < n; i++) best[sentences[i]!] = Math.max(best[sentences[i]!]!, score[i]!);
        const group = (i: number) => (rule.sentences ? best[sentences[i]!]! : score[i]!);
        const order = [...Array(n).keys()].sort((a, b) => group(b) - group(a) || score[b]! - score[a]! || raw[b]! - raw[a]!);
        const rank = new Float64Array(n);
        order.forEach((t, idx) => { rank[t] = idx / n; });
        ranks[rule.name]![at] = Math.max(...span.map((p) => rank[p]!));
      });
    }
    evictRanks.push({ window: w, n, ranks: Object.fromEntries(EVICT_RULES.map((rule) => [rule.name, evictionRank(rule, perLayer, H, n, span, sentences)])) });
    rows.push({ round: task.round, document: task.document, depth: fact.placedDepth, window: w, windowTokens: obsWindow, n, ranks });
    console.log(`q${task.round} depth ${fact.placedDepth.toFixed(2)} window ${w}(${obsWindow}): ` + RULES.map((rule) => `${rule.name} ` + SHOWN.map((at) => ranks[rule.name]![at]!.toFixed(2)).join('/')).join('  '));
  }
}
console.log(`${rows.length} probes in ${((Date.now() - started) / 1000).toFixed(0)} s; layers shown: ${SHOWN.join('/')}`);

// Replay: a fact survives a schedule when its rank is under the keep fraction at every prune
// point (`from` rule; `last` for the from=last rows). FLOPs: the linear layers' share computed.
const CANDIDATES: Array<{ at: number[]; keep: number[]; rule: string }> = [
  { at: [0.27, 0.67, 0.8], keep: [0.7, 0.6, 0.5], rule: 'from' },
  { at: [0.27, 0.67, 0.8], keep: [0.7, 0.6, 0.5], rule: 'from+sent' },
  { at: [0.27, 0.53, 0.8], keep: [0.6, 0.4, 0.25], rule: 'from+sent' },
  { at: [0.2, 0.4, 0.6], keep: [0.5, 0.3, 0.2], rule: 'from+sent' },
  { at: [0.2, 0.4, 0.6], keep: [0.5, 0.3, 0.2], rule: 'from+sent/p1' },
  { at: [0.13, 0.27, 0.53], keep: [0.35, 0.2, 0.1], rule: 'from+sent' },
  { at: [0.13, 0.27, 0.53], keep: [0.35, 0.2, 0.1], rule: 'from+sent/p1' },
  { at: [0.27, 0.53, 0.8], keep: [0.6, 0.4, 0.25], rule: 'from' },
  { at: [0.27, 0.53, 0.8], keep: [0.6, 0.4, 0.25], rule: 'last' },
  { at: [0.2, 0.4, 0.6], keep: [0.5, 0.3, 0.2], rule: 'from' },
  { at: [0.2, 0.4, 0.6], keep: [0.5, 0.3, 0.2], rule: 'last' },
  { at: [0.27, 0.4, 0.53], keep: [0.5, 0.3, 0.15], rule: 'from' },
  { at: [0.13, 0.27, 0.53], keep: [0.35, 0.2, 0.1], rule: 'from' },
];
for (const w of windows) {
  for (const c of CANDIDATES) {
    const at = c.at.map((f) => Math.max(FROM + 1, Math.round(f * nLayer)));
    const flops = (at[0]! + c.keep.reduce((sum, k, i) => sum + k * ((at[i + 1] ?? nLayer) - at[i]!), 0)) / nLayer;
    const probes = rows.filter((r) => r.window === w);
    const kept = probes.filter((r) => at.every((l, i) => r.ranks[c.rule]![l]! < c.keep[i]!)).length;
    console.log(`window ${w}: at=${at.join('/')} keep=${c.keep.join('/')} ${c.rule}: kept ${kept}/${probes.length} facts, FLOP limit ${(1 / flops).toFixed(2)}x`);
  }
}
// One prune point (FastKV's shape: every token through the first `at` layers, a small share after):
// per layer, the keep fraction each share of the facts needs, and the FLOP limit of keeping all.
for (const w of windows) {
  const probes = rows.filter((r) => r.window === w);
  for (const rule of ['from+sent/p1', 'from+sent', 'from']) {
    const line = POINTS.filter((at) => at > FROM).map((at) => {
      const ranks = probes.map((r) => r.ranks[rule]![at]!).sort((a, b) => a - b);
      const need = (share: number) => ranks[Math.max(0, Math.ceil(share * ranks.length) - 1)]! + 1 / probes[0]!.n;
      const all = need(1);
      return `L${at} ${need(0.9).toFixed(2)}/${need(1).toFixed(2)} (${(nLayer / (at + all * (nLayer - at))).toFixed(2)}x)`;
    });
    console.log(`one prune point, window ${w}, ${rule}: keep needed for 90%/all facts (FLOP limit keeping all): ${line.join('  ')}`);
  }
}
for (const w of windows) {
  const probes = evictRanks.filter((r) => r.window === w);
  EVICT_BUDGETS.forEach((budget, b) => {
    const line = EVICT_RULES.map((rule) => {
      const kept = probes.filter((r) => {
        const heavy = Math.floor(budget * r.n) - EVICT_SINK - Math.floor((budget * r.n) / 2);
        const rank = r.ranks[rule.name]![b]!;
        return rank < heavy;
      }).length;
      return `${rule.name} ${kept}`;
    });
    console.log(`eviction, window ${w}, budget ${budget}: facts kept of ${probes.length}: ${line.join('  ')}`);
  });
}
if (outFile) writeFileSync(outFile, JSON.stringify({ length, model, pool: POOL, points: POINTS, rules: RULES.map((r) => r.name), rows }, null, 1));
await vocab.dispose();
await client.close();
