// The contexts a policy needs for one prompt, and what they cost: each press contributes its part
// of the context shape (press.ts, planContext), in pipeline order; the KV bytes follow from the
// shapes exactly as llama.cpp allocates them. The engine creates the contexts this plan names,
// so the prediction and the allocation cannot drift apart unnoticed: test/integration/press-cost
// compares them with llama_get_memory_breakdown. Pure: the selector and the settings panel use it.
import { kvRowBytes, padToStep } from './kvBytes.js';
import type { LayerProfile } from './simLayerKvLayers.js';
import { ROLE_ORDER, type AfterTurn, type NativeFeature, type PressDeclaration } from './press.js';
import { parsePolicyPresses, type EvictionPolicy, type KvCacheType, type KvPolicy } from './spec.js';

export { CONTEXT_STEP, kvRowBytes } from './kvBytes.js';

/** What the planner needs to know of a loaded model. */
export interface ModelKvShape {
  architecture: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Sliding-window attention (modelShape.ts): the window, and the layers using it; absent or 0: none. */
  slidingWindow?: number;
  slidingLayers?: readonly number[];
  /** The largest context the engine opens for it (the model's, at most the configured size). */
  contextSize: number;
}

/** How the engine was started, and what its build can do. */
export interface PlanOptions {
  batchSize: number;
  flashAttention: boolean;
  swaFullCache: boolean;
  features: ReadonlySet<NativeFeature>;
}

/** What a context is created with; a policy needing another shape gets a new context. */
export interface ContextShape {
  kvType: KvCacheType;
  flashAttention: boolean;
  contextSize: number;
  /** Tokens evaluated at once (llama.cpp's batch and ubatch): a window cache's size includes it. */
  batchSize: number;
  /** SimLayerKV: layers whose cache holds only `sink` first and `window` recent tokens. */
  trimmedLayers: number[];
  sink: number;
  window: number;
  /** Sliding-window layers keep every token's K/V (llama.cpp's swa_full). */
  swaFull: boolean;
}

/** An evictor's turn: the budget its context is created with, and the room each round frees. */
export interface EvictionPlan {
  policy: EvictionPolicy;
  /** Cells the context was created with: the budget. */
  budgetTokens: number;
  /** Cells an eviction round frees (the prefill chunk size, and decode steps between rounds). */
  headroom: number;
  layers: number;
  /**
   * The prompt is lazily prefilled at full size first and evicted once after it (lazy+evictor):
   * tokens the lazy prefill pruned have no K/V in the deeper layers, so they go first.
   */
  afterLazy: boolean;
}

/** SimLayerKV decided per prompt: after a full-size prefill, from observed attention. */
export interface LayerRule {
  rule: 'prefill' | 'decode';
  delta: number;
  sink: number;
  window: number;
  lastW: number;
}

export interface ContextPlan {
  policy: KvPolicy;
  /** The context the turn answers in: its KV is the turn's steady KV. */
  shape: ContextShape;
  /** A full-size context the prompt is prefilled in first (when=prompt, SimLayerKV per prompt, lazy with trimmed layers); null: none. */
  prefillShape: ContextShape | null;
  eviction: EvictionPlan | null;
  /** SimLayerKV per prompt: `shape` is untrimmed until the decision. */
  layerRule: LayerRule | null;
  /**
   * lazy+simlayerkv: a conversation's first read is a lazy prefill that answers in `prefillShape`
   * (untrimmed); once its pruned tokens are revived while idle, the conversation moves into
   * `shape`, whose trimmed layers keep only sinks and the recent window, and follow-ups answer there.
   */
  trimAfterRevival: boolean;
  /** Presses that run (a press whose requirement is missing is left out, with a notice). */
  applied: string[];
  notices: string[];
  /** What the cache holds after the turn, for a follow-up: the most partial of the running presses' declarations. */
  afterTurn: AfterTurn;
}

/** What a press's planContext sees and changes. */
export interface PlanDraft extends Omit<ContextPlan, 'policy' | 'applied' | 'afterTurn'> {
  /** Every press that runs this turn, known before any plans (an evictor plans for the lazy prefill before it). */
  readonly applied: readonly string[];
  readonly model: ModelKvShape;
  readonly promptTokens: number;
  readonly profile: LayerProfile | null;
  readonly options: PlanOptions;
}

const FEATURE_NEEDS = { kvBudgets: 'the patched build', lazyPrefill: 'the patched build', observation: 'the patched build' } as const;

