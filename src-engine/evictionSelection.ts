// Which tokens an eviction round keeps, as pure functions of their importance: the most important
// candidates token by token or in whole units (ChunkKV runs, sentences), the sentences recall reads
// again, the ranges to erase, and the per-slot transforms (SnapKV's pooling, a slot's share).
// kvEviction.ts reads the cache and the attention; this module only chooses.

/**
 * Token indices re-read by recall: whole runs (sentences) of `candidates`, ranked by their most
 * important token, as many as fit in `count` tokens, ordered so the highest ranked run comes last;
 * each run keeps its tokens' order. A run longer than the room left is skipped; one that scores
 * nothing (line breaks alone) never moves.
 */
export function recalledRuns(candidates: readonly number[], importance: Float64Array, count: number, runOf: readonly number[]): number[] {
  const runs: Array<{ tokens: number[]; score: number }> = [];
  let lastRun = -1;
  for (const i of candidates) {
    if (runOf[i] !== lastRun || runs.length === 0) runs.push({ tokens: [], score: -Infinity });
    lastRun = runOf[i]!;
    const current = runs[runs.length - 1]!;
    current.tokens.push(i);
    current.score = Math.max(current.score, importance[i]!);
  }
  runs.sort((a, b) => b.score - a.score || b.tokens[0]! - a.tokens[0]!);
  const chosen: number[][] = [];
  let room = count;
  for (const run of runs) {
    if (room <= 0 || run.score <= 0) break;
    if (run.tokens.length > room) continue;
    chosen.push(run.tokens);
    room -= run.tokens.length;
  }
  return chosen.reverse().flat();
}

/** Consecutive runs of token indices below n that are not kept. */
export function evictedRanges(keep: readonly number[], n: number): Array<{ start: number; end: number }> {
  const ranges: Array<{ start: number; end: number }> = [];
  let next = 0;
  for (const index of [...keep, n]) {
    if (index > next) ranges.push({ start: next, end: index });
    next = index + 1;
  }
  return ranges;
}

/**
 * Units kept whole: for each token index the run it belongs to (consecutive candidates with the
 * same run form one unit), and how a run is scored from its tokens' importance.
 */
export interface SelectionUnits {
  runOf: readonly number[];
  score: 'sum' | 'max';
}

/** Text with a letter or a digit in any script. */
export const WORD = /[\p{L}\p{N}]/u;
/** Text that ends a sentence or a line: the next token starts a new unit. */
export const SENTENCE_END = /[.!?\n\u3002\uff01\uff1f]/;
/** A sentence longer than this (a table, code without punctuation) is split: one hot token should not keep a page. */
export const MAX_SENTENCE_TOKENS = 64;

/**
 * The run of each held token when sentences are the units: a run ends after a token that ends a
 * sentence, where the stream is not contiguous (an earlier round evicted between them), or at
 * `maxLength` tokens.
 */
export function sentenceRuns(origin: readonly number[], endsSentence: readonly boolean[], maxLength: number): number[] {
  const runs: number[] = [];
  let run = 0;
  let length = 0;
  for (let i = 0; i < origin.length; i++) {
    const breaks = i > 0 && (endsSentence[i - 1] || origin[i] !== origin[i - 1]! + 1 || length >= maxLength);
    if (breaks) {
      run++;
      length = 0;
    }
    runs.push(run);
    length++;
  }
  return runs;
}

/**
 * The `count` most important of `candidates` (token indices, increasing). With `units` they are
 * chosen in runs: ChunkKV's runs of N stream tokens scored by their summed importance, or
 * sentences scored by their most important token; a run is kept whole, and one that no longer
 * fits whole gives its most important tokens. Ties go to the later token or run.
 */
export function mostImportant(candidates: readonly number[], importance: Float64Array, count: number, units: SelectionUnits | null): number[] {
  const byToken = (a: number, b: number) => importance[b]! - importance[a]! || b - a;
  if (!units) return [...candidates].sort(byToken).slice(0, count);
  const runs: Array<{ tokens: number[]; score: number }> = [];
  let lastRun = -1;
  for (const i of candidates) {
    const run = units.runOf[i]!;
    if (run !== lastRun || runs.length === 0) runs.push({ tokens: [], score: units.score === 'max' ? -Infinity : 0 });
    lastRun = run;
    const current = runs[runs.length - 1]!;
    current.tokens.push(i);
    current.score = units.score === 'max' ? Math.max(current.score, importance[i]!) : current.score + importance[i]!;
  }
  runs.sort((a, b) => b.score - a.score || b.tokens[0]! - a.tokens[0]!);
  const chosen: number[] = [];
  for (const run of runs) {
    const room = count - chosen.length;
    if (room <= 0) break;
    chosen.push(...(run.tokens.length <= room ? run.tokens : [...run.tokens].sort(byToken).slice(0, room)));
  }
  return chosen;
}

/**
 * Each value as a share of the sum over [from, to) (the candidates), so slots of different scales
 * compare; a slot that gives the candidates nothing stays all zero.
 */
export function shareOf(values: Float64Array, from: number, to: number): Float64Array {
  let sum = 0;
  for (let i = Math.max(0, from); i < Math.min(values.length, to); i++) sum += values[i]!;
  return sum > 0 ? values.map((v) => v / sum) : new Float64Array(values.length);
}

/** SnapKV's pooling: each position takes the max over a window of neighbours. */
export function maxPool(values: Float64Array, kernel: number): Float64Array {
  const half = Math.floor(kernel / 2);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let max = -Infinity;
    for (let j = Math.max(0, i - half); j <= Math.min(values.length - 1, i + half); j++) max = Math.max(max, values[j]!);
    out[i] = max;
  }
  return out;
}
