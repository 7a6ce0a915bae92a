// What policy auto weighs for one turn: its input (memory, model shape, prompt, calibration),
// what a policy is predicted to take (the presses' own cost model, contextPlan.ts, as llama.cpp
// allocates), and the words its explanations share. select.ts runs the ladder; lossySelection.ts
// chooses among the lossy candidates.
import { formatBytes } from '../format.js';
import { planContexts, predictKvCost, type ContextShape, type ModelKvShape, type PlanOptions } from './contextPlan.js';
import type { FrontierPoint, ModelFrontier } from './frontier.js';
import type { LayerProfile } from './simLayerKvLayers.js';
import { parsePolicy } from './spec.js';

export type Preference = 'exact' | 'balanced' | 'fast';

export const PREFERENCES: readonly Preference[] = ['exact', 'balanced', 'fast'];

export const DEFAULT_PREFERENCE: Preference = 'balanced';

/** The smallest eviction budget auto offers: fewer tokens keep too little of a document to answer from. */
export const MIN_BUDGET_TOKENS = 256;

export interface SelectionModel extends ModelKvShape {
  name: string;
  /** Bytes of the weights (the GGUF file's size). */
  weightsBytes: number;
  trainContextSize: number;
}

export interface SelectionInput {
  model: SelectionModel;
  promptTokens: number;
  /** Answer tokens the turn may generate: the context must hold them after the prompt. */
  answerTokens: number;
  /** Free bytes where the KV cache lives (RAM for the CPU, the device's VRAM when offloaded). */
  freeBytes: number;
  /** 'RAM' or a device name, for the explanation. */
  memoryName: string;
  /**
   * The model runs on a GPU. There a prefill is not FLOP-bound the way it is on a CPU: lazy prefill
   * measured slower than full KV (0.48–0.54× of stock's TTFT on an H200, docs/NATIVE.md), so
   * preference `fast` keeps full KV.
   */
  onGpu?: boolean;
  /** The weights already take memory that freeBytes leaves out (the model is loaded). */
  weightsLoaded: boolean;
  marginBytes: number;
  /** Compute-buffer bytes a context of this shape allocates beside its KV. */
  computeBytes: (shape: ContextShape) => number;
  options: PlanOptions;
  profile: LayerProfile | null;
  /** What this model's lossy policies measured on real prose (sift calibrate, or shipped); null: not calibrated. */
  frontier?: ModelFrontier | null;
  preference: Preference;
  /** The most the KV cache may take (a cache budget the person set), beside what memory allows; null: no cap. */
  kvBudgetBytes?: number | null;
}

export interface PredictedBytes {
  /** Weights still to be loaded (0 when they already are). */
  model: number;
  /** KV of the context the turn answers in. */
  kv: number;
  compute: number;
  /** The most the turn holds at once: weights to load, the largest KV and compute. */
  peak: number;
  /** What stays while it generates. */
  steady: number;
}

export interface Selection {
  /** The policy to run (the --policy grammar); for a turn that does not fit, the least that came closest. */
  policy: string;
  fits: boolean;
  /** Loses information compared with full KV (eviction, lazy prefill). */
  lossy: boolean;
  predictedBytes: PredictedBytes;
  /** Bytes the turn may use: free minus the margin. */
  availableBytes: number;
  /** Where they are: 'RAM' or the device's memory. */
  memoryName: string;
  /** One sentence a person understands. */
  explanation: string;
  notices: string[];
}

export interface Candidate {
  policy: string;
  lossy: boolean;
  bytes: PredictedBytes;
  /** The frontier's measurement behind a lossy choice. */
  measured?: FrontierPoint | null;
  /** Points of agreement with full KV a lossy choice is expected to lose, from the frontier; undefined: not calibrated. */
  loss?: number;
}

/** Bytes a policy's contexts take for this prompt, from the presses' plan. */
export function predictPolicyBytes(input: SelectionInput, policy: string): PredictedBytes {
  const plan = planContexts(parsePolicy(policy), input.model, input.promptTokens, input.profile, input.options);
  const kv = predictKvCost(plan, input.model, input.profile);
  const compute = Math.max(input.computeBytes(plan.shape), plan.prefillShape ? input.computeBytes(plan.prefillShape) : 0);
  const weights = input.weightsLoaded ? 0 : input.model.weightsBytes;
  return { model: weights, kv: kv.steadyKvBytes, compute, peak: weights + kv.peakKvBytes + compute, steady: weights + kv.steadyKvBytes + compute };
}

/** Within the memory and, when one is set, within the KV budget. */
export function fitsIn(input: SelectionInput, bytes: PredictedBytes, available: number): boolean {
  return bytes.peak <= available && (input.kvBudgetBytes == null || bytes.kv <= input.kvBudgetBytes);
}

/** Memory would hold it; only the KV budget does not. */
export function overBudgetOnly(input: SelectionInput, bytes: PredictedBytes, available: number): boolean {
  return bytes.peak <= available && input.kvBudgetBytes != null && bytes.kv > input.kvBudgetBytes;
}

export function promptText(input: SelectionInput): string {
  return `The prompt is ${input.promptTokens.toLocaleString('en-US')} tokens`;
}

export function freeText(input: SelectionInput, available: number): string {
  return `${formatBytes(available)} of ${input.memoryName} is free beside a ${formatBytes(input.marginBytes)} margin`;
}

