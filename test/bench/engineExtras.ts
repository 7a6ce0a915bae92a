// The turn metrics beyond timing that the report reads, in one place: lazy prefill (issue 4),
// KV bytes, eviction and SimLayerKV's trimmed layers (issue 5). Stored with each sample, so the
// stock cache keeps them too.
import type { EvictionTurnMetrics, TurnMetrics } from '../../src-common/engineTypes.js';
import type { ReportedSchedule } from './lazyWork.js';

export interface EngineExtras {
  /** Why a requested policy did not fully apply (e.g. an architecture without lazy prefill). */
  notice: string | null;
  /** The lazy schedule the turn ran, with what it pruned; null when the turn was not lazy. */
  lazy: (ReportedSchedule & { pruned: number | null; revived: number | null; reviveMs: number | null }) | null;
  /** KV bytes the backend allocated (llama_get_memory_breakdown): the most during the turn, and after it. */
  kvBytesPeak: number | null;
  kvBytesSteady: number | null;
  /** What eviction did (VATP and the baselines); null when the turn kept every token. */
  eviction: EvictionTurnMetrics | null;
  /** The context the turn ran in (an eviction budget sizes it to the budget plus one prefill chunk). */
  contextSize: number;
  /** SimLayerKV: the layers that kept only sinks and a recent window. */
  trimmedLayers: number[];
}

export function engineExtras(metrics: TurnMetrics): EngineExtras {
  const lazy = metrics.lazy;
  return {
    notice: metrics.notice !== null && metrics.notice !== '' ? metrics.notice : null,
    lazy: lazy ? { pruneLayers: lazy.pruneLayers, keep: lazy.keep, pruned: lazy.pruned, revived: lazy.revived, reviveMs: lazy.reviveMs } : null,
    kvBytesPeak: metrics.kvBytesPeak,
    kvBytesSteady: metrics.kvBytesSteady,
    eviction: metrics.eviction ? { ...metrics.eviction } : null,
    contextSize: metrics.contextSize,
    trimmedLayers: metrics.perLayer.filter((layer) => layer.trimmed === true).map((layer) => layer.layer),
  };
}
