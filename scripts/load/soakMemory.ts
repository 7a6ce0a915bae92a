// Judges the soak's RSS samples: memory is "stable" when, after a warm-up (the model mapped in,
// caches and allocator pools filled), RSS grows no faster than a limit. The slope is a least-squares
// fit over every sample after the warm-up, so one spike does not decide it.
import { linearSlope } from './timings.js';

export interface RssSample {
  /** Milliseconds since the soak's first round. */
  atMs: number;
  serve: number | null;
  engine: number | null;
  enginePid: number | null;
}

export interface ProcessMemory {
  process: 'sift serve' | 'engine';
  /** MiB: the first sample after the warm-up, the largest after it, and the last. */
  startMiB: number;
  maxMiB: number;
  endMiB: number;
  slopeMiBPerHour: number;
  samples: number;
}

export interface MemoryVerdict {
  processes: ProcessMemory[];
  warmupMs: number;
  /** False when the window after the warm-up is too short for a slope to mean anything. */
  judged: boolean;
  /** Processes whose slope is over the limit (only when judged). */
  growing: string[];
}

/** Below this window a slope extrapolates minutes of noise to an hour. */
export const MIN_JUDGED_WINDOW_MS = 20 * 60_000;

const MIB = 1024 * 1024;

export function judgeMemory(samples: readonly RssSample[], warmupMs: number, limitMiBPerHour: number): MemoryVerdict {
  const after = samples.filter((s) => s.atMs >= warmupMs);
  const windowMs = after.length > 1 ? after.at(-1)!.atMs - after[0]!.atMs : 0;
  const judged = windowMs >= MIN_JUDGED_WINDOW_MS;
  const processes: ProcessMemory[] = [];
  for (const name of ['sift serve', 'engine'] as const) {
    const points = after.flatMap((s) => {
      const bytes = name === 'sift serve' ? s.serve : s.engine;
      return bytes === null ? [] : [{ x: s.atMs / 3_600_000, y: bytes / MIB }];
    });
    if (points.length === 0) continue;
    processes.push({
      process: name,
      startMiB: points[0]!.y,
      maxMiB: Math.max(...points.map((p) => p.y)),
      endMiB: points.at(-1)!.y,
      slopeMiBPerHour: linearSlope(points),
      samples: points.length,
    });
  }
  const growing = judged ? processes.filter((p) => p.slopeMiBPerHour > limitMiBPerHour).map((p) => p.process) : [];
  return { processes, warmupMs, judged, growing };
}
