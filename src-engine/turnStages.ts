// The two-context stages of a turn: the prompt is prefilled in a context of the full size, the
// stage decides what to keep, and the sequence is saved to a file that the turn's own (smaller)
// context loads (turnRunner.ts then resumes from there). Four stages:
// - compactPrompt (when=prompt, reuse=disk): prefill, one eviction round with the question in view;
// - lazyPrefillAndCompact (lazy+evictor): a lazy prefill, its first token, one eviction round;
// - decideSimLayerKvLayers (simlayerkv:rule=prefill|decode): prefill while observing, decide the
//   trimmed layers, rewrite the saved sequence for their window caches (kvStateLayout.ts);
// - decideLayersAndCompact (simlayerkv:rule=prefill+evictor): both, the layers decided first.
// Each runs for a generated answer and for a forced one (teacher forcing) alike.
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Llama, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import type { ContextPlan, LayerRule } from '../src-common/policy/contextPlan.js';
import type { DocumentReuseMetrics, ModelInfo, SamplingOptions, SimLayerKvDecisionMetrics, TurnEvent } from '../src-common/engineTypes.js';
import type { OpenContext } from './contextPool.js';
import type { SavedKvStore } from './savedKvStore.js';
import type { ContextShape } from '../src-common/policy/contextPlan.js';
import { prefillThenEvict } from './kvEviction.js';
import { lazyPrefillThenEvict } from './lazyEvictionStage.js';
import type { LazyTurn } from './lazyPrefillRun.js';
import { convertStateToTrimmedLayout } from './kvStateLayout.js';
import { decideLayersForced, prefillAndDecideLayers, type DecisionTarget } from './simLayerKvDecision.js';
import { argmax, sampleToken } from './sampling.js';
import { readKvMemoryBytes } from './siftNative.js';
import { checkPromptFits, type Continuation, type ResumedPrefill } from './turnRunner.js';
import { EngineError } from './engineError.js';

/** What a stage runs on: the loaded model, and a context of a plan's shape lent for the work. */
export interface StageHost {
  llama: Llama;
  model: LlamaModel;
  info: ModelInfo;
  /** Saved caches (reuse=disk keeps the document's full KV there), and the scope a context's shape saves under. */
  savedKv: SavedKvStore;
  savedKvScope(holds: string, shape: ContextShape): string;
  savedKvDescription(policy: string): { label: string; policy: string; model: string; build: string };
  withContext<T>(plan: ContextPlan, work: (open: OpenContext, sequence: LlamaContextSequence) => Promise<T>): Promise<T>;
}

/** What a stage leaves for the turn: the saved sequence (null when nothing is to be loaded) and how to resume. */
export interface StageResult {
  statePath: string | null;
  resume: ResumedPrefill;
}

export interface SimLayerKvStageResult extends StageResult {
  metrics: SimLayerKvDecisionMetrics;
}

/** A turn's prompt and continuation as a stage needs them. */
export interface StageTurn {
  prompt: Token[];
  continuation: Continuation;
  sampling: SamplingOptions;
  onEvent: (event: TurnEvent) => void;
  signal: AbortSignal;
  /** false: read the whole prompt, restoring nothing stored (reuse=disk) either. */
  cachePrompt: boolean;
  /** When the engine got the request (performance.now()): TTFT counts from it. */
  receivedAt: number;
}

/** The plan of a stage's full-size context: the prefill's shape, and no stage of its own. */
function fullSizePlan(plan: ContextPlan, keepEviction = false): ContextPlan {
  return { ...plan, shape: plan.prefillShape ?? plan.shape, prefillShape: null, layerRule: null, eviction: keepEviction ? plan.eviction : null };
}

function forcedCount(continuation: Continuation): number {
  return continuation.kind === 'force' ? continuation.follow.length : 0;
}

function stateFile(prefix: string): string {
  return path.join(os.tmpdir(), `${prefix}-${process.pid}-${Date.now()}`);
}

/**
 * when=prompt: prefills the prompt (but its last token) at full size, evicts once with the
 * question in view, and saves the kept tokens, so the turn goes on in a context of the budget's
 * size (the big one is then freed). reuse=disk restores the shared prefix of an earlier prompt.
 */
