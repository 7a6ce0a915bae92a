// The engine inside its own process: one native build, at most one model and one context, one
// turn at a time. The engine process (engineProcess.ts) drives it from protocol messages.
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InsufficientMemoryError, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { parsePolicy, PolicySpecError, type KvPolicy } from '../src-common/policy/spec.js';
import type { LayerProfile } from '../src-common/policy/simLayerKvLayers.js';
import { planContexts, predictKvCost, type ContextPlan, type ContextShape, type LayerRule, type PlanOptions } from '../src-common/policy/contextPlan.js';
import type { NativeFeature } from '../src-common/policy/press.js';
import { questionWindow, renderChatTokens } from './chatPrompt.js';
import { checkModelFile } from './modelFile.js';
import { ContextPool, type OpenContext } from './contextPool.js';
import { loadLlama } from './loadLlama.js';
import { probeAttention, type AttentionProbeRequest, type AttentionProbeResult } from './attentionProbe.js';
import { forcedLogits, probeLogits, type LogitsProbeRequest, type LogitsProbeResult } from './logitsProbe.js';
import { probeLazyLogits, probeLazyPrefill, type LazyPrefillRequest, type LazyPrefillResult } from './lazyPrefillProbe.js';
import { hasKvBudgets, hasLazyPrefill, hasObservation, readKvMemoryBytes, resetLazyState, setObservation } from './siftNative.js';
import { prefillThenEvict, type EvictionStats } from './kvEviction.js';
import { lazyPrefillThenEvict } from './lazyEvictionStage.js';
import { argmax, sampleToken } from './sampling.js';
import { DocumentKvStore } from './documentKvStore.js';
import { decideLayersForced, prefillAndDecideLayers, type DecisionTarget } from './simLayerKvDecision.js';
import { convertStateToLazyLayout } from './kvStateLayout.js';
import { resolveLazySchedule } from '../src-common/policy/lazy.js';
import { checkPromptFits, runTurn, type ResumedPrefill, type TurnOutcome } from './turnRunner.js';
import type { LazyTurn } from './lazyPrefillRun.js';
import { probeBudgetedLogits } from './budgetedLogitsProbe.js';
import { type BuildInfo, type BuildKind, type ChatMessage, type DocumentReuseMetrics, type SimLayerKvDecisionMetrics, type ModelInfo, type TurnEvent, type TurnRequest } from '../src-common/engineTypes.js';
import { EngineError } from './engineError.js';

export interface LoadModelOptions {
  path: string;
  /** Tokens the context holds; defaults to the model's training context, capped at 16k. */
  contextSize?: number;
  threads?: number;
  batchSize?: number;
  flashAttention?: boolean;
  /**
   * Sliding-window layers keep every token's K/V on every turn, not only on lazy ones (llama.cpp's
   * swa_full): more memory, and the same cell order a lazy turn has, which tests compare with.
   */
  swaFullCache?: boolean;
}

const DEFAULT_MAX_CONTEXT = 16_384;

interface LoadedModel {
  model: LlamaModel;
  info: ModelInfo;
  options: LoadModelOptions;
}

/** The plan a per-prompt SimLayerKV decision leads to: its trimmed layers get their window cache. */
function trimmedPlan(plan: ContextPlan, rule: LayerRule, trimmedLayers: number[]): ContextPlan {
  if (trimmedLayers.length === 0) return { ...plan, layerRule: null, prefillShape: null };
  return { ...plan, layerRule: null, prefillShape: null, shape: { ...plan.shape, trimmedLayers, sink: rule.sink, window: rule.window } };
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
    offloadedLayers: model.gpuLayers,
  };
}

export class Engine {
  private loaded: LoadedModel | null = null;
  private busy = false;
  /** reuse=disk: the full KV of the last prompts, for follow-up turns on the same document. */
  private readonly documentKv = new DocumentKvStore();
  private readonly contexts: ContextPool;

