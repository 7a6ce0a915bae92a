// Turn metrics the engine is growing (issue 4: `lazy` statistics and `notice`; issue 5:
// `kvBytesPeak`), read defensively in one place: the harness runs on engines with and without
// them, and lights the matching columns up when they appear.
import type { TurnMetrics } from '../../src-main/engine/types.js';
import type { ReportedSchedule } from './lazyWork.js';

export interface EngineExtras {
  /** Why a requested policy did not fully apply (e.g. an architecture without lazy prefill). */
  notice: string | null;
  /** The lazy schedule the turn ran, with what it pruned; null when the turn was not lazy. */
  lazy: (ReportedSchedule & { pruned: number | null; revived: number | null; reviveMs: number | null }) | null;
  kvBytesPeak: number | null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function numberList(value: unknown): number[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === 'number') ? (value as number[]) : null;
}

export function engineExtras(metrics: TurnMetrics): EngineExtras {
  const grown = metrics as TurnMetrics & { notice?: unknown; lazy?: unknown; kvBytesPeak?: unknown };
  const lazy = grown.lazy as { pruneLayers?: unknown; keep?: unknown; pruned?: unknown; revived?: unknown; reviveMs?: unknown } | null | undefined;
  const pruneLayers = numberList(lazy?.pruneLayers);
  const keep = numberList(lazy?.keep);
  return {
    notice: typeof grown.notice === 'string' && grown.notice !== '' ? grown.notice : null,
    lazy:
      pruneLayers && keep
        ? { pruneLayers, keep, pruned: numberOrNull(lazy?.pruned), revived: numberOrNull(lazy?.revived), reviveMs: numberOrNull(lazy?.reviveMs) }
        : null,
    kvBytesPeak: numberOrNull(grown.kvBytesPeak),
  };
}