export async function compactPrompt(host: StageHost, plan: ContextPlan, turn: StageTurn): Promise<StageResult & { resume: { reuse: DocumentReuseMetrics | null } }> {
  const eviction = plan.eviction!;
  const { prompt, onEvent, signal } = turn;
  checkPromptFits(prompt.length, host.info.contextSize);
  const started = turn.receivedAt;
  const report = (done: number) => onEvent({ type: 'progress', phase: 'prefill', done, total: prompt.length });
  report(0);
  const reusing = eviction.policy.reuse === 'disk';
  // the last `window` prompt tokens are always evaluated again: their attention is what ranks
  // the tokens, so a follow-up is ranked on the same footing as a fresh prefill
  // the full KV before eviction, in the full-size context: any budget of the same shape can use it
  const scope = host.savedKvScope('full-prefix', fullSizePlan(plan).shape);
  const match = reusing && turn.cachePrompt ? await host.savedKv.find(scope, prompt, { minShared: Math.ceil(prompt.length / 2), wholeOnly: false }) : null;
  const heldTokens = match ? Math.max(0, Math.min(match.sharedTokens, prompt.length - 1 - eviction.policy.window)) : 0;
  const reuse: DocumentReuseMetrics | null = reusing ? { reusedTokens: 0, restoreMs: 0, storeMs: 0, storedBytes: 0 } : null;
  return host.withContext(fullSizePlan(plan), async (open, sequence) => {
    if (match && reuse && heldTokens > 0) {
      const restoring = performance.now();
      await host.savedKv.restore(sequence, { ...match, sharedTokens: heldTokens });
      reuse.restoreMs = round(performance.now() - restoring);
      reuse.reusedTokens = heldTokens;
    }
    const storeFullKv = async () => {
      if (!reuse) return;
      const storing = performance.now();
      const saved = await host.savedKv.save(scope, sequence, host.savedKvDescription(plan.policy.spec));
      reuse.storeMs = round(performance.now() - storing);
      reuse.storedBytes = saved?.bytes ?? 0;
    };
    const evicted = await prefillThenEvict(host.llama, sequence, eviction, prompt, report, signal, {
      heldTokens: reuse?.reusedTokens ?? 0,
      beforeEvict: storeFullKv,
    });
    const kvBytesPeak = readKvMemoryBytes(host.llama, open.context);
    // cancelled: the turn goes on empty and stops at once
    if (!evicted) return { statePath: null, resume: { started, kvBytesPeak, stats: { evicted: 0, rounds: 0, prefillRounds: 0, evictMs: 0, lookaheadTokens: 0, lookaheads: 0, recalledTokens: 0 }, reuse } };
    const statePath = `${stateFile('sift-kv')}.state`;
    await sequence.saveStateToFile(statePath);
    return { statePath, resume: { started, kvBytesPeak, stats: evicted.stats, origin: evicted.origin, reuse } };
  });
}

/**
 * lazy+evictor: a lazy prefill of the whole prompt at full size, the first answer token (sampled
 * and shown at once, or the first forced one), one eviction round (lazyEvictionStage.ts), and the
 * kept tokens saved for the budget's context (rewritten for its trimmed layers, with simlayerkv),
 * where the turn goes on from that token.
 */
