// SimLayerKV decided per prompt (simlayerkv:rule=prefill|decode). The prompt is prefilled at full
// size while the rule's queries are observed: the last `lastW` prompt queries (the paper's prefill
// variant) or the first generated token (the reference code's decode variant, which also makes
// that one decoding step at full size). A layer is lazy when the observed attention mass on the
// first `sink` and the last `window` tokens is above delta. The engine then moves the sequence into
// a context whose trimmed layers keep only those tokens (kvStateLayout.ts), so the decision is made
// once per prompt and stays.
import type { Llama, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import type { LayerRule } from '../src-common/policy/contextPlan.js';
import { layerLaziness } from '../src-common/policy/simLayerKvLayers.js';
import { forcedLogits } from './forcedLogits.js';
import { readObservationWithPositions, setObservation } from './siftNative.js';
import type { SamplingOptions, StopReason, TurnEvent } from '../src-common/engineTypes.js';

export type { LayerRule };

/** What a decision runs on: a full-size context's sequence, the prompt and the rule. */
export interface DecisionTarget {
  llama: Llama;
  model: LlamaModel;
  sequence: LlamaContextSequence;
  prompt: readonly Token[];
  /** The model's layer count. */
  layers: number;
  rule: LayerRule;
}

export interface SimLayerKvDecision {
  /** Per layer: the observed queries' attention mass on the sinks and the recent window. */
  scores: number[];
  trimmedLayers: number[];
  /** decode rule: answer tokens sampled at full size (the first, and the one after the observed step). */
  generated: Token[];
  /** decode rule: the answer ended among those tokens (end of generation, or the token limit). */
  stopReason: StopReason | null;
  /** decode rule: when the first answer token was known (performance.now()). */
  firstTokenAt: number | null;
}

/** Prefill chunks aligned to the end, so the last one holds at least the observed queries. */
function chunksFromEnd(length: number, batchSize: number): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  for (let end = length; end > 0; end -= batchSize) chunks.unshift([Math.max(0, end - batchSize), end]);
  return chunks;
}

/** Each layer's score from the last observation; `n` is the positions evaluated so far. */
function scoreLayers({ llama, sequence, layers, rule }: DecisionTarget, n: number): number[] {
  const { positions, layers: observed } = readObservationWithPositions(llama, sequence, layers);
  const scores = new Array<number>(layers).fill(0);
  for (const layer of observed) scores[layer.layer] = layerLaziness(layer, positions, n, rule.sink, rule.window);
  return scores;
}

