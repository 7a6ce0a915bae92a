// A lazy (segmented) prefill of a prompt with a schedule given outright, measured: the prompt's
// last-token logits, the native statistics, each layer's last observation, and the wall time to
// those logits. A diagnostic of the native prefill (tests, scripts/lazy-needle-ranks.ts); turns
// and fidelity probes run lazy prefill through the turn pipeline (turnRunner.ts).
import type { Llama, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import {
  clearNativeSequence,
  lazyPrefill,
  readLastLogits,
  readObservationWithPositions,
  type LayerObservation,
  type LazyPrefillStats,
  type LazySchedule,
} from './siftNative.js';
import { checkPromptFits } from './turnRunner.js';
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
