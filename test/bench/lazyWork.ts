// How much arithmetic a row's prefill needs relative to stock: the FLOP-ratio limit of its lazy
// schedule, and the ratio of the work the engine says it did (from its per-layer statistics).
import {
  flopRatioLimit,
  prefillFlops,
  stockLayerWork,
  type LayerWork,
  type LazySchedule,
  type ModelShape,
} from '../../src-common/policy/flops.js';
import { parsePolicyParts } from '../../src-common/policy/spec.js';

/** The schedule a lazy turn reports it ran (engine metrics `lazy`: the resolved default for a bare `lazy`). */
export interface ReportedSchedule {
  pruneLayers: number[];
  keep: number[];
}

function lazyPart(policy: string): Record<string, string> | null {
  try {
    return parsePolicyParts(policy).find((p) => p.name === 'lazy')?.params ?? null;
  } catch {
    return null;
  }
}

/** True when a policy prunes prefill (only these rows get a FLOP limit other than 1). */
export function isLazyPolicy(policy: string): boolean {
  return lazyPart(policy) !== null;
}

function toSchedule(layers: number[], keeps: number[], alwaysKept: number): LazySchedule | null {
  if (layers.length !== keeps.length || [...layers, ...keeps].some((n) => !Number.isFinite(n))) return null;
  return { points: layers.map((layer, i) => ({ layer, keep: keeps[i] as number })), alwaysKept };
}

/**
 * The schedule in a policy spec such as lazy:at=4/12/20,keep=0.5/0.3/0.2,sink=4,recent=16 (the
 * engine's grammar: `at` is the first layer computed for the kept tokens). Null for a bare `lazy`,
 * whose schedule is the engine's default for the model.
 */
export function lazyScheduleOf(policy: string): LazySchedule | null {
  const params = lazyPart(policy);
  if (!params || params['at'] === undefined || params['keep'] === undefined) return null;
  return toSchedule(params['at'].split('/').map(Number), params['keep'].split('/').map(Number), alwaysKeptOf(params));
}

/** Sinks and last tokens are never pruned: a floor on the kept count (only matters for short prompts). */
function alwaysKeptOf(params: Record<string, string>): number {
  const count = (key: string) => (params[key] !== undefined && Number.isFinite(Number(params[key])) ? Number(params[key]) : 0);
  return Math.max(1, count('sink') + count('recent'));
}

/**
 * Stock FLOPs / schedule FLOPs; 1 for a row that does not prune; null when the schedule is not
 * known (a bare `lazy` on an engine that does not report the schedule it ran).
 */
export function rowFlopLimit(shape: ModelShape, promptTokens: number, policy: string, reported: ReportedSchedule | null): number | null {
  const params = lazyPart(policy);
  if (!params) return 1;
  const schedule = lazyScheduleOf(policy) ?? (reported ? toSchedule(reported.pruneLayers, reported.keep, alwaysKeptOf(params)) : null);
  return schedule ? flopRatioLimit(shape, promptTokens, schedule) : null;
}

/**
 * Per-layer work from the engine's statistics: `computed` rows and `keys`, the mean number of keys
 * a computed row's attention spanned (its ubatch's causal range, padded to 256 as llama.cpp pads
 * it; after a prune point, among the gathered kept tokens only). Null until the engine reports both
 * (older engines report neither, or rows only).
 */
export function workFromLayerStats(perLayer: readonly object[], layers: number): LayerWork[] | null {
  if (perLayer.length !== layers) return null;
  const work: LayerWork[] = [];
  for (const entry of perLayer) {
    const stats = entry as { computed?: unknown; keys?: unknown };
    if (typeof stats.computed !== 'number' || typeof stats.keys !== 'number') return null;
    work.push({ rows: stats.computed, meanKeys: stats.keys });
  }
  return work;
}

/** Stock FLOPs / the FLOPs the engine reports doing; null until it reports rows and keys per layer. */
export function measuredWorkRatio(shape: ModelShape, promptTokens: number, perLayer: readonly object[]): number | null {
  const work = workFromLayerStats(perLayer, shape.layers);
  if (!work) return null;
  return prefillFlops(shape, stockLayerWork(shape, promptTokens)) / prefillFlops(shape, work);
}
