// The app side of the engine: starts an engine process for one build, sends it requests, and turns
// a dead process into an ENGINE_CRASHED error for every call that was waiting, so a native crash
// is something the app reports, never something that takes it down.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { LoadModelOptions } from '../../src-engine/engine.js';
import type { SavedKvAction } from '../../src-engine/savedConversations.js';
import type { AttentionProbeRequest, AttentionProbeResult } from '../../src-engine/attentionProbe.js';
import type { LazyPrefillRequest, LazyPrefillResult } from '../../src-engine/lazyPrefillProbe.js';
import type { LogitsProbeRequest, LogitsProbeResult } from '../../src-engine/forcedLogits.js';
import type { EngineMessage, EngineRequest, EngineResultMap, TurnResult } from '../../src-engine/protocol.js';
import { disableCpuVariant, variantToDisable } from '../../src-engine/cpuVariants.js';
import type { EnginePreview } from '../../src-common/contract.js';
import { type BuildInfo, type BuildKind, type DryRunResult, type ModelInfo, type SavedKvState, type TurnEvent, type TurnRequest } from '../../src-common/engineTypes.js';
import { EngineError } from '../../src-engine/engineError.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import type { AddedWorkers } from '../../src-engine/rpcWorkers.js';
import type { WorkerAddress } from '../../src-common/workerAddress.js';

export interface EngineExit {
  code: number | null;
  signal: string | null;
  /** The last lines the process wrote to stderr, for the crash report. */
  stderrTail: string;
}

/** A started engine process, however it was started (Node fork, Electron utilityProcess). */
export interface EngineHost {
  send(message: EngineRequest): void;
  onMessage(handler: (message: EngineMessage) => void): void;
  onExit(handler: (exit: EngineExit) => void): void;
  kill(): void;
  /** OS process id, when the host knows it. */
  readonly pid: number | undefined;
}

export type EngineHostFactory = (build: BuildKind) => EngineHost;

const STDERR_TAIL_BYTES = 4096;

/** The engine entry: src-engine/engineProcess.ts when run through tsx, the bundle's .js once built. */
function defaultEntry(): { entry: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    return { entry: path.resolve(path.dirname(self), '../../src-engine/engineProcess.ts'), execArgv: ['--import', 'tsx'] };
  }
  return { entry: self.replace(/engineClient\.js$/, 'engineProcess.js'), execArgv: [] };
}

