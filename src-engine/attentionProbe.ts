// Which prompt tokens the last queries attend to, per layer and KV head: the score LazyLLM,
// SimLayerKV and VATP rank tokens by, and the data behind a document heatmap. The prompt is
// evaluated in ordinary ubatches; the last ubatch sees every key, so its scores are exact.
import type { Llama, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import { readObservationWithPositions, setObservation, type LayerObservation } from './siftNative.js';
import { checkPromptFits } from './turnRunner.js';
import type { ChatMessage } from '../src-common/engineTypes.js';

export interface AttentionProbeRequest {
  messages: ChatMessage[];
  /** How many of the prompt's last tokens observe (1 = the last token only). */
  window: number;
}

export interface AttentionProbeResult {
  promptTokens: number;
  /** positions[cell] = the prompt position held by that KV cell, or -1. */
  positions: Int32Array;
  layers: LayerObservation[];
}

export async function probeAttention(
  llama: Llama,
  model: LlamaModel,
  sequence: LlamaContextSequence,
  layerCount: number,
  request: AttentionProbeRequest,
): Promise<AttentionProbeResult> {
  const tokens = renderChatTokens(model, request.messages);
  checkPromptFits(tokens.length, sequence.contextSize);
  const context = sequence.context;
  await sequence.clearHistory();
  setObservation(llama, context, Math.max(1, Math.floor(request.window)));
  try {
    await sequence.evaluateWithoutGeneratingNewTokens(tokens);
    return { promptTokens: tokens.length, ...readObservationWithPositions(llama, sequence, layerCount) };
  } finally {
    setObservation(llama, context, 0);
  }
}
