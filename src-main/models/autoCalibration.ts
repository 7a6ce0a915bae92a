// Calibrates a loaded model once, by itself, when nothing tells auto how its lossy policies do
// (no frontier measured here and none shipped): a short quiet time after the load, then in the
// background (modelCalibrator.ts pauses it while an answer is written). A model whose automatic
// calibration was cancelled or failed is not started again on its own; the person can still
// press Calibrate, and turning the setting off stops new ones.
import type { CalibrationState } from '../../src-common/contract.js';
import type { AutoCalibrationStore } from './autoCalibrationStore.js';
import type { FrontierSource } from './modelFrontiers.js';

/** Quiet time after a load: the first question usually follows it, and calibrating would slow it. */
export const DEFAULT_CALIBRATION_DELAY_MS = 20_000;

export interface AutoCalibrationOptions {
  store: Pick<AutoCalibrationStore, 'enabled' | 'declined' | 'decline'>;
  calibrator: {
    state(): CalibrationState | null;
    start(modelPath: string, how: { automatic: boolean }): CalibrationState;
  };
  frontiers: FrontierSource;
  /** The model file's sha256 (modelHash.ts). */
  hash(modelPath: string): Promise<string>;
  /** An answer is being written in the chat's engine: start after it. */
  chatBusy(): boolean;
  delayMs?: number;
  /** Why a check did not start one, for the log. */
  log?(line: string): void;
}

export class AutoCalibration {
  private timer: NodeJS.Timeout | null = null;
  /** The loaded model last looked at: each load is considered once. */
  private considered: string | null = null;

  constructor(private readonly options: AutoCalibrationOptions) {}

  /** Called on every engine change; a newly ready model is considered after the quiet time. */
  engineChanged(ready: boolean, modelPath: string | null): void {
    if (!ready || !modelPath) {
      // a reload of the same file after a crash is a new load: considered again
      this.stopTimer();
      this.considered = null;
      return;
    }
    if (modelPath === this.considered) return;
    this.considered = modelPath;
    this.arm(modelPath);
  }

  /** The person turned the setting on: the loaded model is considered again. */
  enabledChanged(enabled: boolean): void {
    if (enabled && this.considered) this.arm(this.considered);
    else this.stopTimer();
  }

  /** An automatic calibration cancelled or failed: not started on its own again for that model. */
  async calibrationChanged(state: CalibrationState): Promise<void> {
    if (!state.automatic || (state.status !== 'cancelled' && state.status !== 'failed')) return;
    try {
      this.options.store.decline(await this.options.hash(state.modelPath));
    } catch {
      // the file is gone: nothing to remember it by
    }
  }

  close(): void {
    this.stopTimer();
    this.considered = null;
  }

  private arm(modelPath: string): void {
    this.stopTimer();
    this.timer = setTimeout(() => void this.consider(modelPath), this.options.delayMs ?? DEFAULT_CALIBRATION_DELAY_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async consider(modelPath: string): Promise<void> {
    this.timer = null;
    const { store, calibrator, frontiers, log = () => {} } = this.options;
    if (this.considered !== modelPath || !store.enabled()) return;
    if (this.options.chatBusy() || calibrator.state()?.status === 'running') {
      this.arm(modelPath);
      return;
    }
    try {
      const hash = await this.options.hash(modelPath);
      if (store.declined(hash)) return log(`not calibrating ${modelPath} by itself: its last automatic calibration was cancelled or failed`);
      if (await frontiers.forModel(modelPath)) return;
      // the model may have changed, or a calibration started, while the file was hashed
      if (this.considered !== modelPath || calibrator.state()?.status === 'running') return;
      calibrator.start(modelPath, { automatic: true });
    } catch (error) {
      log(`not calibrating ${modelPath} by itself: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
