// The model manager's back end: known models with their GGUF insights, loading one into the
// engine, remembering it, and downloads. Every change is pushed as one ModelState event.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CalibrationState, DownloadState, KnownModel, ModelInsights, ModelState } from '../../src-common/contract.js';
import type { EngineSupervisor } from './engineSupervisor.js';
import type { KnownModels } from './knownModels.js';
import { inspectModel } from './modelInspector.js';
import { ModelDownloads } from './modelDownloads.js';
import { ModelError } from './modelError.js';
import type { ModelLoadSettingsStore } from './modelLoadSettingsStore.js';
import type { WorkerListStore } from './workerListStore.js';
import type { ModelLoadSettings } from '../../src-common/modelLoadSettings.js';
import { EngineError } from '../../src-engine/engineError.js';

export interface ModelManagerOptions {
  supervisor: EngineSupervisor;
  known: KnownModels;
  loadSettings: ModelLoadSettingsStore;
  workers: WorkerListStore;
  /** The app's running or last calibration (modelCalibrator.ts). */
  calibration?: () => CalibrationState | null;
  /** Settings → Calibration: calibrate models with no frontier by itself (autoCalibrationStore.ts). */
  autoCalibrate?: () => boolean;
  /** Why the loaded model is not being calibrated by itself (autoCalibration.ts); null when it is, or need not be. */
  autoCalibrationNote?: () => string | null;
  downloadDir: string;
  emitState(state: ModelState): void;
  emitDownload(download: DownloadState): void;
}

export class ModelManager {
  readonly downloads: ModelDownloads;
  /** Insights are read once per file; a GGUF header does not change under the same path. */
  private readonly insights = new Map<string, ModelInsights>();
  private readonly problems = new Map<string, string>();

  constructor(private readonly options: ModelManagerOptions) {
    this.downloads = new ModelDownloads({
      dirPath: options.downloadDir,
      onProgress: (download) => options.emitDownload(download),
      onFinished: (download) => void this.downloadFinished(download),
    });
  }

  state(): ModelState {
    const { supervisor, known } = this.options;
    return {
      engine: supervisor.status,
      build: supervisor.build,
      notice: supervisor.notice,
      current: supervisor.model,
      lastModelPath: known.last(),
      known: known.list().map((entry): KnownModel => ({
        ...entry,
        insights: this.insights.get(entry.path) ?? null,
        problem: existsSync(entry.path) ? (this.problems.get(entry.path) ?? null) : 'The file is no longer there.',
      })),
      downloads: this.downloads.list(),
      error: supervisor.error,
      loadSettings: this.options.loadSettings.get(),
      cpuCores: Math.max(1, os.availableParallelism()),
      workers: this.options.workers.get(),
      calibration: this.options.calibration?.() ?? null,
      autoCalibrate: this.options.autoCalibrate?.() ?? false,
      autoCalibrationNote: this.options.autoCalibrationNote?.() ?? null,
    };
  }

  /** A model file this app knows (listed, or loaded now), as an absolute path; anything else is refused. */
  knownPath(modelPath: string): string {
    const absolute = path.resolve(modelPath);
    const known = this.options.known.list().some((entry) => path.resolve(entry.path) === absolute);
    const loaded = this.options.supervisor.model?.path;
    if (!known && (!loaded || path.resolve(loaded) !== absolute)) throw new ModelError('NOT_FOUND', `${modelPath} is not one of this app's models: add it first.`);
    return absolute;
  }

  publish(): void {
    this.options.emitState(this.state());
  }

  async inspect(modelPath: string): Promise<ModelInsights> {
    const absolute = path.resolve(modelPath);
    const cached = this.insights.get(absolute);
    if (cached) return cached;
    const insights = await inspectModel(absolute);
    this.insights.set(absolute, insights);
    return insights;
  }

  async add(modelPath: string): Promise<ModelState> {
    const insights = await this.inspect(modelPath);
    this.options.known.add(insights.path, insights.name);
    this.publish();
    return this.state();
  }

  forget(modelPath: string): ModelState {
    this.options.known.forget(path.resolve(modelPath));
    this.publish();
    return this.state();
  }

  async load(modelPath: string): Promise<ModelState> {
    const insights = await this.inspect(modelPath);
    this.options.known.add(insights.path, insights.name);
    try {
      await this.options.supervisor.load(insights.path);
      this.problems.delete(insights.path);
      this.options.known.remember(insights.path);
    } catch (error) {
      this.problems.set(insights.path, error instanceof Error ? error.message : String(error));
      this.publish();
      throw error;
    }
    this.publish();
    return this.state();
  }

  async reload(): Promise<ModelState> {
    await this.options.supervisor.reload();
    this.publish();
    return this.state();
  }

  /**
   * Changes how models load and loads the current one again with it. A load that fails under the
   * new settings (too many GPU layers for the free VRAM, say) puts the previous ones back and
   * loads with those, and the error says so; an answer being written refuses the change.
   */
  async setLoadSettings(patch: Partial<ModelLoadSettings>): Promise<ModelState> {
    const { supervisor, loadSettings } = this.options;
    const previous = loadSettings.get();
    loadSettings.update(patch);
    const modelPath = supervisor.status === 'ready' && supervisor.model ? supervisor.model.path : null;
    if (modelPath) {
      try {
        await supervisor.load(modelPath);
      } catch (error) {
        loadSettings.replace(previous);
        if (error instanceof EngineError && error.code === 'BUSY') {
          throw new ModelError('BUSY', 'An answer is being written: change how the model loads once it ends.');
        }
        const reason = error instanceof Error ? error.message : String(error);
        await supervisor.load(modelPath).catch(() => undefined);
        this.publish();
        throw new ModelError('LOAD_SETTINGS', `The model did not load with these settings (${reason}); the previous settings are back.`);
      }
    }
    this.publish();
    return this.state();
  }

  /**
   * Replaces the worker list. Registered workers stay with an engine process for its life, so the
   * engine starts again with the new list and loads the current model (its split follows).
   */
  async setWorkers(workers: readonly string[]): Promise<ModelState> {
    const { supervisor } = this.options;
    if (supervisor.status === 'loading') throw new ModelError('BUSY', 'A model is loading: change the workers once it has.');
    this.options.workers.set(workers);
    const modelPath = supervisor.model?.path ?? null;
    await supervisor.restartEngine();
    if (modelPath) {
      await supervisor.load(modelPath).catch((error: unknown) => {
        this.problems.set(modelPath, error instanceof Error ? error.message : String(error));
      });
    }
    this.publish();
    return this.state();
  }

  /** At start: load the model used last time, if it is still there. Failures only show in state. */
  async restoreLast(): Promise<void> {
    const last = this.options.known.last();
    if (!last || !existsSync(last)) return;
    await this.load(last).catch(() => undefined);
  }

  private async downloadFinished(download: DownloadState): Promise<void> {
    this.options.emitDownload(download);
    // a finished file joins the list; one that cannot be read still shows up with its problem
    if (download.status === 'done' && download.path) {
      await this.add(download.path).catch((error: unknown) => {
        this.options.known.add(download.path as string);
        this.problems.set(download.path as string, error instanceof Error ? error.message : String(error));
      });
    }
    this.publish();
  }
}
