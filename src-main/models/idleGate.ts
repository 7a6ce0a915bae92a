// A calibration's engine whose turns and probes each wait for a condition first (the chat's
// engine not writing an answer): the person's turn keeps the cores, and calibration times are
// not measured against a competing prefill. A call already started runs to its end.
import type { RunningTurn } from '../engine/engineClient.js';
import type { CalibrationEngine } from './layerCalibration.js';

export function idleGated(engine: CalibrationEngine, waitForIdle: () => Promise<void>): CalibrationEngine {
  return {
    probeAttention: async (request) => {
      await waitForIdle();
      return engine.probeAttention(request);
    },
    runTurn: (request, onEvent): RunningTurn => ({ turnId: -1, result: waitForIdle().then(() => engine.runTurn(request, onEvent).result) }),
    probeLogits: async (request) => {
      await waitForIdle();
      return engine.probeLogits(request);
    },
  };
}

/** Resolves once `busy` is false or `stop` is true, checking every `pollMs`. */
export async function whileBusy(busy: () => boolean, stop: () => boolean, pollMs = 250): Promise<void> {
  while (busy() && !stop()) await new Promise((resolve) => setTimeout(resolve, pollMs));
}