  private constructor(
    private readonly llama: Llama,
    readonly build: BuildInfo,
    readonly notice: string | null,
  ) {
    this.contexts = new ContextPool(llama);
  }

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
    await this.ensureContext(this.plan(parsePolicy('full'), 0, null).shape);
    return this.loaded.info;
  }

  async unloadModel(): Promise<void> {
    await this.documentKv.clear();
    await this.contexts.close();
    await this.loaded?.model.dispose();
    this.loaded = null;
  }

  async runTurn(request: TurnRequest, onEvent: (event: TurnEvent) => void, signal: AbortSignal): Promise<TurnOutcome> {
    this.assertIdle();
    const loaded = this.requireLoaded();
    const plan = this.plan(this.parseRequestPolicy(request.policy), renderChatTokens(loaded.model, request.messages).length, request.layerProfile ?? null);
    const { lazy, notice } = this.lazyTurn(plan, loaded.info, loaded.model, request.messages);
    const notices = [...plan.notices, ...(notice ? [notice] : [])];
    const compacted =
      lazy && plan.eviction?.afterLazy
        ? await this.lazyPrefillForCompaction(plan, lazy, request, onEvent, signal)
        : plan.eviction?.policy.when === 'prompt'
          ? await this.prefillForCompaction(plan, request.messages, onEvent, signal)
          : null;
    const decided = plan.layerRule ? await this.prefillForSimLayerKvDecision(plan, plan.layerRule, request, onEvent, signal) : null;
    const turnPlan = decided ? trimmedPlan(plan, plan.layerRule!, decided.metrics.trimmedLayers) : plan;
    return this.withPolicyContext(turnPlan, async (open, sequence) => {
      if (compacted?.statePath) await this.loadAndDeleteState(sequence, compacted.statePath);
      if (decided?.statePath) {
        const loading = performance.now();
        await this.loadAndDeleteState(sequence, decided.statePath);
        decided.metrics.moveMs = round(decided.metrics.moveMs + performance.now() - loading);
      }
      return runTurn(
        {
          llama: this.llama,
          model: loaded.model,
          context: open.context,
          sequence,
          build: this.build.kind,
          batchSize: open.context.batchSize,
          // lazy+evictor prefilled lazily in the full-size context already
          lazy: plan.eviction?.afterLazy ? null : lazy,
          eviction: plan.eviction,
          resume: compacted ?? decided?.resume ?? null,
          simLayerKvDecision: decided?.metrics ?? null,
          notice: notices.length ? notices.join(' ') : null,
          kvPredicted: predictKvCost(plan, loaded.info, request.layerProfile ?? null, decided?.metrics.trimmedLayers),
        },
        { ...request, policy: plan.policy.spec },
        onEvent,
        signal,
      );
    });
  }

  /**
   * The lazy prefill a policy asks for, if this build and model can run it. Architectures whose
   * graph builders have no segment hooks yet run unpruned, and say so: never a wrong answer.
   */
  private lazyTurn(plan: ContextPlan, info: ModelInfo, model: LlamaModel, messages: ChatMessage[]): { lazy: LazyTurn | null; notice: string | null } {
    const policy = plan.policy;
    // a build or model without the hooks: the plan's notice says the turn ran a full prefill
    if (!policy.lazy || !plan.applied.includes('lazy')) return { lazy: null, notice: null };
    let schedule;
    try {
      schedule = resolveLazySchedule(policy.lazy, info.layers);
    } catch (err) {
      throw new EngineError('BAD_POLICY', (err as Error).message);
    }
    const { sink, recent, window, revive } = policy.lazy;
    const obsWindow = window === 'question' ? questionWindow(model, messages) : window;
    // the scoring queries are never pruned, so every prune point is scored by the same tokens
    const nRecent = window === 'question' ? Math.max(recent, obsWindow) : recent;
    return { lazy: { schedule: { ...schedule, nSink: sink, nRecent, obsWindow }, revive }, notice: null };
  }

  /** The contexts a policy needs for a prompt of `promptTokens` (the presses' plan, contextPlan.ts). */
  private plan(policy: KvPolicy, promptTokens: number, profile: LayerProfile | null): ContextPlan {
    const info = this.requireLoaded().info;
    try {
      return planContexts(policy, info, promptTokens, profile, this.planOptions());
    } catch (err) {
      if (err instanceof PolicySpecError) throw new EngineError('BAD_POLICY', err.message);
      throw err;
    }
  }

  private planOptions(): PlanOptions {
    const options = this.requireLoaded().options;
    const features = new Set<NativeFeature>();
    if (hasKvBudgets(this.llama)) features.add('kvBudgets');
    if (hasLazyPrefill(this.llama)) features.add('lazyPrefill');
    if (hasObservation(this.llama)) features.add('observation');
    return { batchSize: options.batchSize ?? 512, flashAttention: options.flashAttention ?? false, swaFullCache: options.swaFullCache ?? false, features };
  }

  /**
   * when=prompt, first half: prefills the prompt (but its last token) in a context of the full
   * size, evicts once with the question in view, and saves the kept tokens' state to a file, so
   * the turn can go on in a context of the budget's size (the big one is then freed).
   */
  private async prefillForCompaction(
    plan: ContextPlan,
    messages: ChatMessage[],
    onEvent: (event: TurnEvent) => void,
    signal: AbortSignal,
  ): Promise<{ statePath: string | null; started: number; kvBytesPeak: number | null; stats: EvictionStats; reuse: DocumentReuseMetrics | null }> {
    const loaded = this.requireLoaded();
    const eviction = plan.eviction!;
    const prompt = renderChatTokens(loaded.model, messages);
    checkPromptFits(prompt.length, loaded.info.contextSize);
    const started = performance.now();
    const fullPlan: ContextPlan = { ...plan, shape: plan.prefillShape ?? plan.shape, prefillShape: null, eviction: null, layerRule: null };
    const statePath = path.join(os.tmpdir(), `sift-kv-${process.pid}-${Date.now()}.state`);
    const report = (done: number) => onEvent({ type: 'progress', phase: 'prefill', done, total: prompt.length });
    report(0);
    const reusing = eviction.policy.reuse === 'disk';
    // the last `window` prompt tokens are always evaluated again: their attention is what ranks
    // the tokens, so a follow-up is ranked on the same footing as a fresh prefill
    const match = reusing ? this.documentKv.find(prompt, Math.ceil(prompt.length / 2)) : null;
    const heldTokens = match ? Math.max(0, Math.min(match.sharedTokens, prompt.length - 1 - eviction.policy.window)) : 0;
    const reuse: DocumentReuseMetrics | null = reusing ? { reusedTokens: 0, restoreMs: 0, storeMs: 0, storedBytes: 0 } : null;
    return this.withPolicyContext(fullPlan, async (open, sequence) => {
      if (match && reuse && heldTokens > 0) {
        const restoring = performance.now();
        await this.documentKv.restore(sequence, { ...match, sharedTokens: heldTokens });
        reuse.restoreMs = round(performance.now() - restoring);
        reuse.reusedTokens = heldTokens;
      }
      const storeFullKv = async () => {
        if (!reuse) return;
        const storing = performance.now();
        await this.documentKv.save(sequence);
        reuse.storeMs = round(performance.now() - storing);
        reuse.storedBytes = this.documentKv.storedBytes;
      };
      const stats = await prefillThenEvict(this.llama, sequence, eviction, prompt, report, signal, {
        heldTokens: reuse?.reusedTokens ?? 0,
        beforeEvict: storeFullKv,
      });
      const kvBytesPeak = readKvMemoryBytes(this.llama, open.context);
      // cancelled: the turn goes on empty and stops at once
      if (!stats) return { statePath: null, started, kvBytesPeak, stats: { evicted: 0, rounds: 0, prefillRounds: 0, evictMs: 0 }, reuse };
      await sequence.saveStateToFile(statePath);
      return { statePath, started, kvBytesPeak, stats, reuse };
    });
  }

  /**
   * lazy+evictor, first half: a lazy prefill of the whole prompt at full size, the first answer
   * token sampled and shown, one eviction round (lazyEvictionStage.ts), and the kept tokens saved
   * for the budget's context, where the turn goes on from that token.
   */
  private async lazyPrefillForCompaction(
    plan: ContextPlan,
    lazy: LazyTurn,
    request: TurnRequest,
    onEvent: (event: TurnEvent) => void,
    signal: AbortSignal,
  ): Promise<ResumedPrefill & { statePath: string | null }> {
    const loaded = this.requireLoaded();
    const prompt = renderChatTokens(loaded.model, request.messages);
    checkPromptFits(prompt.length, loaded.info.contextSize);
    const started = performance.now();
    onEvent({ type: 'progress', phase: 'prefill', done: 0, total: prompt.length });
    const fullPlan: ContextPlan = { ...plan, shape: plan.prefillShape ?? plan.shape, prefillShape: null, eviction: null, layerRule: null };
    let shownText = '';
    const pick = (logits: Float32Array) => {
      const first = sampleToken(logits, request.sampling) as Token;
      const text = loaded.model.isEogToken(first) ? '' : loaded.model.detokenize([first]);
      // shown now, before the eviction round and the move: the TTFT the person sees
      if (text && !text.endsWith('\uFFFD')) onEvent({ type: 'token', text });
      shownText = text.endsWith('\uFFFD') ? '' : text;
      return first;
    };
    return this.withPolicyContext(fullPlan, async (open, sequence) => {
      const stage = await lazyPrefillThenEvict(this.llama, sequence, plan.eviction!, lazy, prompt, onEvent, signal, {
        pick,
        endsAnswer: (first) => loaded.model.isEogToken(first) || signal.aborted,
      });
      const kvBytesPeak = readKvMemoryBytes(this.llama, open.context);
      if (!stage) return { statePath: null, started, kvBytesPeak, stopReason: 'cancelled' };
      const first = stage.first!;
      const lazyPart = { lazy: stage.lazy, computed: stage.computed, keys: stage.keys, firstTokenAt: stage.firstAt, stats: stage.eviction };
      if (loaded.model.isEogToken(first)) return { statePath: null, started, kvBytesPeak, ...lazyPart, generated: [], stopReason: 'eos' };
      if (signal.aborted) return { statePath: null, started, kvBytesPeak, ...lazyPart, generated: [first], shownText, stopReason: 'cancelled' };
      const statePath = path.join(os.tmpdir(), `sift-kv-${process.pid}-${Date.now()}.state`);
      await sequence.saveStateToFile(statePath);
      return { statePath, started, kvBytesPeak, ...lazyPart, generated: [first], shownText };
    });
  }

  /**
   * SimLayerKV per prompt, first half: prefills at full size while observing the rule's queries,
   * decides the trimmed layers, and saves the sequence rewritten for a context whose trimmed layers keep
   * only sinks and the recent window (kvStateLayout.ts); the turn goes on there.
   */
  private async prefillForSimLayerKvDecision(
    plan: ContextPlan,
    rule: LayerRule,
    request: TurnRequest,
    onEvent: (event: TurnEvent) => void,
    signal: AbortSignal,
  ): Promise<{ statePath: string | null; resume: ResumedPrefill; metrics: SimLayerKvDecisionMetrics }> {
    const loaded = this.requireLoaded();
    const prompt = renderChatTokens(loaded.model, request.messages);
    checkPromptFits(prompt.length, loaded.info.contextSize);
    const started = performance.now();
    onEvent({ type: 'progress', phase: 'prefill', done: 0, total: prompt.length });
    const fullPlan: ContextPlan = { ...plan, shape: plan.prefillShape ?? plan.shape, prefillShape: null, layerRule: null };
    return this.withPolicyContext(fullPlan, async (open, sequence) => {
      const decision = await prefillAndDecideLayers(this.decisionTarget(sequence, prompt, rule), request.sampling, onEvent, signal);
      const kvBytesPeak = readKvMemoryBytes(this.llama, open.context);
      const metrics: SimLayerKvDecisionMetrics = { rule: rule.rule, delta: rule.delta, scores: decision?.scores ?? [], trimmedLayers: decision?.trimmedLayers ?? [], moveMs: 0 };
      if (!decision) return { statePath: null, resume: { started, kvBytesPeak, stopReason: 'cancelled' }, metrics };
      const resume: ResumedPrefill = { started, kvBytesPeak, generated: decision.generated, firstTokenAt: decision.firstTokenAt, stopReason: decision.stopReason };
      const moving = performance.now();
      const statePath = await this.saveTrimmed(sequence, decision.trimmedLayers, rule);
      metrics.moveMs = round(performance.now() - moving);
      return { statePath, resume, metrics };
    });
  }

  /**
   * Saves the sequence for a context whose `trimmedLayers` keep only sinks and the recent window:
   * rewritten to that layout (kvStateLayout.ts), or as is when no layer is lazy.
   */
  private async saveTrimmed(sequence: ReturnType<LlamaContext['getSequence']>, trimmedLayers: number[], rule: LayerRule): Promise<string> {
    const base = path.join(os.tmpdir(), `sift-layers-${process.pid}-${Date.now()}`);
    const full = `${base}.full.state`;
    await sequence.saveStateToFile(full);
    if (trimmedLayers.length === 0) return full;
    const trimmed = `${base}.trimmed.state`;
    try {
      await convertStateToLazyLayout(full, trimmed, { trimmedLayers, sink: rule.sink, window: rule.window }, { expectedLayers: this.requireLoaded().info.layers });
    } finally {
      await rm(full, { force: true });
    }
    return trimmed;
  }

  /** What SimLayerKV's per-prompt layer decision runs on: this model and this prompt in `sequence`. */
  private decisionTarget(sequence: LlamaContextSequence, prompt: readonly Token[], rule: LayerRule): DecisionTarget {
    const loaded = this.requireLoaded();
    return { llama: this.llama, model: loaded.model, sequence, prompt, layers: loaded.info.layers, rule };
  }

  /** Teacher-forced logits when SimLayerKV decides the prompt's trimmed layers itself. */
  private async probeWithSimLayerKvDecision(plan: ContextPlan, rule: LayerRule, request: LogitsProbeRequest): Promise<LogitsProbeResult> {
    const loaded = this.requireLoaded();
    const prompt = renderChatTokens(loaded.model, request.messages);
    const follow = (request.follow ?? []) as Token[];
    checkPromptFits(prompt.length + follow.length, loaded.info.contextSize);
    const moved = await this.withPolicyContext({ ...plan, layerRule: null }, async (_open, sequence) => {
      const { decision, logits } = await decideLayersForced(this.decisionTarget(sequence, prompt, rule), follow);
      return { trimmedLayers: decision.trimmedLayers, logits, statePath: await this.saveTrimmed(sequence, decision.trimmedLayers, rule) };
    });
    return this.withPolicyContext(trimmedPlan(plan, rule, moved.trimmedLayers), async (_open, sequence) => {
      await this.loadAndDeleteState(sequence, moved.statePath);
      // the decode rule evaluated the last prompt token and follow[0] at full size already
      const rest = moved.logits.length > 0 ? follow.slice(1) : [prompt[prompt.length - 1]!, ...follow];
      return { promptTokens: prompt, logits: [...moved.logits, ...(await forcedLogits(sequence, rest))] };
    });
  }

  /** Loads a state saved in another context (when=prompt's kept tokens, or a SimLayerKV-trimmed sequence) and deletes its file. */
  private async loadAndDeleteState(sequence: ReturnType<LlamaContext['getSequence']>, statePath: string): Promise<void> {
    try {
      await sequence.loadStateFromFile(statePath, { acceptRisk: true });
    } finally {
      await rm(statePath, { force: true });
    }
  }

  /**
   * Teacher-forced logits (see logitsProbe.ts) under a policy. `observe` turns attention observation
   * on meanwhile, to check it leaves the logits untouched.
   */
  async probeLogits(request: LogitsProbeRequest & { observe?: number }): Promise<LogitsProbeResult> {
    const loaded = this.requireLoaded();
    const promptTokens = renderChatTokens(loaded.model, request.messages).length;
    const plan = this.plan(this.parseRequestPolicy(request.policy ?? 'full'), promptTokens, request.layerProfile ?? null);
    if (plan.layerRule) return this.probeWithSimLayerKvDecision(plan, plan.layerRule, request);
    const { lazy } = this.lazyTurn(plan, loaded.info, loaded.model, request.messages);
    if (lazy && plan.eviction?.afterLazy) return this.probeLazyThenEvicted(plan, lazy, request);
    const compacting = plan.eviction?.policy.when === 'prompt';
    const compacted = compacting ? await this.prefillForCompaction(plan, request.messages, () => undefined, new AbortController().signal) : null;
    return this.withPolicyContext(plan, async (open, sequence) => {
      if (lazy) return probeLazyLogits(this.llama, loaded.model, sequence, lazy, request);
      if (compacted?.statePath) await this.loadAndDeleteState(sequence, compacted.statePath);
      if (plan.eviction) return probeBudgetedLogits(this.llama, loaded.model, sequence, plan.eviction, request, { holds: compacted ? 'promptButLast' : 'nothing' });
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

  /** Teacher-forced logits under lazy+evictor: the first row from the lazy prefill, the rest in the budget's context. */
  private async probeLazyThenEvicted(plan: ContextPlan, lazy: LazyTurn, request: LogitsProbeRequest): Promise<LogitsProbeResult> {
    const loaded = this.requireLoaded();
    const prompt = renderChatTokens(loaded.model, request.messages);
    checkPromptFits(prompt.length, loaded.info.contextSize);
    const eviction = plan.eviction!;
    const fullPlan: ContextPlan = { ...plan, shape: plan.prefillShape ?? plan.shape, prefillShape: null, eviction: null, layerRule: null };
    const moved = await this.withPolicyContext(fullPlan, async (_open, sequence) => {
      // the turn's greedy first token is the forced one when the probe follows a greedy answer
      const pick = (logits: Float32Array) => (request.follow?.[0] ?? argmax(logits)) as Token;
      const stage = await lazyPrefillThenEvict(this.llama, sequence, eviction, lazy, prompt, () => undefined, new AbortController().signal, { pick });
      if (!stage) throw new EngineError('INTERNAL', 'the lazy prefill stopped without being cancelled');
      const statePath = path.join(os.tmpdir(), `sift-kv-${process.pid}-${Date.now()}.state`);
      await sequence.saveStateToFile(statePath);
      return { statePath, logits: stage.logits, stats: stage.eviction };
    });
    return this.withPolicyContext(plan, async (_open, sequence) => {
      await this.loadAndDeleteState(sequence, moved.statePath);
      // the prompt's last token is in: only the forced tokens are evaluated here
      return probeBudgetedLogits(this.llama, loaded.model, sequence, eviction, request, { holds: 'wholePrompt', logits: moved.logits, stats: moved.stats });
    });
  }

  /** Per-layer attention of the prompt's last tokens over every prompt token (patched build). */
  async probeAttention(request: AttentionProbeRequest): Promise<AttentionProbeResult> {
    this.requireObservation();
    const loaded = this.requireLoaded();
    return this.withFullContext((_open, sequence) => probeAttention(this.llama, loaded.model, sequence, loaded.info.layers, request));
  }

  /** A lazy (segmented) prefill of the prompt: last-token logits and native statistics. */
  async probeLazyPrefill(request: LazyPrefillRequest): Promise<LazyPrefillResult> {
    const loaded = this.requireLoaded();
    const plan = this.plan(parsePolicy('lazy'), 0, null);
    // a probe has no turn to run unpruned: the plan's reason is the error
    if (!plan.applied.includes('lazy')) throw new EngineError('BAD_POLICY', plan.notices.join(' '));
    return this.withPolicyContext(plan, (_open, sequence) => probeLazyPrefill(this.llama, loaded.model, sequence, loaded.info.layers, request));
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

  private requireLoaded(): LoadedModel {
    if (!this.loaded) throw new EngineError('NO_MODEL_LOADED', 'No model is loaded. Choose a model first.');
    return this.loaded;
  }

  /** Runs `work` on a fresh sequence of the stock-KV context, one call at a time. */
  private withFullContext<T>(work: (open: OpenContext, sequence: ReturnType<LlamaContext['getSequence']>) => Promise<T>): Promise<T> {
    return this.withPolicyContext(this.plan(parsePolicy('full'), 0, null), work);
  }

  /** Runs `work` on a fresh sequence of a context shaped for the plan, one call at a time. */
  private async withPolicyContext<T>(
    plan: ContextPlan,
    work: (open: OpenContext, sequence: ReturnType<LlamaContext['getSequence']>) => Promise<T>,
  ): Promise<T> {
    this.assertIdle();
    this.requireLoaded();
    this.busy = true;
    try {
      const open = await this.ensureContext(plan.shape);
      resetLazyState(this.llama, open.context);
      const sequence = this.contexts.sequenceOf(open, plan.eviction !== null);
      try {
        return await work(open, sequence);
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

  /** A context of the given shape; recreated only when the shape changes. */
  private ensureContext(shape: ContextShape): Promise<OpenContext> {
    const loaded = this.requireLoaded();
    return this.contexts.ensure(loaded.model, loaded.info.name, shape, loaded.options.threads);
  }

  private assertIdle(): void {
    if (this.busy) throw new EngineError('BUSY', 'The engine is answering; stop the current answer first.');
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
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