/** Prefills all but the last prompt token, observing the last `lastW` queries for the prefill rule. */
async function prefillObserved(
  { llama, sequence, prompt, rule }: DecisionTarget,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<boolean> {
  const context = sequence.context;
  await sequence.clearHistory();
  const prefill = prompt.slice(0, -1);
  const chunks = chunksFromEnd(prefill.length, context.batchSize);
  for (const [index, [start, end]] of chunks.entries()) {
    if (signal.aborted) return false;
    const last = index === chunks.length - 1;
    if (last && rule.rule === 'prefill') setObservation(llama, context, Math.min(rule.lastW, end - start));
    await sequence.evaluateWithoutGeneratingNewTokens(prefill.slice(start, end));
    onEvent({ type: 'progress', phase: 'prefill', done: end, total: prompt.length });
  }
  return true;
}

/**
 * Prefills the prompt on `sequence` (a context of the full size) and decides the trimmed layers.
 * The prefill rule leaves the last prompt token unevaluated, as a turn's prefill does; the decode
 * rule evaluates it and the first answer token. Returns null if cancelled.
 */
export async function prefillAndDecideLayers(
  target: DecisionTarget,
  sampling: SamplingOptions,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<SimLayerKvDecision | null> {
  const { llama, sequence, prompt, rule } = target;
  try {
    if (!(await prefillObserved(target, onEvent, signal))) return null;
    if (rule.rule === 'prefill') return decidedBy(scoreLayers(target, prompt.length - 1), rule.delta);
    return await decideAtFirstToken(target, sampling, signal);
  } finally {
    setObservation(llama, sequence.context, 0);
  }
}

/**
 * The same decision with a forced continuation (teacher forcing, for fidelity checks): the decode
 * rule observes `follow[0]` as the first answer token. Returns the decision and the logits computed
 * at full size: none for the prefill rule; after the prompt and after follow[0] for the decode rule.
 */
export async function decideLayersForced(
  target: DecisionTarget,
  follow: readonly Token[],
): Promise<{ decision: SimLayerKvDecision; logits: Float32Array[] }> {
  const { llama, sequence, prompt, layers, rule } = target;
  const never = new AbortController().signal;
  try {
    await prefillObserved(target, () => undefined, never);
    if (rule.rule === 'prefill') return { decision: decidedBy(scoreLayers(target, prompt.length - 1), rule.delta), logits: [] };
    // nothing forced: no first answer token to observe, so no layer is lazy
    if (follow.length === 0) return { decision: decidedBy(new Array<number>(layers).fill(0), Infinity), logits: [] };
    // one ubatch of the last prompt token and follow[0]: observing its last row reads follow[0]'s query
    setObservation(llama, sequence.context, 1);
    const logits = await forcedLogits(sequence, [prompt[prompt.length - 1]!, follow[0]!]);
    return { decision: decidedBy(scoreLayers(target, prompt.length + 1), rule.delta), logits };
  } finally {
    setObservation(llama, sequence.context, 0);
  }
}

/** The decode rule: the first answer token's query, observed while it is evaluated. */
async function decideAtFirstToken(target: DecisionTarget, sampling: SamplingOptions, signal: AbortSignal): Promise<SimLayerKvDecision> {
  const { llama, model, sequence, prompt, layers, rule } = target;
  const options =
    sampling.temperature > 0
      ? { temperature: sampling.temperature, topP: sampling.topP, seed: sampling.seed, yieldEogToken: true }
      : { yieldEogToken: true };
  const generated: Token[] = [];
  let stopReason: StopReason | null = null;
  let scores: number[] | null = null;
  let firstTokenAt: number | undefined;
  const tokens = sequence.evaluate(prompt.slice(-1), options)[Symbol.asyncIterator]();
  try {
    const first = await tokens.next();
    firstTokenAt = performance.now();
    if (first.done || model.isEogToken(first.value)) stopReason = 'eos';
    else if (generated.push(first.value) >= sampling.maxTokens) stopReason = 'maxTokens';
    else if (signal.aborted) stopReason = 'cancelled';
    else {
      // the next step evaluates the first answer token: its query is the one the rule reads
      setObservation(llama, sequence.context, 1);
      const second = await tokens.next();
      // read before observation is turned off: turning it off drops what was observed
      scores = scoreLayers(target, prompt.length + 1);
      setObservation(llama, sequence.context, 0);
      if (second.done || model.isEogToken(second.value)) stopReason = 'eos';
      else if (generated.push(second.value) >= sampling.maxTokens) stopReason = 'maxTokens';
    }
  } finally {
    await tokens.return?.();
  }
  // an answer that ended before the observed step needs no trimming
  const measured = scores ?? new Array<number>(layers).fill(0);
  return { scores: measured, trimmedLayers: scores ? lazyOf(scores, rule.delta) : [], generated, stopReason, firstTokenAt: firstTokenAt ?? null };
}

function lazyOf(scores: readonly number[], delta: number): number[] {
  return scores.flatMap((score, layer) => (score > delta ? [layer] : []));
}

/** A decision from scores alone (no answer tokens sampled while deciding). */
function decidedBy(scores: number[], delta: number): SimLayerKvDecision {
  return { scores, trimmedLayers: lazyOf(scores, delta), generated: [], stopReason: null, firstTokenAt: null };
}
