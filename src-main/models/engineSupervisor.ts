// Owns the one engine process: starts it on first need, loads models into it, and notices when it
// dies so the app can say so and offer to reload the model in a fresh process.
import { modelFileHash } from './modelHash.js';
import path from 'node:path';
import { EngineClient, exitReason, type EngineHostFactory } from '../engine/engineClient.js';
import { type BuildInfo, type BuildKind, type ModelInfo } from '../../src-common/engineTypes.js';
import { EngineError } from '../../src-engine/engineError.js';
import type { EngineStatus } from '../../src-common/contract.js';
import { ModelError } from './modelError.js';
import type { ModelLoadOptions } from '../../src-common/modelLoadSettings.js';
import type { WorkerAddress } from '../../src-common/workerAddress.js';

export interface EngineSupervisorOptions {
  build?: BuildKind;
  /** Electron passes a utilityProcess host; serve and tests use the default Node fork. */
  hostFactory?: EngineHostFactory;
  /** How to load a model, asked at each load (the settings may have changed since the last). */
  loadOptions?(): ModelLoadOptions;
  /** `sift worker` processes to add as devices to each new engine process, asked at each start. */
  workers?(): WorkerAddress[];
  /** Run on each new engine process before it is used (where it saves caches); a failure is logged, not fatal. */
  prepare?(client: EngineClient): Promise<unknown>;
  onChange(): void;
}

/** Automatic restarts allowed within the window before the person is asked to act. */
const AUTO_RESTART_LIMIT = 2;
const AUTO_RESTART_WINDOW_MS = 5 * 60_000;

export class EngineSupervisor {
  status: EngineStatus = 'stopped';
  model: ModelInfo | null = null;
  error: string | null = null;
  build: BuildInfo | null = null;
  notice: string | null = null;
  /** What to load again after a crash. */
  lastLoadedPath: string | null = null;
  private client: EngineClient | null = null;
  private starting: Promise<EngineClient> | null = null;
  /** Set when the engine died with a model loaded (not while loading one): a restart may help. */
  private crashedWhileReady = false;
  /** When automatic restarts happened, to stop restarting an engine that keeps dying. */
  private automaticRestarts: number[] = [];
  /** Listed workers the running engine left out because they did not answer, one line each. */
  private workersLeftOut: string[] = [];
  /** How the last engine ended ("was killed by SIGKILL"), for the restart notice. */
  private lastExit: string | null = null;

  constructor(private readonly options: EngineSupervisorOptions) {}

  /** OS process id of the running engine (diagnostics, crash tests). */
  get enginePid(): number | undefined {
    return this.client?.alive ? this.client.pid : undefined;
  }

  /** An answer is being written (or a prompt read) in the engine now. */
  get turnRunning(): boolean {
    return this.client?.turnRunning ?? false;
  }

  /** The engine and its model, or an error a person can act on. */
  requireReady(): { client: EngineClient; model: ModelInfo } {
    if (this.status === 'crashed') {
      throw new ModelError('ENGINE_STOPPED', this.error ?? 'The engine stopped. Reload the model to continue.');
    }
    if (!this.client || !this.model || this.status !== 'ready') {
      throw new ModelError('NO_MODEL', 'No model is loaded. Open the model manager to choose one.');
    }
    return { client: this.client, model: this.model };
  }

  async load(modelPath: string, afterSwitchingVariant = false): Promise<ModelInfo> {
    if (this.status === 'loading') throw new ModelError('BUSY', 'A model is already loading.');
    const client = await this.ensureStarted();
    const previous = this.model;
    this.setStatus('loading', null);
    try {
      // the first decode runs at load, so a build this CPU cannot run is found here (firstDecode.ts)
      this.model = await client.loadModel({ ...this.options.loadOptions?.(), path: modelPath, firstDecode: true });
      this.lastLoadedPath = modelPath;
      // the model's calibration is keyed by its hash: hashed now, so auto's first turn rarely waits for it
      modelFileHash(modelPath).catch(() => undefined);
      this.setStatus('ready', null);
      return this.model;
    } catch (error) {
      // A busy engine refuses before it unloads anything: the model it had is still loaded.
      if (error instanceof EngineError && error.code === 'BUSY') {
        this.model = previous;
        this.setStatus('ready', null);
        throw error;
      }
      this.model = null;
      const message = error instanceof Error ? error.message : String(error);
      if (client.alive) {
        this.setStatus('ready', message);
        throw error;
      }
      // An illegal instruction is the build, not the file: the variant that ran it is switched off
      // (engineClient.ts) and the load is tried once more on the next best one.
      if (client.exit?.signal === 'SIGILL') {
        if (!client.restartWouldRepeat && !afterSwitchingVariant) {
          const crashedVariant = client.build.cpu.variant;
          const model = await this.load(modelPath, true);
          this.notice = [
            `The ${crashedVariant ?? 'first'} CPU code ran an instruction this processor does not run (the engine ${exitReason(client.exit)} ` +
              `at its first decode), so Sift switched it off and runs ${this.build?.cpu.variant ?? 'the next best one'}.`,
            this.notice,
          ].filter(Boolean).join(' ');
          this.options.onChange();
          return model;
        }
        const message = client.exitMessage ?? `The engine ${exitReason(client.exit)}.`;
        this.setStatus('crashed', message);
        throw new EngineError('ENGINE_CRASHED', message);
      }
      // Reloading this file would crash the engine again: say it is the file, not "reload".
      const crashed = new EngineError(
        'ENGINE_CRASHED',
        `${path.basename(modelPath)} stopped the engine while loading: it ${client.exit ? exitReason(client.exit) : message}. ` +
          'The file is probably damaged or needs a newer llama.cpp: choose another model.',
      );
      this.setStatus('crashed', crashed.message);
      throw crashed;
    }
  }