export function forkEngineHost(options: { entry?: string; execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): EngineHostFactory {
  return (build) => {
    const fallback = defaultEntry();
    const child = fork(options.entry ?? fallback.entry, ['--build', build], {
      execArgv: options.execArgv ?? fallback.execArgv,
      env: options.env ?? process.env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    return {
      send: (message) => {
        if (child.connected) child.send(message);
      },
      onMessage: (handler) => child.on('message', (m) => handler(m as EngineMessage)),
      onExit: (handler) => child.on('exit', (code, signal) => handler({ code, signal, stderrTail })),
      kill: () => child.kill('SIGKILL'),
      pid: child.pid,
    };
  };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onEvent?: (event: TurnEvent) => void;
}

export interface RunningTurn {
  turnId: number;
  result: Promise<TurnResult>;
}

/** How the engine process ended, with the last lines it printed: "was killed by SIGABRT (…)". */
export function exitReason(exit: EngineExit): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const tail = exit.stderrTail.trim().split('\n').slice(-3).join(' | ');
  return `${how}${tail ? ` (${tail})` : ''}`;
}

/**
 * What a person reads when the engine process ends. SIGILL means the engine ran an instruction this
 * CPU does not run: in a build with CPU variants, the variant that did it has been switched off
 * (`switchedOff`) and a reload runs the next best one; a native build would crash again.
 */
export function describeExit(exit: EngineExit, switchedOff: string | null = null): string {
  let advice = 'Your conversation is saved; the next question starts the engine again (or reload the model).';
  if (switchedOff) {
    advice =
      `Its ${switchedOff} CPU code uses an instruction this processor does not run, so Sift has switched that variant off: ` +
      'reload the model to continue with the next best one. Your conversation is saved.';
  } else if (/Remote RPC server crashed|Failed to connect to/.test(exit.stderrTail)) {
    // ggml's RPC client aborts the process when a worker stops answering
    return (
      `A worker (sift worker) stopped answering, and llama.cpp's RPC backend ended the engine process with it (${exitReason(exit)}). ` +
      'Your conversation is saved; the next question starts the engine again with the workers that answer.'
    );
  } else if (exit.signal === 'SIGILL') {
    advice =
      'The engine was built for instructions this processor does not run, so reloading would crash again: ' +
      'rebuild it with CPU variants, `npm run build-native -- --cpu variants --force` (docs/NATIVE.md). Your conversation is saved.';
  }
  return `The engine process ${exitReason(exit)}. ${advice}`;
}

/** Switches off the CPU variant a SIGILL points at, so the next engine does not repeat the crash. */
function switchOffCrashedVariant(exit: EngineExit, build: BuildInfo): string | null {
  const variant = variantToDisable(exit, build.cpu);
  if (!variant) return null;
  try {
    disableCpuVariant(variant, `killed the ${build.kind} engine with ${exit.signal}`);
    return variant;
  } catch {
    return null; // an unwritable state file: the plain SIGILL advice still holds
  }
}

export class EngineClient {
  private nextId = 1;
  private runningTurns = 0;
  private readonly pending = new Map<number, Pending>();
  private exited: EngineExit | null = null;
  private exitText: string | null = null;
  private readonly exitListeners: Array<(exit: EngineExit) => void> = [];

  private constructor(
    private readonly host: EngineHost,
    readonly build: BuildInfo,
    readonly notice: string | null,
  ) {
    host.onMessage((message) => this.dispatch(message));
    host.onExit((exit) => this.handleExit(exit));
  }

  static start(options: { build?: BuildKind; host?: EngineHostFactory; startupTimeoutMs?: number } = {}): Promise<EngineClient> {
    const host = (options.host ?? forkEngineHost())(options.build ?? 'patched');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        host.kill();
        reject(new EngineError('ENGINE_CRASHED', 'The engine process did not start in time.'));
      }, options.startupTimeoutMs ?? 60_000);
      let settled = false;
      host.onExit((exit) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new EngineError('ENGINE_CRASHED', describeExit(exit)));
      });
      host.onMessage((message) => {
        if (settled) return;
        if (message.type === 'ready') {
          settled = true;
          clearTimeout(timer);
          resolve(new EngineClient(host, message.build, message.notice));
        } else if (message.type === 'startupFailed') {
          settled = true;
          clearTimeout(timer);
          reject(new EngineError('ENGINE_CRASHED', `The engine could not start: ${message.message}`));
        }
      });
    });
  }

  get alive(): boolean {
    return this.exited === null;
  }

  /** How the process ended, once it has. */
  /** True when starting the engine again would end the same way (see handleExit). */
  restartWouldRepeat = false;

  get exit(): EngineExit | null {
    return this.exited;
  }

  /** What a person reads about how the process ended, once it has. */
  get exitMessage(): string | null {
    return this.exitText;
  }

  onExit(listener: (exit: EngineExit) => void): void {
    this.exitListeners.push(listener);
  }

  loadModel(options: LoadModelOptions): Promise<ModelInfo> {
    return this.call('loadModel', { type: 'loadModel', options });
  }

  unloadModel(): Promise<null> {
    return this.call('unloadModel', { type: 'unloadModel' });
  }

  /** True while a turn sent to this process has not ended. */
  get turnRunning(): boolean {
    return this.runningTurns > 0;
  }

  runTurn(request: TurnRequest, onEvent: (event: TurnEvent) => void): RunningTurn {
    const turnId = this.nextId;
    this.runningTurns++;
    const result = this.call('runTurn', { type: 'runTurn', request }, onEvent);
    const ended = () => {
      this.runningTurns--;
    };
    result.then(ended, ended);
    return { turnId, result };
  }

  /** `observe` turns attention observation on during the probe (patched build). */
  probeLogits(request: LogitsProbeRequest & { observe?: number }): Promise<LogitsProbeResult> {
    return this.call('probeLogits', { type: 'probeLogits', request });
  }

  /** What the turn would run and whether it fits (tokenizing only; allowed while a turn runs). */
  planTurn(request: TurnRequest): Promise<EnginePreview> {
    return this.call('planTurn', { type: 'planTurn', request });
  }

  /**
   * Adds `sift worker` processes as devices for the models loaded next (a model already loaded
   * keeps its split); the ones that do not answer come back in `skipped`, each with why.
   */
  addWorkers(workers: WorkerAddress[]): Promise<AddedWorkers> {
    return this.call('addWorkers', { type: 'addWorkers', workers });
  }

  /** What each context of `policy` for a prompt of `promptTokens` would allocate: llama.cpp's dry run beside Sift's formula. */
  dryRun(policy: string, promptTokens: number, layerProfile: LayerProfile | null = null): Promise<DryRunResult> {
    return this.call('dryRun', { type: 'dryRun', policy, promptTokens, layerProfile });
  }

  probeAttention(request: AttentionProbeRequest): Promise<AttentionProbeResult> {
    return this.call('probeAttention', { type: 'probeAttention', request });
  }

  probeLazyPrefill(request: LazyPrefillRequest): Promise<LazyPrefillResult> {
    return this.call('probeLazyPrefill', { type: 'probeLazyPrefill', request });
  }

  /** The caches saved on disk: list, delete, or set their folder and budget (allowed while a turn runs). */
  savedKv(action: SavedKvAction): Promise<SavedKvState> {
    return this.call('savedKv', { type: 'savedKv', action });
  }

  async cancel(turnId: number): Promise<void> {
    if (this.alive) await this.call('cancel', { type: 'cancel', turnId });
  }

  /** Asks the engine to free native memory and exit; kills it if it does not within the timeout. */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.onExit(() => resolve()));
    const timer = setTimeout(() => this.host.kill(), timeoutMs);
    try {
      await this.call('shutdown', { type: 'shutdown' }).catch(() => undefined);
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number | undefined {
    return this.host.pid;
  }

  /** Ends the engine process at once (used by tests that simulate a crash). */
  kill(): void {
    this.host.kill();
  }

  private call<K extends keyof EngineResultMap>(
    _kind: K,
    body: Omit<Extract<EngineRequest, { type: K }>, 'id'>,
    onEvent?: (event: TurnEvent) => void,
  ): Promise<EngineResultMap[K]> {
    if (this.exited) return Promise.reject(new EngineError('ENGINE_CRASHED', describeExit(this.exited)));
    const id = this.nextId++;
    return new Promise<EngineResultMap[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onEvent });
      this.host.send({ ...body, id } as EngineRequest);
    });
  }

  private dispatch(message: EngineMessage): void {
    if (!('id' in message)) return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'event') {
      pending.onEvent?.(message.event);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'result') pending.resolve(message.value);
    else pending.reject(new EngineError(message.code, message.message));
  }

  private handleExit(exit: EngineExit): void {
    this.exited = exit;
    const switchedOff = switchOffCrashedVariant(exit, this.build);
    // an illegal instruction in a build without another variant to fall back on would come back
    this.restartWouldRepeat = exit.signal === 'SIGILL' && switchedOff === null;
    this.exitText = describeExit(exit, switchedOff);
    const error = new EngineError('ENGINE_CRASHED', this.exitText);
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const listener of this.exitListeners) listener(exit);
  }
}