export function planContexts(policy: KvPolicy, model: ModelKvShape, promptTokens: number, profile: LayerProfile | null, options: PlanOptions): ContextPlan {
  const presses = parsePolicyPresses(policy.spec).map((e) => e.press);
  presses.sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role));
  const notices: string[] = [];
  // first which presses run (a missing requirement leaves one out, with a notice), then each plans
  const running = presses.filter((press) => {
    const { native, architectures } = press.requires;
    if (native && !options.features.has(native)) {
      notices.push(`${press.title} needs ${FEATURE_NEEDS[native]}; this turn ${press.fallback}.`);
      return false;
    }
    if (architectures && !architectures.includes(model.architecture)) {
      notices.push(`${press.title} does not support ${model.architecture} models yet; this turn ${press.fallback}.`);
      return false;
    }
    return true;
  });
  const applied = running.map((press) => press.name);
  const batchSize = Math.min(options.batchSize, model.contextSize);
  const draft: PlanDraft = {
    model,
    promptTokens,
    profile,
    options,
    applied,
    shape: { kvType: 'f16', flashAttention: options.flashAttention, contextSize: model.contextSize, batchSize, trimmedLayers: [], sink: 0, window: 0, swaFull: options.swaFullCache },
    prefillShape: null,
    eviction: null,
    layerRule: null,
    trimAfterRevival: false,
    notices,
  };
  for (const press of running) press.planContext?.(policy, draft);
  const { shape, prefillShape, eviction, layerRule, trimAfterRevival } = draft;
  return { policy, shape, prefillShape, eviction, layerRule, trimAfterRevival, applied, notices, afterTurn: afterTurnOf(running, policy) };
}

/**
 * A partial cache from any press makes the turn's cache partial; a kept one, kept (a lazy prefill
 * before an evictor is compacted by it, so nothing is left to revive); a revivable one, revivable.
 */
function afterTurnOf(running: readonly PressDeclaration[], policy: KvPolicy): AfterTurn {
  const declared = running.map((press) => press.afterTurn?.(policy) ?? { cache: 'whole' as const });
  return (
    declared.find((a) => a.cache === 'partial') ??
    declared.find((a) => a.cache === 'kept') ??
    declared.find((a) => a.cache === 'revivable') ??
    { cache: 'whole' }
  );
}

/**
 * Cells of one layer's cache: a trimmed layer's holds its sinks, window and one batch
 * (llama-sift-kv-budget.cpp); a sliding-window layer of the model's own, its window and one batch,
 * the batch one more than asked (node-llama-cpp adds a slot for such models), unless swa_full
 * (llama_kv_cache_iswa: GGML_PAD(min(size, n_swa + n_ubatch), 256)).
 */
export function layerCells(shape: ContextShape, layer: number, model?: Pick<ModelKvShape, 'slidingWindow' | 'slidingLayers'>): number {
  const full = padToStep(shape.contextSize);
  if (shape.trimmedLayers.includes(layer)) return Math.min(full, padToStep(shape.window + shape.sink + shape.batchSize));
  if (!shape.swaFull && model?.slidingWindow && model.slidingLayers?.includes(layer)) {
    return Math.min(full, padToStep(model.slidingWindow + Math.min(shape.batchSize, shape.contextSize) + 1));
  }
  return full;
}

/** K and V bytes a context of this shape allocates, every layer (what llama_get_memory_breakdown reports as KV). */
export function contextKvBytes(shape: ContextShape, model: ModelKvShape): number {
  const row = kvRowBytes(model, shape.kvType);
  let bytes = 0;
  for (let layer = 0; layer < model.layers; layer++) bytes += 2 * row * layerCells(shape, layer, model);
  return bytes;
}

export interface KvCost {
  /** KV bytes of the context the turn answers in. */
  steadyKvBytes: number;
  /** The most KV allocated at once during the turn (a full-size prefill context first, if any). */
  peakKvBytes: number;
  /**
   * False when steady depends on what the turn decides (SimLayerKV per prompt: then steady
   * assumes `decidedTrimmedLayers`, the profile's layers, or none). A model's own sliding-window
   * layers are counted as llama.cpp sizes them (layerCells), checked against its dry run.
   */
  exact: boolean;
}

/** The plan's KV bytes; `decidedTrimmedLayers` are the layers SimLayerKV's per-prompt rule chose, when known. */
export function predictKvCost(plan: ContextPlan, model: ModelKvShape, profile: LayerProfile | null, decidedTrimmedLayers?: number[]): KvCost {
  let steadyShape = plan.shape;
  if (plan.layerRule) {
    const trimmedLayers = decidedTrimmedLayers ?? profile?.trimmedLayers ?? [];
    if (trimmedLayers.length > 0) steadyShape = { ...plan.shape, trimmedLayers, sink: plan.layerRule.sink, window: plan.layerRule.window };
  }
  const steadyKvBytes = contextKvBytes(steadyShape, model);
  const firstKvBytes = plan.prefillShape ? contextKvBytes(plan.prefillShape, model) : plan.layerRule ? contextKvBytes(plan.shape, model) : 0;
  const exact = plan.layerRule === null || decidedTrimmedLayers !== undefined;
  return { steadyKvBytes, peakKvBytes: Math.max(steadyKvBytes, firstKvBytes), exact };
}