  /**
   * Ends the engine process, once no answer is being written in it, so the next use starts a new
   * one: what a changed worker list needs, since workers stay registered with a process.
   */
  async restartEngine(): Promise<void> {
    if (this.client?.turnRunning) throw new ModelError('BUSY', 'An answer is being written: change the workers once it ends.');
    const client = this.client;
    this.client = null;
    this.model = null;
    this.crashedWhileReady = false;
    await client?.close();
    this.setStatus('stopped', null);
  }

  /** After a crash: a fresh engine process with the model that was loaded before. */
  async reload(): Promise<ModelInfo | null> {
    if (this.client?.alive) await this.client.close();
    this.client = null;
    this.crashedWhileReady = false;
    this.setStatus('stopped', null);
    return this.lastLoadedPath ? this.load(this.lastLoadedPath) : null;
  }

  /** An answer completed: the engine works, so earlier automatic restarts no longer count. */
  noteAnswerCompleted(): void {
    this.automaticRestarts = [];
  }

  /**
   * Before a turn: an engine that died under an earlier answer is started again with the same
   * model, at most AUTO_RESTART_LIMIT times in AUTO_RESTART_WINDOW_MS without an answer completing
   * in between, so a file or a CPU that crashes it every time ends in a message, not a loop. Returns what to tell the person, or null
   * when nothing had to be done.
   */
  async restartAfterCrash(now = Date.now()): Promise<string | null> {
    if (this.status !== 'crashed' || !this.crashedWhileReady || !this.lastLoadedPath) return null;
    this.automaticRestarts = this.automaticRestarts.filter((at) => now - at < AUTO_RESTART_WINDOW_MS);
    if (this.automaticRestarts.length >= AUTO_RESTART_LIMIT) {
      this.crashedWhileReady = false;
      this.setStatus(
        'crashed',
        `The engine stopped again${this.lastExit ? ` (it ${this.lastExit})` : ''}: ${AUTO_RESTART_LIMIT + 1} times within ` +
          `${AUTO_RESTART_WINDOW_MS / 60_000} minutes, so Sift does not restart it by itself. Reload the model, or choose another ` +
          'model or policy. Your conversation is saved.',
      );
      return null;
    }
    this.automaticRestarts.push(now);
    const reason = this.lastExit;
    const model = await this.reload();
    return [
      `The engine stopped during an earlier answer${reason ? ` (it ${reason})` : ''}; ` +
        `Sift started it again with ${model?.name ?? path.basename(this.lastLoadedPath)} before this answer.`,
      ...this.workersLeftOut,
    ].join(' ');
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.model = null;
    this.status = 'stopped';
    await client?.close();
  }

  /** The engine process, started if it is not running (a crashed one is started afresh). */
  async engine(): Promise<EngineClient> {
    return this.ensureStarted();
  }

  private async ensureStarted(): Promise<EngineClient> {
    if (this.client?.alive) return this.client;
    if (this.starting) return this.starting;
    this.setStatus('starting', null);
    this.starting = EngineClient.start({
      build: this.options.build ?? 'patched',
      ...(this.options.hostFactory ? { host: this.options.hostFactory } : {}),
    });
    try {
      const client = await this.starting;
      // an optional step: the engine works without it (e.g. caches then stay in a temporary folder)
      await this.options.prepare?.(client).catch((err: unknown) => console.error(`sift: preparing the engine: ${String(err)}`));
      const workersLeftOut = await this.addWorkers(client);
      this.workersLeftOut = workersLeftOut;
      this.client = client;
      this.build = client.build;
      this.notice = [client.notice, ...workersLeftOut].filter(Boolean).join(' ') || null;
      client.onExit(() => this.handleCrash(client));
      this.setStatus('ready', null);
      return client;
    } catch (error) {
      this.setStatus('crashed', error instanceof Error ? error.message : String(error));
      throw error;
    } finally {
      this.starting = null;
    }
  }

  /**
   * Adds the listed workers before any model loads; the ones that do not answer (a worker that
   * died mid-turn, say) are left out, and the lines saying so become part of the engine's notice.
   */
  private async addWorkers(client: EngineClient): Promise<string[]> {
    const workers = this.options.workers?.() ?? [];
    if (workers.length === 0) return [];
    try {
      return (await client.addWorkers(workers)).skipped.map((line) => `Sift ${line}.`);
    } catch (err) {
      return [`Workers are off: ${err instanceof Error ? err.message : String(err)}.`];
    }
  }

  private handleCrash(client: EngineClient): void {
    if (this.client !== client) return; // a deliberate close or an old process
    this.client = null;
    this.crashedWhileReady = this.model !== null && !client.restartWouldRepeat;
    this.lastExit = client.exit ? exitReason(client.exit) : null;
    this.model = null;
    this.setStatus('crashed', client.exitMessage ?? 'The engine process stopped unexpectedly. Your conversation is saved; reload the model to continue.');
  }

  private setStatus(status: EngineStatus, error: string | null): void {
    this.status = status;
    this.error = error;
    this.options.onChange();
  }
}
