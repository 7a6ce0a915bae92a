// One lazy (LazyLLM) prefill as a turn runs it: on the native worker thread, with progress
// polled for the UI and Stop forwarded, and what it did as the turn's lazy metrics. Shared by
// a plain lazy turn (turnRunner.ts) and lazy+evictor's first stage (lazyEvictionStage.ts).
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { Llama } from 'node-llama-cpp';
import {
  cancelPrefill,
  clearNativeSequence,
  isPrefillCancelled,
  lazyPrefill,
  readPrefillProgress,
  type LazyPrefillStats,
  type LazySchedule,
} from './siftNative.js';
import type { LazyTurnMetrics, TurnEvent } from '../src-common/engineTypes.js';
import { lazyLayerProgress } from './lazyLayerProgress.js';

export interface LazyTurn {
  schedule: LazySchedule;
  revive: boolean;
}

/** The prefill, polled 10 times a second for progress; null when Stop cancelled it (the sequence is then empty). */
export async function runLazyPrefill(
  llama: Llama,
  sequence: LlamaContextSequence,
  lazy: LazyTurn,
  prompt: readonly Token[],
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<LazyPrefillStats | null> {
  const layers = sequence.model.fileInsights.totalLayers - 1;
  const report = () => {
    const fraction = readPrefillProgress(llama, sequence.context);
    // the native counter says how far each layer has got (the chart shows the pruning as it happens)
    const live = { layers: lazyLayerProgress(lazy.schedule, prompt.length, layers, fraction) };
    onEvent({ type: 'progress', phase: 'prefill', done: Math.floor(fraction * prompt.length), total: prompt.length, live });
  };
  const timer = setInterval(report, 100);
  const cancel = () => cancelPrefill(llama, sequence.context);
  signal.addEventListener('abort', cancel);
  try {
    if (signal.aborted) return null;
    return await lazyPrefill(llama, sequence, prompt, { ...lazy.schedule, keepMasked: !lazy.revive });
  } catch (error) {
    if (!isPrefillCancelled(error)) throw error;
    // node-llama-cpp never learned of the cells the stopped prefill filled
    clearNativeSequence(sequence);
    return null;
  } finally {
    clearInterval(timer);
    signal.removeEventListener('abort', cancel);
  }
}

/** The turn's lazy metrics from the schedule and the native statistics (nothing revived yet). */
export function lazyTurnMetrics(lazy: LazyTurn, stats: LazyPrefillStats): LazyTurnMetrics {
  return {
    pruneLayers: lazy.schedule.pruneLayers,
    keep: lazy.schedule.keep,
    pool: lazy.schedule.pool ?? 1,
    scoreFrom: lazy.schedule.scoreFrom ?? -1,
    span: lazy.schedule.span ?? 0,
    obsWindow: lazy.schedule.obsWindow,
    segments: stats.segments,
    pruned: stats.pruned,
    auxBytes: stats.auxBytes,
    revived: 0,
    reviveMs: 0,
  };
}
