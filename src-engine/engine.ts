// The engine inside its own process: one native build, at most one model and one context, one
// turn at a time. The engine process (engineProcess.ts) drives it from protocol messages.
import os from 'node:os';
import path from 'node:path';
import { GgufInsights, InsufficientMemoryError, readGgufFileInfo, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { parsePolicy, PolicySpecError, type KvPolicy } from '../src-common/policy/spec.js';
import type { LayerProfile } from '../src-common/policy/simLayerKvLayers.js';
import { contextKvBytes, planContexts, predictKvCost, type ContextPlan, type ContextShape, type PlanOptions } from '../src-common/policy/contextPlan.js';
import { computeBytesEstimate } from '../src-common/policy/computeBytes.js';
import { dryRunContext } from './dryRun.js';
import type { NativeFeature } from '../src-common/policy/press.js';
import { prepareChatWrapper, questionWindow, renderChatTokens } from './chatPrompt.js';
import { checkModelFile } from './modelFile.js';
import { ContextPool, type OpenContext } from './contextPool.js';
import { loadLlama } from './loadLlama.js';
import { probeAttention, type AttentionProbeRequest, type AttentionProbeResult } from './attentionProbe.js';
import type { LogitsProbeRequest, LogitsProbeResult } from './forcedLogits.js';
import { probeLazyPrefill, type LazyPrefillRequest, type LazyPrefillResult } from './lazyPrefillProbe.js';
import { cancelPrefill, hasKvBudgets, hasLazyPrefill, hasObservation, resetLazyState } from './siftNative.js';
import { ConversationRevival, conversationAfterTurn, evictedContinuation, historyFor, reusablePrefix, type EvictedContinuation, type EvictedConversation } from './conversationCache.js';
import { SavedConversations, SAVE_MIN_READ_TOKENS, type SavedKvAction } from './savedConversations.js';
import { ConversationMove, firstReadPlan, followsTrimmedConversation, followUpPlan, type MoveHost } from './conversationMove.js';
import { modelFingerprint } from './modelFingerprint.js';
import { resolveLazySchedule } from '../src-common/policy/lazy.js';
import { chooseAuto, fitWarning, previewTurn, requestedAuto, selectionMetrics, type ChoiceHost } from './policyChoice.js';
import { modelShapeFromMetadata } from '../src-common/modelShape.js';
import { runTurn, type Continuation, type TurnOutcome } from './turnRunner.js';
import { compactPrompt, decideLayersAndCompact, decideSimLayerKvLayers, lazyPrefillAndCompact, loadAndDeleteState, trimmedPlan, type StageHost } from './turnStages.js';
import type { LazyTurn } from './lazyPrefillRun.js';
import {
  type BuildInfo,
  type BuildKind,
  type ChatMessage,
  type ConversationCacheMetrics,
  type DryRunResult,
  type ModelInfo,
  type SamplingOptions,
  type SavedKvState,
  type TurnEvent,
  type TurnRequest,
  type WorkerDevice,
  type WorkerSplit,
} from '../src-common/engineTypes.js';
import { EngineError } from './engineError.js';
import { runFirstDecode } from './firstDecode.js';
import type { EnginePreview } from '../src-common/contract.js';
import { DEFAULT_MAX_CONTEXT } from '../src-common/modelLoadSettings.js';
import { addWorkers, type AddedWorkers } from './rpcWorkers.js';
import { splitAcrossWorkers } from './workerSplit.js';
import { workerEndpoint, type WorkerAddress } from '../src-common/workerAddress.js';

export interface LoadModelOptions {
  path: string;
  /** Tokens the context holds; defaults to the model's training context, capped at 16k. */
  contextSize?: number;
  threads?: number;
  /** Layers on the GPU: a count, or auto (as many as free VRAM holds); a CPU build puts none there. */
  gpuLayers?: number | 'auto';
  batchSize?: number;
  flashAttention?: boolean;
  /**
   * Sliding-window layers keep every token's K/V on every turn, not only on lazy ones (llama.cpp's
   * swa_full): more memory, and the same cell order a lazy turn has, which tests compare with.
   */
  swaFullCache?: boolean;
  /** Decode a few tokens right after loading, so a build this CPU cannot run fails now (firstDecode.ts). */
  firstDecode?: boolean;
}

type ConversationRevived = ConversationCacheMetrics['revived'];

/** A probe's sampling: greedy, so the stages that pick a first token take the forced one or the argmax. */
const GREEDY: SamplingOptions = { temperature: 0, topP: 1, maxTokens: 1 };

interface LoadedModel {
  model: LlamaModel;
  info: ModelInfo;
  options: LoadModelOptions;
  /** What saved caches are keyed by for this model (modelFingerprint.ts). */
  fingerprint: string;
}

/** The threads every context of the model runs with: as set, else every core the OS offers. */
function threadsFor(options: LoadModelOptions): number {
  return options.threads ?? Math.max(1, os.availableParallelism());
}

function describeModel(model: LlamaModel, modelPath: string, sizeBytes: number, contextSize: number, options: LoadModelOptions, workerSplit: WorkerSplit | null): ModelInfo {
  const shape = modelShapeFromMetadata(model.fileInfo.metadata);
  return {
    path: modelPath,
    name: shape.name ?? path.basename(modelPath, '.gguf'),
    architecture: shape.architecture,
    sizeBytes,
    trainContextSize: model.trainContextSize,
    layers: model.fileInsights.totalLayers - 1,
    kvHeads: shape.kvHeads,
    headDim: shape.headDim,
    heads: shape.heads,
    embeddingLength: shape.embeddingLength,
    feedForwardLength: shape.feedForwardLength,
    vocabSize: shape.vocabSize,
    slidingWindow: shape.slidingWindow,
    slidingLayers: shape.slidingLayers,
    contextSize,
    offloadedLayers: model.gpuLayers,
    threads: threadsFor(options),
    flashAttention: options.flashAttention ?? false,
    workerSplit,
  };
}

export class Engine {
  private loaded: LoadedModel | null = null;
  private busy = false;
  /** Caches saved on disk: a document opened again is restored (and reuse=disk's full KV). */
  private readonly saved = new SavedConversations(() => {
    const { fingerprint, info } = this.requireLoaded();
    return { fingerprint, modelName: info.name, buildId: this.build.id };
  });
  private readonly contexts: ContextPool;
  /** A lazy turn's pruned tokens being completed while the person reads the answer. */
  private readonly revival = new ConversationRevival();
  /** lazy+simlayerkv: the conversation moving into its trimmed context once revived. */
  private readonly move = new ConversationMove();
  /** Devices `sift worker` processes serve this engine (added before a model loads). */
  private readonly workerDevices: WorkerDevice[] = [];

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
    const { gpuLayers, workerSplit } = await this.offloadFor(options);
    let model: LlamaModel;
    try {
      // node-llama-cpp chooses mmap or not by the VRAM a count of GPU layers needs; the RPC backend
      // makes it count for a CPU build too, where it would read the weights into anonymous memory:
      // a CPU build maps them, as it did before workers existed
      const useMmap = this.build.gpu.active === null ? true : undefined;
      model = await this.llama.loadModel({ modelPath: options.path, gpuLayers, ...(useMmap === undefined ? {} : { useMmap }) });
    } catch (err) {
      throw translateLoadError(err, options.path);
    }
    const contextSize = Math.min(options.contextSize ?? DEFAULT_MAX_CONTEXT, model.trainContextSize);
    if (options.firstDecode) {
      try {
        await runFirstDecode(model, threadsFor(options));
      } catch (err) {
        await model.dispose();
        throw new EngineError('MODEL_INVALID', `${path.basename(options.path)} loaded but could not decode: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const fingerprint = await modelFingerprint(options.path);
    prepareChatWrapper(model);
    this.loaded = { model, info: describeModel(model, options.path, sizeBytes, contextSize, options, workerSplit), options, fingerprint };
    await this.ensureContext(this.plan(parsePolicy('full'), 0, null).shape);
    return this.loaded.info;
  }

  /**
   * Adds `sift worker` processes as devices for the models loaded from now on; a worker that does
   * not answer is left out with a line that says so. A model already loaded keeps its split.
   */
  async addWorkers(addresses: readonly WorkerAddress[]): Promise<AddedWorkers> {
    this.assertIdle();
    const known = new Set(this.workerDevices.map((device) => device.endpoint));
    const added = await addWorkers(this.llama, addresses.filter((address) => !known.has(workerEndpoint(address))));
    this.workerDevices.push(...added.devices);
    return added;
  }

  /**
   * The GPU layers to ask node-llama-cpp for. A CPU build has no GPU but, with the RPC backend
   * built in, node-llama-cpp would count zero VRAM against a number and refuse: it gets 0 unless
   * workers serve it; with workers, their share of the layers (workerSplit.ts).
   */
  private async offloadFor(options: LoadModelOptions): Promise<{ gpuLayers: number | 'auto'; workerSplit: WorkerSplit | null }> {
    const requested = options.gpuLayers ?? 'auto';
    if (this.workerDevices.length === 0) return { gpuLayers: this.build.gpu.active === null ? 0 : requested, workerSplit: null };
    if (this.build.gpu.active !== null && requested === 'auto') {
      // node-llama-cpp's auto counts the workers' memory as VRAM beside the GPU's
      return { gpuLayers: 'auto', workerSplit: null };
    }
    const insights = await GgufInsights.from(await readGgufFileInfo(options.path), this.llama);
    const split = splitAcrossWorkers(insights.totalLayers, requested, this.workerDevices, os.freemem());
    return { gpuLayers: split.offloadedLayers, workerSplit: split };
  }

  async unloadModel(): Promise<void> {
    await this.move.settle(this.contexts);
    await this.revival.settle(this.contexts);
    await this.saved.close();
    await this.contexts.close();
    await this.loaded?.model.dispose();
    this.loaded = null;
  }

  async runTurn(request: TurnRequest, onEvent: (event: TurnEvent) => void, signal: AbortSignal): Promise<TurnOutcome> {
    return (await this.turn(request, { kind: 'generate' }, onEvent, signal)).outcome;
  }

  /**
   * What a turn would run for this request, and whether it is predicted to fit: the prompt
   * tokenized and auto's cost model asked, nothing evaluated, no context touched (so it may run
   * while a turn does: the composer asks as the person types).
   */
  async planTurn(request: TurnRequest): Promise<EnginePreview> {
    const loaded = this.requireLoaded();
    const prompt = renderChatTokens(loaded.model, request.messages);
    const policy = requestedAuto(request.policy) ? request.policy : this.parseRequestPolicy(request.policy).spec;
    const preview = await previewTurn(this.choiceHost(), request, prompt.length, policy);
    if (request.cachePrompt === false) return { ...preview, cachedTokens: 0, cacheSource: null };
    const live = this.cachedTokens(preview.policy, prompt);
    if (live > 0) return { ...preview, cachedTokens: live, cacheSource: 'conversation' };
    const planned = this.plan(this.parseRequestPolicy(preview.policy), prompt.length, request.layerProfile ?? null);
    // lazy+simlayerkv restores a saved cache into its first read's untrimmed context
    const plan = planned.trimAfterRevival ? firstReadPlan(planned) : planned;
    const history = wholeAfterTurn(plan) ? historyFor(plan, loaded.info, prompt.length, plan.applied.includes('lazy')) : null;
    const saved = history ? await this.saved.find(plan, prompt, history) : null;
    return { ...preview, cachedTokens: saved?.sharedTokens ?? 0, cacheSource: saved ? 'disk' : null };
  }

  /**
   * The last lazy turn's pruned tokens are revived while idle for its follow-up. Any other turn
   * (another document or conversation, another policy, a prompt read whole) would wait seconds for
   * a cache it then drops: the revival is stopped instead, and the kept sequence with it.
   */
  private async stopUnusedRevival(request: TurnRequest, prompt: Token[]): Promise<void> {
    const revived = this.revival.revivingPromptTokens;
    const live = this.contexts.liveSequence;
    if (revived === null || live === null) return;
    const samePolicy = requestedAuto(request.policy) || this.contexts.liveFor(this.parseRequestPolicy(request.policy).spec) === live;
    const goesOn = live.compareContextTokens(prompt).firstDifferentIndex >= revived;
    if (request.cachePrompt !== false && samePolicy && goesOn) return;
    cancelPrefill(this.llama, live.context);
    await this.revival.settle(this.contexts);
  }

  /** Leading tokens of `prompt` a turn under `spec` would reuse from the sequence the last turn kept. */
  private cachedTokens(spec: string, prompt: Token[]): number {
    const live = this.contexts.liveFor(spec);
    if (!live) return 0;
    const plan = this.plan(this.parseRequestPolicy(spec), prompt.length, null);
    if (plan.afterTurn.cache === 'kept') {
      const kept = this.contexts.evictedFor(spec);
      const planned = kept ? this.plan(this.parseRequestPolicy(spec), kept.evicted.plannedFor, null) : plan;
      return kept ? (this.evictedContinuation(planned, prompt, kept)?.covered ?? 0) : 0;
    }
    const lazy = plan.applied.includes('lazy');
    const shared = live.compareContextTokens(prompt).firstDifferentIndex;
    return reusablePrefix(live.nextTokenIndex, shared, prompt.length, historyFor(plan, this.requireLoaded().info, prompt.length, lazy));
  }

  /**
   * Teacher-forced logits under a policy: a turn whose continuation is `follow`, forced (the same
   * pipeline, stages and contexts an answer runs through). `observe` turns attention observation
   * on meanwhile, to check it leaves the logits untouched.
   */
  async probeLogits(request: LogitsProbeRequest & { observe?: number }): Promise<LogitsProbeResult> {
    if (request.observe) this.requireObservation();
    const turn: TurnRequest = {
      messages: request.messages,
      sampling: GREEDY,
      policy: request.policy ?? 'full',
      layerProfile: request.layerProfile ?? null,
      cachePrompt: request.cachePrompt === true,
    };
    const follow = (request.follow ?? []) as Token[];
    const { outcome, prompt } = await this.turn(turn, { kind: 'force', follow }, () => undefined, new AbortController().signal, request.observe);
    return { promptTokens: prompt, logits: outcome.logits ?? [], kept: outcome.metrics.kept ?? null };
  }

  /**
   * One turn: the prompt tokenized once, the presses' plan, a two-context stage when the plan has
   * one (turnStages.ts), then the turn itself in the context the plan shapes (turnRunner.ts).
   */
  private async turn(
    request: TurnRequest,
    continuation: Continuation,
    onEvent: (event: TurnEvent) => void,
    signal: AbortSignal,
    observe?: number,
  ): Promise<{ outcome: TurnOutcome; prompt: Token[] }> {
    this.assertIdle();
    // TTFT counts from here: tokenizing, auto's choice, stages and a revival wait are the person's wait too
    const receivedAt = performance.now();
    const loaded = this.requireLoaded();
    const prompt = renderChatTokens(loaded.model, request.messages);
    await this.stopUnusedRevival(request, prompt);
    // the last conversation's move into its trimmed context (lazy+simlayerkv), which follows its revival
    const move = await this.move.settle(this.contexts);
    const profile = request.layerProfile ?? null;
    const auto = requestedAuto(request.policy);
    const selection = auto ? await chooseAuto(this.choiceHost(), auto, prompt.length, request) : null;
    // never start a turn predicted not to fit: the explanation names the smallest change that would
    if (selection && !selection.fits) throw new EngineError('WONT_FIT', selection.explanation);
    const policy = this.parseRequestPolicy(selection?.policy ?? request.policy);
    let plan = this.plan(policy, prompt.length, profile);
    const probing = continuation.kind === 'force' && request.cachePrompt !== true;
    // lazy+simlayerkv: a follow-up answers in the trimmed context the conversation moved into; a
    // first read answers lazily at full size, and the conversation moves once revived
    const trimmedLater = plan.trimAfterRevival ? plan : null;
    const firstRead = trimmedLater !== null && (probing || !!observe || !followsTrimmedConversation(this.contexts, plan, prompt));
    if (trimmedLater) plan = firstRead ? firstReadPlan(trimmedLater) : followUpPlan(trimmedLater);
    // an evictor's follow-up goes on from what the last turn kept, when the prompt goes on from it
    const keptAfter = plan.afterTurn.cache === 'kept' && !probing && !observe;
    const keptBefore = keptAfter && request.cachePrompt !== false ? this.contexts.evictedFor(plan.policy.spec) : null;
    // a budget that is a share of the prompt was sized when the conversation was first read: its
    // follow-ups keep that context (the conversation grows by a question and an answer each time)
    const plannedFor = keptBefore?.evicted.plannedFor ?? prompt.length;
    const keptPlan = plannedFor !== prompt.length ? this.plan(policy, plannedFor, profile) : plan;
    const continued = keptBefore ? this.evictedContinuation(keptPlan, prompt, keptBefore) : null;
    if (continued) plan = keptPlan;
    // else it reads from the start, in a fresh sequence (a stage loads its kept tokens there)
    if (plan.eviction && !continued) this.contexts.dropLive();
    const { lazy, notice } = this.lazyTurn(plan, loaded.info, loaded.model, request.messages);
    // a policy the person chose runs as chosen, with a warning when it is predicted not to fit
    const warning = auto || continuation.kind === 'force' ? null : await fitWarning(this.choiceHost(), plan.policy.spec, prompt.length, request);
    const notices = [...(move.failure ? [move.failure] : []), ...(selection?.notices ?? []), ...(warning ? [warning] : []), ...plan.notices, ...(notice ? [notice] : [])];
    const host = this.stageHost(request.cacheLabel);
    const stageTurn = { prompt, continuation, sampling: request.sampling, onEvent, signal, cachePrompt: request.cachePrompt !== false, receivedAt };
    const compacted = continued
      ? null
      : lazy && plan.eviction?.afterLazy
        ? await lazyPrefillAndCompact(host, plan, lazy, stageTurn)
        : plan.eviction?.policy.when === 'prompt' && !plan.layerRule
          ? await compactPrompt(host, plan, stageTurn)
          : null;
    const decided = !plan.layerRule
      ? null
      : plan.eviction
        ? await decideLayersAndCompact(host, plan, plan.layerRule, stageTurn)
        : await decideSimLayerKvLayers(host, plan, plan.layerRule, stageTurn);
    const turnPlan = decided ? trimmedPlan(plan, plan.layerRule!, decided.metrics.trimmedLayers) : plan;
    // a follow-up evaluates only what the previous turn's cache lacks, when this policy's cache is
    // whole or kept; a probe only when it asks to (it checks invariants on a prompt read whole)
    const follows = keptAfter || (!probing && !observe && !compacted && !decided && plan.afterTurn.cache !== 'partial');
    const history = follows && request.cachePrompt !== false ? historyFor(turnPlan, loaded.info, prompt.length, lazy !== null) : null;
    // only a whole cache is saved on disk for another chat, so only a whole one is looked for there
    const diskHistory = wholeAfterTurn(plan) ? history : null;
    const resumePolicy = follows ? plan.policy.spec : null;
    const saveDocument = diskHistory && !diskHistory.allowErase ? this.saved.documentSave(loaded.model, turnPlan, request, prompt, continuation) : null;
    const outcome = await this.withPolicyContext(turnPlan, async (open, sequence, revived) => {
      // a chat new to this engine (another chat on the document, or after a restart): a saved cache
      const saved = diskHistory && sequence.nextTokenIndex === 0 ? await this.saved.restore(turnPlan, sequence, prompt, diskHistory) : null;
      if (saved?.failure) notices.push(saved.failure);
      if (compacted?.statePath) await loadAndDeleteState(sequence, compacted.statePath);
      if (decided?.statePath) {
        const loading = performance.now();
        await loadAndDeleteState(sequence, decided.statePath);
        decided.metrics.moveMs = round(decided.metrics.moveMs + performance.now() - loading);
      }
      return runTurn(
        {
          llama: this.llama,
          model: loaded.model,
          context: open.context,
          sequence,
          prompt,
          receivedAt,
          continuation,
          ...(observe ? { observe } : {}),
          build: this.build.kind,
          batchSize: open.context.batchSize,
          // lazy+evictor prefilled lazily in the full-size context already
          lazy: plan.eviction?.afterLazy ? null : lazy,
          eviction: plan.eviction,
          resume: compacted?.resume ?? decided?.resume ?? null,
          history,
          continued,
          revived,
          restored: saved?.restored ?? null,
          saveDocument,
          simLayerKvDecision: decided?.metrics ?? null,
          selection: selection ? selectionMetrics(selection) : null,
          notice: notices.length ? notices.join(' ') : null,
          kvPredicted: predictKvCost(plan, loaded.info, profile, decided?.metrics.trimmedLayers),
        },
        { ...request, policy: plan.policy.spec },
        onEvent,
        signal,
      );
    }, resumePolicy);
    const kept = this.contexts.liveSequence;
    if (kept && follows && outcome.evicted) this.contexts.keptEvicted(kept, { ...outcome.evicted, plannedFor: continued ? plannedFor : prompt.length });
    const after = conversationAfterTurn(plan.afterTurn, follows && kept !== null, outcome.metrics.lazy);
    const moves = firstRead && kept !== null && (after.next === 'reviving' || after.next === 'whole');
    if (moves) after.nextReason = movingNote(trimmedLater!);
    if (outcome.metrics.conversation) Object.assign(outcome.metrics.conversation, after, move.moved ? { moved: move.moved } : {});
    if (after.next === 'reviving' && kept) this.revival.start(this.llama, kept, prompt.length);
    const worthSaving = this.saved.enabled && outcome.metrics.prefillTokens >= SAVE_MIN_READ_TOKENS && continuation.kind === 'generate' && request.cachePrompt !== false;
    // a windowed cache was saved at the document's end instead: it cannot be cut back to it now
    if ((after.next === 'whole' || after.next === 'reviving') && kept && worthSaving && history?.allowErase) {
      this.saved.startSaving(turnPlan, kept, request.cacheLabel, this.revival.succeeded(), () => this.contexts.liveSequence === kept);
    }
    // after the revival and the save, both of the full-size cache
    if (moves) {
      this.move.start(this.moveHost(), trimmedLater!, kept, async () => {
        const revived = await this.revival.succeeded();
        await this.saved.settle();
        return revived;
      });
    }
    return { outcome, prompt };
  }

  /** The saved caches: listed, deleted, or moved to a folder with a budget (the app's data folder). */
  savedKvRequest(action: SavedKvAction): Promise<SavedKvState> {
    return this.saved.request(action);
  }

  /**
   * How a turn under an evictor's `plan` goes on from the sequence the last turn under it kept:
   * null when the plan's context is not the one it lives in, the prompt does not go on from it, or
   * the sequence no longer holds the tokens recorded for it.
   */
  private evictedContinuation(plan: ContextPlan, prompt: Token[], live: { sequence: LlamaContextSequence; evicted: EvictedConversation }): EvictedContinuation | null {
    const { sequence, evicted } = live;
    if (!this.contexts.holds(plan.shape, sequence)) return null;
    const held = sequence.contextTokens;
    if (held.length !== evicted.origin.length || held.some((token, i) => evicted.stream[evicted.origin[i]!] !== token)) return null;
    return evictedContinuation(evicted, held.length, prompt, historyFor(plan, this.requireLoaded().info, prompt.length, false));
  }

  /** What policy auto's choice runs on: this build, the loaded model and the context held now. */
  private choiceHost(): ChoiceHost {
    return { llama: this.llama, info: this.requireLoaded().info, planOptions: this.planOptions(), heldBytes: this.contexts.heldBytes() };
  }

  /** What a conversation's move into its trimmed context runs on. */
  private moveHost(): MoveHost {
    return { llama: this.llama, contexts: this.contexts, layers: this.requireLoaded().info.layers, open: (shape) => this.ensureContext(shape) };
  }

  /** What the two-context stages run on: this model, and its contexts lent one at a time. */
  private stageHost(label?: string): StageHost {
    const loaded = this.requireLoaded();
    return {
      llama: this.llama,
      model: loaded.model,
      info: loaded.info,
      savedKv: this.saved.store,
      savedKvScope: (holds, shape) => this.saved.scope(holds, shape),
      savedKvDescription: (policy) => this.saved.description(policy, label),
      withContext: (plan, work) => this.withPolicyContext(plan, work),
    };
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

  /**
   * llama.cpp's dry run of each context `policy` creates for a prompt of `promptTokens` (none is
   * allocated), beside Sift's formula for the same shapes. `auto` is resolved first; SimLayerKV's
   * per-prompt rules are sized untrimmed, as their turns start.
   */
  async dryRun(policySpec: string, promptTokens: number, profile: LayerProfile | null = null): Promise<DryRunResult> {
    this.assertIdle();
    const loaded = this.requireLoaded();
    const request: TurnRequest = { messages: [], sampling: GREEDY, policy: policySpec };
    const spec = requestedAuto(policySpec) ? (await previewTurn(this.choiceHost(), request, promptTokens, policySpec)).policy : policySpec;
    const plan = this.plan(this.parseRequestPolicy(spec), promptTokens, profile);
    const model = { path: loaded.info.path, gpuLayers: loaded.model.gpuLayers, slidingWindow: (loaded.model.fileInsights.swaSize ?? 0) > 0 };
    const stages: Array<{ stage: 'prefill' | 'turn'; shape: ContextShape }> = [
      ...(plan.prefillShape ? [{ stage: 'prefill' as const, shape: plan.prefillShape }] : []),
      { stage: 'turn', shape: plan.shape },
    ];
    const contexts: DryRunResult['contexts'] = [];
    for (const { stage, shape } of stages) {
      const measured = await dryRunContext(this.llama, model, shape);
      if (!measured) throw new EngineError('BAD_POLICY', 'A dry run needs the patched build (its memory reading).');
      contexts.push({ stage, contextSize: shape.contextSize, measured, formula: { kvBytes: contextKvBytes(shape, loaded.info), computeBytes: computeBytesEstimate(loaded.info, shape) } });
    }
    return { policy: spec, promptTokens, contexts };
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

  /**
   * Runs `work` on a sequence of a context shaped for the plan, one call at a time: a fresh one, or
   * with `resumePolicy` the one the last turn under that policy kept, which this one keeps in turn
   * when it succeeds (turnRunner.ts evaluates only what the prompt adds to it). `work` learns what
   * the revival of the last lazy turn did, having waited for it.
   */
  private async withPolicyContext<T>(
    plan: ContextPlan,
    work: (open: OpenContext, sequence: ReturnType<LlamaContext['getSequence']>, revived: ConversationRevived) => Promise<T>,
    resumePolicy: string | null = null,
  ): Promise<T> {
    this.assertIdle();
    this.requireLoaded();
    this.busy = true;
    try {
      await this.move.settle(this.contexts);
      const revived = await this.revival.settle(this.contexts);
      await this.saved.settle();
      const open = await this.ensureContext(plan.shape);
      resetLazyState(this.llama, open.context);
      const sequence = this.contexts.sequenceOf(open, plan.eviction !== null, resumePolicy);
      let keep = false;
      try {
        const result = await work(open, sequence, revived);
        keep = resumePolicy !== null;
        return result;
      } finally {
        if (keep) this.contexts.keep(sequence, resumePolicy!);
        else sequence.dispose();
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
    return this.contexts.ensure(loaded.model, loaded.info.name, shape, loaded.info.threads);
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

/** What a lazy+simlayerkv first read leaves for the next question, beside its revival. */
function movingNote(plan: ContextPlan): string {
  const { trimmedLayers, sink, window } = plan.shape;
  return `then moved into the trimmed layers' cache (${trimmedLayers.length} layers keep ${sink} first and ${window} recent tokens)`;
}

/** Whether a turn under `plan` leaves the conversation's cache whole (at once, or once revived while idle). */
function wholeAfterTurn(plan: ContextPlan): boolean {
  return plan.afterTurn.cache === 'whole' || plan.afterTurn.cache === 'revivable';
}
