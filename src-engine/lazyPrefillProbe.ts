// A lazy (segmented) prefill of a prompt, measured: the prompt's last-token logits, the native
// statistics, and the wall time to those logits. The building block of lazy turns and of the
// benchmark's TTFT and fidelity rows; with keep = 1 everywhere it must equal a plain prefill.
import type { Llama, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import {
  adoptNativeTokens,
  clearNativeSequence,
  lazyPrefill,
  revivePruned,
  readLastLogits,
  readObservationWithPositions,
  type LayerObservation,
  type LazyPrefillStats,
  type LazySchedule,
} from './siftNative.js';
import { forcedLogits, type LogitsProbeResult } from './logitsProbe.js';
import { checkPromptFits } from './turnRunner.js';
import type { LazyTurn } from './lazyPrefillRun.js';
import type { ChatMessage } from '../src-common/engineTypes.js';

export interface LazyPrefillRequest {
  messages: ChatMessage[];
  schedule: LazySchedule;
  /** Also return each layer's last observation (layers before the last prune point only). */
  withObservation?: boolean;
}

export interface LazyPrefillResult {
  promptTokens: number[];
  logits: Float32Array;
  stats: LazyPrefillStats;
  /** From the start of the prefill to the last token's logits. */
  prefillMs: number;
  observation?: { positions: Int32Array; layers: LayerObservation[] };
}

export async function probeLazyPrefill(
  llama: Llama,
  model: LlamaModel,
  sequence: LlamaContextSequence,
  layerCount: number,
  request: LazyPrefillRequest,
): Promise<LazyPrefillResult> {
  const tokens = renderChatTokens(model, request.messages);
  checkPromptFits(tokens.length, sequence.contextSize);
  await sequence.clearHistory();
  try {
    const started = performance.now();
    const stats = await lazyPrefill(llama, sequence, tokens, request.schedule);
    const prefillMs = performance.now() - started;
    const logits = readLastLogits(llama, sequence.context);
    const result: LazyPrefillResult = { promptTokens: tokens, logits, stats, prefillMs };
    if (request.withObservation) {
      // a scored segment leaves its layers' observations from its last ubatch
      const lastPrune = Math.max(0, ...request.schedule.pruneLayers);
      result.observation = readObservationWithPositions(llama, sequence, lastPrune);
    }
    return result;
  } finally {
    clearNativeSequence(sequence);
  }
}

/**
 * Teacher-forced logits under lazy prefill, as a lazy turn would see them: the first row comes
 * from the pruned prefill, the pruned tokens are then revived (or stay absent), and the forced
 * tokens are evaluated after the prompt.
 */
export async function probeLazyLogits(
  llama: Llama,
  model: LlamaModel,
  sequence: LlamaContextSequence,
  lazy: LazyTurn,
  request: { messages: ChatMessage[]; follow?: number[] },
): Promise<LogitsProbeResult> {
  const prompt = renderChatTokens(model, request.messages);
  const follow = request.follow ?? [];
  checkPromptFits(prompt.length + follow.length, sequence.contextSize);
  await sequence.clearHistory();
  await lazyPrefill(llama, sequence, prompt, { ...lazy.schedule, keepMasked: !lazy.revive });
  const first = readLastLogits(llama, sequence.context);
  if (lazy.revive) await revivePruned(llama, sequence);
  adoptNativeTokens(sequence, prompt);
  return { promptTokens: prompt, logits: [first, ...(await forcedLogits(sequence, follow))] };
}
