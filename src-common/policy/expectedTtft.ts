// The time to first token a turn can expect on this machine: the prefill arithmetic the turn needs
// (flops.ts, from the model's shape, the tokens to read and the policy's lazy schedule) divided by
// the arithmetic rate this machine reached on earlier plain prefills of the same model and build.
// Counting arithmetic rather than tokens carries a rate measured on a short prompt over to a long
// one: attention grows with the square of the length. Pure: the renderer imports it.
import { causalMeanKeys, prefillFlops, stockLayerWork, trimmedLayerWork, type ModelShape } from './flops.js';
import { resolveLazySchedule } from './lazy.js';
import type { KvPolicy, LazyPolicy } from './spec.js';

/**
 * One plain prefill measured on this machine: the prompt's tokens, how many of them the cache
 * already held (a follow-up, or the system prompt a new chat shares with the last one), and the
 * time to first token.
 */
export interface PrefillSample {
  tokens: number;
  cachedTokens: number;
  ttftMs: number;
}

/** Reads shorter than this are mostly fixed cost (rendering, sampling, the engine's round trip): not a rate. */
export const MIN_SAMPLE_TOKENS = 256;

export interface PrefillRate {
  /** FLOPs per millisecond: the median over the samples, so one turn slowed by another program does not rule. */
  flopsPerMs: number;
  samples: number;
}

export function prefillRate(shape: ModelShape, samples: readonly PrefillSample[]): PrefillRate | null {
  const rates = samples
    .filter((s) => s.tokens - s.cachedTokens >= MIN_SAMPLE_TOKENS && s.ttftMs > 0)
    .map((s) => turnPrefillFlops(shape, s.tokens, s.cachedTokens, null) / s.ttftMs)
    .sort((a, b) => a - b);
  if (rates.length === 0) return null;
  const mid = Math.floor(rates.length / 2);
  const median = rates.length % 2 === 1 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
  return { flopsPerMs: median, samples: rates.length };
}

/**
 * Arithmetic of reading `promptTokens` after `cachedTokens` already in the cache: each new row
 * attends to every earlier position, so it is the whole prompt's causal triangle less the cached
 * part's. A lazy prefill (only when nothing is reused: a follow-up reads plainly) computes fewer
 * rows in its deeper layers.
 */
export function turnPrefillFlops(shape: ModelShape, promptTokens: number, cachedTokens: number, lazy: LazyPolicy | null): number {
  const toRead = Math.max(0, promptTokens - cachedTokens);
  if (toRead === 0) return 0;
  if (lazy && cachedTokens === 0) {
    const schedule = resolveLazySchedule(lazy, shape.layers);
    const points = schedule.pruneLayers.map((layer, i) => ({ layer, keep: schedule.keep[i] ?? 1 }));
    return prefillFlops(shape, trimmedLayerWork(shape, promptTokens, { points, alwaysKept: lazy.sink + lazy.recent }));
  }
  const whole = prefillFlops(shape, stockLayerWork(shape, promptTokens));
  if (cachedTokens === 0) return whole;
  const cached = prefillFlops(shape, Array.from({ length: shape.layers }, () => ({ rows: cachedTokens, meanKeys: causalMeanKeys(cachedTokens) })));
  return whole - cached;
}

/** How the model is loaded, as far as it sets the prefill rate: on a GPU or not, CPU threads, flash attention. */
export interface LoadedAs {
  onGpu: boolean;
  threads: number;
  flashAttention: boolean;
}

/** The key prefill samples are kept under: a rate counts only for the same load settings. */
export function loadKeyOf(loaded: LoadedAs): string {
  return `${loaded.onGpu ? 'gpu' : 'cpu'}:t${loaded.threads}:fa${loaded.flashAttention ? 1 : 0}`;
}

export interface ExpectedTtft {
  ms: number;
  /** One line: where the figure comes from, for a tooltip or the CLI. */
  basis: string;
}

/**
 * Null without a measured rate; and on a GPU for a lazy prefill or an evictor: there the arithmetic
 * they save did not turn into time (measured on an H200: lazy prefill 0.5x of stock's speed,
 * eviction rounds of host time; docs/NATIVE.md), so a rate from plain prefills would promise too much.
 */
export function expectedTtft(
  shape: ModelShape,
  rate: PrefillRate | null,
  promptTokens: number,
  cachedTokens: number,
  policy: Pick<KvPolicy, 'lazy' | 'eviction'>,
  onGpu = false,
): ExpectedTtft | null {
  if (!rate) return null;
  const lazy = cachedTokens === 0 ? policy.lazy : null;
  if (onGpu && (lazy || policy.eviction)) return null;
  const ms = Math.round(turnPrefillFlops(shape, promptTokens, cachedTokens, lazy) / rate.flopsPerMs);
  const turns = `${rate.samples} plain prefill${rate.samples === 1 ? '' : 's'} of this model on this machine${onGpu ? ' (on the GPU)' : ''}, loaded as now`;
  const what = lazy ? "the lazy schedule's arithmetic" : cachedTokens > 0 ? 'the arithmetic of the tokens still to read' : "the prefill's arithmetic";
  // an evictor's rounds during the prefill cost time the arithmetic leaves out (docs/BENCHMARKS.md)
  const rounds = policy.eviction ? '; eviction rounds not counted' : '';
  return { ms, basis: `${what} at the rate of the last ${turns}${rounds}` };
}