export async function lazyPrefillAndCompact(host: StageHost, plan: ContextPlan, lazy: LazyTurn, turn: StageTurn): Promise<StageResult> {
  const { model } = host;
  const { prompt, continuation, onEvent, signal } = turn;
  checkPromptFits(prompt.length, host.info.contextSize);
  const started = turn.receivedAt;
  onEvent({ type: 'progress', phase: 'prefill', done: 0, total: prompt.length });
  const forcing = continuation.kind === 'force';
  let shownText = '';
  const pick = (logits: Float32Array): Token => {
    // the turn's greedy first token is the forced one when a probe follows a greedy answer
    if (continuation.kind === 'force') return (continuation.follow[0] ?? argmax(logits)) as Token;
    const first = sampleToken(logits, turn.sampling) as Token;
    const text = model.isEogToken(first) ? '' : model.detokenize([first]);
    // shown now, before the eviction round and the move: the TTFT the person sees
    if (text && !text.endsWith('\uFFFD')) onEvent({ type: 'token', text });
    shownText = text.endsWith('\uFFFD') ? '' : text;
    return first;
  };
  return host.withContext(fullSizePlan(plan), async (open, sequence) => {
    const stage = await lazyPrefillThenEvict(host.llama, sequence, plan.eviction!, lazy, prompt, onEvent, signal, {
      pick,
      endsAnswer: forcing ? undefined : (first) => model.isEogToken(first) || signal.aborted,
    });
    const kvBytesPeak = readKvMemoryBytes(host.llama, open.context);
    if (!stage) {
      if (forcing) throw new EngineError('INTERNAL', 'the lazy prefill stopped without being cancelled');
      return { statePath: null, resume: { started, kvBytesPeak, stopReason: 'cancelled' } };
    }
    const first = stage.first;
    const lazyPart = { lazy: stage.lazy, computed: stage.computed, keys: stage.keys, firstTokenAt: stage.firstAt, stats: stage.eviction, origin: stage.origin };
    // the budget's context may have SimLayerKV's trimmed layers, which the full-size one lacks
    const save = () => saveTrimmed(sequence, plan.shape.trimmedLayers, plan.shape, host.info.layers);
    // forced: the sequence holds the prompt; the turn forces the rest after its logits row
    if (forcing) return { statePath: await save(), resume: { started, kvBytesPeak, ...lazyPart, logits: [stage.logits] } };
    if (model.isEogToken(first)) return { statePath: null, resume: { started, kvBytesPeak, ...lazyPart, generated: [], stopReason: 'eos' } };
    if (signal.aborted) return { statePath: null, resume: { started, kvBytesPeak, ...lazyPart, generated: [first], shownText, stopReason: 'cancelled' } };
    return { statePath: await save(), resume: { started, kvBytesPeak, ...lazyPart, generated: [first], shownText } };
  });
}

/**
 * SimLayerKV per prompt: prefills at full size while observing the rule's queries, decides the
 * trimmed layers, and saves the sequence rewritten for a context whose trimmed layers keep only
 * sinks and the recent window (kvStateLayout.ts); the turn goes on there.
 */
export async function decideSimLayerKvLayers(host: StageHost, plan: ContextPlan, rule: LayerRule, turn: StageTurn): Promise<SimLayerKvStageResult> {
  const { prompt, continuation, onEvent, signal } = turn;
  checkPromptFits(prompt.length + forcedCount(continuation), host.info.contextSize);
  const started = turn.receivedAt;
  onEvent({ type: 'progress', phase: 'prefill', done: 0, total: prompt.length });
  return host.withContext(fullSizePlan(plan, true), async (open, sequence) => {
    const target: DecisionTarget = { llama: host.llama, model: host.model, sequence, prompt, layers: host.info.layers, rule };
    const forced = continuation.kind === 'force' ? await decideLayersForced(target, continuation.follow) : null;
    const decision = forced ? forced.decision : await prefillAndDecideLayers(target, turn.sampling, onEvent, signal);
    const kvBytesPeak = readKvMemoryBytes(host.llama, open.context);
    const metrics: SimLayerKvDecisionMetrics = { rule: rule.rule, delta: rule.delta, scores: decision?.scores ?? [], trimmedLayers: decision?.trimmedLayers ?? [], moveMs: 0 };
    if (!decision) return { statePath: null, resume: { started, kvBytesPeak, stopReason: 'cancelled' }, metrics };
    const resume: ResumedPrefill = forced
      ? { started, kvBytesPeak, logits: forced.logits }
      : { started, kvBytesPeak, generated: decision.generated, firstTokenAt: decision.firstTokenAt, stopReason: decision.stopReason };
    const moving = performance.now();
    const statePath = await saveTrimmed(sequence, decision.trimmedLayers, rule, host.info.layers);
    metrics.moveMs = round(performance.now() - moving);
    return { statePath, resume, metrics };
  });
}

