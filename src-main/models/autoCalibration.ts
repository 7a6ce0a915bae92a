// Calibrates a loaded model once, by itself, when nothing tells auto how its lossy policies do
// (no frontier measured here and none shipped): a short quiet time after the load, then in the
// background (modelCalibrator.ts pauses it while an answer is written). A model whose automatic
// calibration was cancelled or failed is not started again on its own; the person can still
// press Calibrate, and turning the setting off stops new ones. It does not start by itself where
// its second engine would compete for memory the chat needs (layers on a GPU: a second copy of
// them; little free RAM), and says why in the settings (`note`).
import type { CalibrationState } from '../../src-common/contract.js';
import { formatBytes } from '../../src-common/format.js';
import type { AutoCalibrationStore } from './autoCalibrationStore.js';
import type { FrontierSource } from './modelFrontiers.js';

/** Quiet time after a load: the first question usually follows it, and calibrating would slow it. */
export const DEFAULT_CALIBRATION_DELAY_MS = 20_000;
/** Free RAM below which it does not start by itself: its engine's context and compute buffers come on top of the chat's. */
export const MIN_FREE_RAM_BYTES = 1024 ** 3;

/** Where the loaded model runs, as far as a second engine's memory goes. */
export interface Placement {
  /** Layers offloaded to a GPU (the calibration's engine would load its own copy of them). */
  offloadedLayers: number;
  freeRamBytes: number;
}

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
  placement(): Placement;
  /** The note changed (the settings show it). */
  onNote?(note: string | null): void;
  delayMs?: number;
  /** Why a check did not start one, for the log. */
  log?(line: string): void;
}

export class AutoCalibration {
  private timer: NodeJS.Timeout | null = null;
  /** The loaded model last looked at: each load is considered once. */
  private considered: string | null = null;
  private currentNote: string | null = null;
  private closed = false;

  constructor(private readonly options: AutoCalibrationOptions) {}

  /** Why the loaded model is not being calibrated by itself, when that is so; null otherwise. */
  note(): string | null {
    return this.currentNote;
  }

  private setNote(note: string | null): void {
    if (note === this.currentNote) return;
    this.currentNote = note;
    this.options.onNote?.(note);
  }

  /** Called on every engine change; a newly ready model is considered after the quiet time. */
  engineChanged(ready: boolean, modelPath: string | null): void {
    if (!ready || !modelPath) {
      // a reload of the same file after a crash is a new load: considered again
      this.stopTimer();
      this.considered = null;
      this.setNote(null);
      return;
    }
    if (modelPath === this.considered) return;
    this.considered = modelPath;
    this.setNote(null);
    this.arm(modelPath);
  }

  /** The person turned the setting on: the loaded model is considered again. */
  enabledChanged(enabled: boolean): void {
    this.setNote(null);
    if (enabled && this.considered) this.arm(this.considered);
    else this.stopTimer();
  }

  /** An automatic calibration cancelled or failed: not started on its own again for that model. */
  async calibrationChanged(state: CalibrationState): Promise<void> {
    // the app quitting cancels a run too: that is not the person declining it
    if (this.closed || !state.automatic || (state.status !== 'cancelled' && state.status !== 'failed')) return;
    try {
      this.options.store.decline(await this.options.hash(state.modelPath));
    } catch {
      // the file is gone: nothing to remember it by
    }
  }

  /** Before the app cancels a running calibration on its way out. */
  close(): void {
    this.closed = true;
    this.stopTimer();
    this.considered = null;
    this.currentNote = null;
  }

  private reasonNotTo(modelHash: string): string | null {
    if (this.options.store.declined(modelHash)) return 'its last automatic calibration was cancelled or failed';
    const { offloadedLayers, freeRamBytes } = this.options.placement();
    if (offloadedLayers > 0) return `${offloadedLayers} of its layers run on the GPU, and calibrating loads a second copy of them beside the chat's`;
    if (freeRamBytes < MIN_FREE_RAM_BYTES) return `only ${formatBytes(freeRamBytes)} of RAM is free, and calibrating runs a second engine beside the chat's (it starts by itself from ${formatBytes(MIN_FREE_RAM_BYTES)})`;
    return null;
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
      if ((await frontiers.forModel(modelPath)).length > 0) return;
      // the model may have changed, or a calibration started, while the file was hashed
      if (this.considered !== modelPath || calibrator.state()?.status === 'running') return;
      const reason = this.reasonNotTo(hash);
      if (reason) {
        this.setNote(`Not calibrated by itself: ${reason}. Calibrate it with the button when that suits you.`);
        return log(`not calibrating ${modelPath} by itself: ${reason}`);
      }
      calibrator.start(modelPath, { automatic: true });
    } catch (error) {
      log(`not calibrating ${modelPath} by itself: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
