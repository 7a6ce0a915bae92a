// The engine inside its own process: one native build, at most one model and one context, one
// turn at a time. The engine process (engineProcess.ts) drives it from protocol messages.
import { open, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InsufficientMemoryError, type Llama, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import { parsePolicy, PolicySpecError, type KvPolicy } from '../policy/spec.js';
import { loadLlama } from './loadLlama.js';
import { probeAttention, type AttentionProbeRequest, type AttentionProbeResult } from './attentionProbe.js';
import { probeLogits, type LogitsProbeRequest, type LogitsProbeResult } from './logitsProbe.js';
import { probeLazyLogits, probeLazyPrefill, type LazyPrefillRequest, type LazyPrefillResult } from './lazyPrefillProbe.js';
import { hasLazyPrefill, hasObservation, resetLazyState, setObservation } from './siftNative.js';
import { resolveLazySchedule } from '../policy/lazy.js';
import { runTurn, type LazyTurn, type TurnOutcome } from './turnRunner.js';
import { EngineError, type BuildInfo, type BuildKind, type ModelInfo, type TurnEvent, type TurnRequest } from './types.js';

export interface LoadModelOptions {
  path: string;
  /** Tokens the context holds; defaults to the model's training context, capped at 16k. */
  contextSize?: number;
  threads?: number;
  batchSize?: number;
  flashAttention?: boolean;
}

const DEFAULT_MAX_CONTEXT = 16_384;

/** Architectures whose graph builder has Sift's segment hooks (native-patches 0003). */
const LAZY_ARCHITECTURES = new Set(['llama']);
const GGUF_MAGIC = 'GGUF';

interface LoadedModel {
  model: LlamaModel;
  info: ModelInfo;
  options: LoadModelOptions;
}

interface OpenContext {
  context: LlamaContext;
  kvType: KvPolicy['kvType'];
  flashAttention: boolean;
}

/** Checks the file before llama.cpp sees it, so a wrong file gets a message a person understands. */
async function checkModelFile(modelPath: string): Promise<number> {
  let size: number;
  try {
    const info = await stat(modelPath);
    if (!info.isFile()) throw new EngineError('MODEL_NOT_FOUND', `${modelPath} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError('MODEL_NOT_FOUND', `Model file not found: ${modelPath}`);
  }
  const handle = await open(modelPath, 'r').catch(() => {
    throw new EngineError('MODEL_NOT_FOUND', `Model file is not readable: ${modelPath}`);
  });
  try {
    const magic = Buffer.alloc(4);
    await handle.read(magic, 0, 4, 0);
    if (magic.toString('latin1') !== GGUF_MAGIC) {
      throw new EngineError('MODEL_INVALID', `${path.basename(modelPath)} is not a GGUF model file (wrong header).`);
    }
  } finally {
    await handle.close();
  }
  return size;
}

function metadataNumber(metadata: unknown, arch: string, key: string): number | undefined {
  const section = (metadata as Record<string, Record<string, unknown> | undefined>)[arch];
  const value = key.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], section);
  if (typeof value === 'number') return value;
  if (Array.isArray(value) && typeof value[0] === 'number') return value[0];
  return undefined;
}

function describeModel(model: LlamaModel, modelPath: string, sizeBytes: number, contextSize: number): ModelInfo {
  const metadata = model.fileInfo.metadata;
  const architecture = String(metadata.general.architecture);
  const heads = metadataNumber(metadata, architecture, 'attention.head_count') ?? 0;
  const kvHeads = metadataNumber(metadata, architecture, 'attention.head_count_kv') ?? heads;
  const embd = metadataNumber(metadata, architecture, 'embedding_length') ?? 0;
  const headDim = metadataNumber(metadata, architecture, 'attention.key_length') ?? (heads > 0 ? embd / heads : 0);
  return {
    path: modelPath,
    name: metadata.general.name ?? path.basename(modelPath, '.gguf'),
    architecture,
    sizeBytes,
    trainContextSize: model.trainContextSize,
    layers: model.fileInsights.totalLayers - 1,
    kvHeads,
    headDim,
    contextSize,
  };
}

export class Engine {
  private loaded: LoadedModel | null = null;
  private open: OpenContext | null = null;
  private busy = false;

  private constructor(
    private readonly llama: Llama,
    readonly build: BuildInfo,
    readonly notice: string | null,
  ) {}

  static async create(requested: BuildKind): Promise<Engine> {
    const { llama, build, notice } = await loadLlama(requested);
    return new Engine(llama, build, notice);
  }

  get modelInfo(): ModelInfo | null {
    return this.loaded?.info ?? null;
  }

  async loadModel(options: LoadModelOptions): Promise<ModelInfo> {
    this.assertIdle();
    const sizeBytes = await checkModelFile(options.path);
    await this.unloadModel();
    let model: LlamaModel;
    try {
      model = await this.llama.loadModel({ modelPath: options.path, gpuLayers: 'auto' });
    } catch (err) {
      throw translateLoadError(err, options.path);
    }
    const contextSize = Math.min(options.contextSize ?? DEFAULT_MAX_CONTEXT, model.trainContextSize);
    this.loaded = { model, info: describeModel(model, options.path, sizeBytes, contextSize), options };
    await this.ensureContext(parsePolicy('full'));
    return this.loaded.info;
  }

  async unloadModel(): Promise<void> {
    await this.open?.context.dispose();
    this.open = null;
    await this.loaded?.model.dispose();
    this.loaded = null;
  }

  async runTurn(request: TurnRequest, onEvent: (event: TurnEvent) => void, signal: AbortSignal): Promise<TurnOutcome> {
    this.assertIdle();
    if (!this.loaded) throw new EngineError('NO_MODEL_LOADED', 'No model is loaded. Choose a model first.');
    const policy = this.parseRequestPolicy(request.policy);
    const { lazy, notice } = this.lazyTurn(policy, this.loaded.info);
    return this.withPolicyContext(policy, (loaded, open, sequence) =>
      runTurn(
        {
          llama: this.llama,
          model: loaded.model,
          context: open.context,
          sequence,
          build: this.build.kind,
          batchSize: open.context.batchSize,
          lazy,
          notice,
        },
        { ...request, policy: policy.spec },
        onEvent,
        signal,
      ),
    );
  }

  /**
   * The lazy prefill a policy asks for, if this build and model can run it. Architectures whose
   * graph builders have no segment hooks yet run unpruned, and say so: never a wrong answer.
   */
  private lazyTurn(policy: KvPolicy, info: ModelInfo): { lazy: LazyTurn | null; notice: string | null } {
    if (!policy.lazy) return { lazy: null, notice: null };
    if (!hasLazyPrefill(this.llama)) {
      return { lazy: null, notice: 'Lazy prefill needs the patched build; this turn ran a full prefill.' };
    }
    if (!LAZY_ARCHITECTURES.has(info.architecture)) {
      return { lazy: null, notice: `Lazy prefill does not support ${info.architecture} models yet; this turn ran a full prefill.` };
    }
    let schedule;
    try {
      schedule = resolveLazySchedule(policy.lazy, info.layers);
    } catch (err) {
      throw new EngineError('BAD_POLICY', (err as Error).message);
    }
    const { sink, recent, window, revive } = policy.lazy;
    return { lazy: { schedule: { ...schedule, nSink: sink, nRecent: recent, obsWindow: window }, revive }, notice: null };
  }

  /**
   * Teacher-forced logits on the stock KV cache (see logitsProbe.ts). `observe` turns attention
   * observation on meanwhile, to check it leaves the logits untouched.
   */
  async probeLogits(request: LogitsProbeRequest & { observe?: number }): Promise<LogitsProbeResult> {
    const policy = this.parseRequestPolicy(request.policy ?? 'full');
    const { lazy } = this.loaded ? this.lazyTurn(policy, this.loaded.info) : { lazy: null };
    return this.withPolicyContext(policy, async (loaded, open, sequence) => {
      if (lazy) return probeLazyLogits(this.llama, loaded.model, sequence, lazy, request);
      if (!request.observe) return probeLogits(loaded.model, sequence, request);
      this.requireObservation();
      setObservation(this.llama, open.context, request.observe);
      try {
        return await probeLogits(loaded.model, sequence, request);
      } finally {
        setObservation(this.llama, open.context, 0);
      }
    });
  }

  /** Per-layer attention of the prompt's last tokens over every prompt token (patched build). */
  async probeAttention(request: AttentionProbeRequest): Promise<AttentionProbeResult> {
    this.requireObservation();
    return this.withFullContext((loaded, _open, sequence) =>
      probeAttention(this.llama, loaded.model, sequence, loaded.info.layers, request),
    );
  }

  /** A lazy (segmented) prefill of the prompt: last-token logits and native statistics. */
  async probeLazyPrefill(request: LazyPrefillRequest): Promise<LazyPrefillResult> {
    if (!hasLazyPrefill(this.llama)) {
      throw new EngineError('BAD_POLICY', 'Lazy prefill needs the patched build (run npm run setup).');
    }
    return this.withFullContext((loaded, _open, sequence) => probeLazyPrefill(this.llama, loaded.model, sequence, loaded.info.layers, request));
  }

  private requireObservation(): void {
    if (!hasObservation(this.llama)) {
      throw new EngineError('BAD_POLICY', 'Attention observation needs the patched build (run npm run setup).');
    }
  }

  private parseRequestPolicy(spec: string): KvPolicy {
    try {
      return parsePolicy(spec);
    } catch (err) {
      if (err instanceof PolicySpecError) throw new EngineError('BAD_POLICY', err.message);
      throw err;
    }
  }

  /** Runs `work` on a fresh sequence of the stock-KV context, one call at a time. */
  private withFullContext<T>(
    work: (loaded: LoadedModel, open: OpenContext, sequence: ReturnType<LlamaContext['getSequence']>) => Promise<T>,
  ): Promise<T> {
    return this.withPolicyContext(parsePolicy('full'), work);
  }

  /** Runs `work` on a fresh sequence of a context with the policy's cache type, one call at a time. */
  private async withPolicyContext<T>(
    policy: KvPolicy,
    work: (loaded: LoadedModel, open: OpenContext, sequence: ReturnType<LlamaContext['getSequence']>) => Promise<T>,
  ): Promise<T> {
    this.assertIdle();
    const loaded = this.loaded;
    if (!loaded) throw new EngineError('NO_MODEL_LOADED', 'No model is loaded. Choose a model first.');
    this.busy = true;
    try {
      const open = await this.ensureContext(policy);
      resetLazyState(this.llama, open.context);
      const sequence = open.context.getSequence();
      try {
        return await work(loaded, open, sequence);
      } finally {
        sequence.dispose();
      }
    } finally {
      this.busy = false;
    }
  }

  async dispose(): Promise<void> {
    await this.unloadModel();
    await this.llama.dispose();
  }

  /** A context matching the policy's cache type; recreated only when that changes. */
  private async ensureContext(policy: KvPolicy): Promise<OpenContext> {
    const loaded = this.loaded;
    if (!loaded) throw new EngineError('NO_MODEL_LOADED', 'No model is loaded.');
    // llama.cpp needs flash attention for a quantized V cache
    const flashAttention = policy.kvType !== 'f16' || (loaded.options.flashAttention ?? false);
    if (this.open && this.open.kvType === policy.kvType && this.open.flashAttention === flashAttention) {
      return this.open;
    }
    await this.open?.context.dispose();
    this.open = null;
    const kvType = policy.kvType.toUpperCase() as 'F16' | 'Q8_0' | 'Q4_0';
    try {
      const context = await loaded.model.createContext({
        contextSize: loaded.info.contextSize,
        batchSize: Math.min(loaded.options.batchSize ?? 512, loaded.info.contextSize),
        threads: loaded.options.threads ?? Math.max(1, os.availableParallelism()),
        flashAttention,
        experimentalKvCacheKeyType: kvType,
        experimentalKvCacheValueType: kvType,
      });
      this.open = { context, kvType: policy.kvType, flashAttention };
      return this.open;
    } catch (err) {
      if (err instanceof InsufficientMemoryError) {
        throw new EngineError(
          'MODEL_TOO_LARGE',
          `A ${loaded.info.contextSize}-token context for ${loaded.info.name} does not fit in free memory. ` +
            'Try a smaller context size or a smaller model.',
        );
      }
      throw err;
    }
  }

  private assertIdle(): void {
    if (this.busy) throw new EngineError('BUSY', 'The engine is answering; stop the current answer first.');
  }
}

function translateLoadError(err: unknown, modelPath: string): EngineError {
  const name = path.basename(modelPath);
  if (err instanceof InsufficientMemoryError) {
    return new EngineError('MODEL_TOO_LARGE', `${name} does not fit in this machine's free memory.`);
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new EngineError(
    'MODEL_INVALID',
    `${name} could not be loaded: it may be corrupt, truncated, or an architecture this llama.cpp does not support (${detail}).`,
  );
}