/**
 * SimLayerKV per prompt with an evictor (simlayerkv:rule=prefill+vatp, say): the prefill rule's
 * full-size prefill decides the trimmed layers; the evictor's query window is then evaluated again
 * with its own observation (the rule observed `lastW` queries for layers, the evictor ranks by
 * `window` queries for tokens), one eviction round runs with the question in view, and the kept
 * tokens are saved rewritten for the trimmed layers' window caches, in the budget's context.
 */
export async function decideLayersAndCompact(host: StageHost, plan: ContextPlan, rule: LayerRule, turn: StageTurn): Promise<SimLayerKvStageResult> {
  const eviction = plan.eviction!;
  const { prompt, onEvent, signal } = turn;
  if (rule.rule !== 'prefill') throw new EngineError('INTERNAL', `simlayerkv:rule=${rule.rule} does not run with an evictor`);
  checkPromptFits(prompt.length, host.info.contextSize);
  const started = turn.receivedAt;
  const report = (done: number) => onEvent({ type: 'progress', phase: 'prefill', done, total: prompt.length });
  report(0);
  return host.withContext(fullSizePlan(plan), async (open, sequence) => {
    const target: DecisionTarget = { llama: host.llama, model: host.model, sequence, prompt, layers: host.info.layers, rule };
    const decision = await prefillAndDecideLayers(target, turn.sampling, onEvent, signal);
    const metrics: SimLayerKvDecisionMetrics = { rule: rule.rule, delta: rule.delta, scores: decision?.scores ?? [], trimmedLayers: decision?.trimmedLayers ?? [], moveMs: 0 };
    const cancelled = () => ({ statePath: null, resume: { started, kvBytesPeak: readKvMemoryBytes(host.llama, open.context), stopReason: 'cancelled' as const }, metrics });
    if (!decision) return cancelled();
    const heldTokens = Math.max(0, prompt.length - 1 - eviction.policy.window);
    await sequence.eraseContextTokenRanges([{ start: heldTokens, end: sequence.nextTokenIndex }]);
    const evicted = await prefillThenEvict(host.llama, sequence, eviction, prompt, report, signal, { heldTokens });
    const kvBytesPeak = readKvMemoryBytes(host.llama, open.context);
    if (!evicted) return cancelled();
    const moving = performance.now();
    const statePath = await saveTrimmed(sequence, decision.trimmedLayers, rule, host.info.layers);
    metrics.moveMs = round(performance.now() - moving);
    return { statePath, resume: { started, kvBytesPeak, stats: evicted.stats, origin: evicted.origin, reuse: null }, metrics };
  });
}

/** The plan a per-prompt SimLayerKV decision leads to: its trimmed layers get their window cache. */
export function trimmedPlan(plan: ContextPlan, rule: LayerRule, trimmedLayers: number[]): ContextPlan {
  if (trimmedLayers.length === 0) return { ...plan, layerRule: null, prefillShape: null };
  return { ...plan, layerRule: null, prefillShape: null, shape: { ...plan.shape, trimmedLayers, sink: rule.sink, window: rule.window } };
}

/**
 * Saves the sequence for a context whose `trimmedLayers` keep only sinks and the recent window:
 * rewritten to that layout (kvStateLayout.ts), or as is when no layer is trimmed.
 */
export async function saveTrimmed(sequence: LlamaContextSequence, trimmedLayers: number[], rule: Pick<LayerRule, 'sink' | 'window'>, layers: number): Promise<string> {
  const base = stateFile('sift-layers');
  const full = `${base}.full.state`;
  await sequence.saveStateToFile(full);
  if (trimmedLayers.length === 0) return full;
  const trimmed = `${base}.trimmed.state`;
  try {
    await convertStateToTrimmedLayout(full, trimmed, { trimmedLayers, sink: rule.sink, window: rule.window }, { expectedLayers: layers });
  } finally {
    await rm(full, { force: true });
  }
  return trimmed;
}

/** Loads a state a stage saved in its context, and deletes the file. */
export async function loadAndDeleteState(sequence: LlamaContextSequence, statePath: string): Promise<void> {
  try {
    await sequence.loadStateFromFile(statePath, { acceptRisk: true });
  } finally {
    await rm(statePath, { force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
