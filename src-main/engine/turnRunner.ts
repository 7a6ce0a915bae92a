// Runs one chat turn on a context sequence: prefill in batch-sized chunks (so progress and
// cancel work between chunks), then greedy or sampled decoding, streaming text as it forms.
// Every metric is a measurement of this run.
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import { readKvLayerStats } from './siftNative.js';
import { EngineError, type BuildKind, type StopReason, type TurnEvent, type TurnMetrics, type TurnRequest } from './types.js';

export interface TurnTarget {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  sequence: LlamaContextSequence;
  build: BuildKind;
  batchSize: number;
}

export interface TurnOutcome {
  answer: string;
  stopReason: StopReason;
  metrics: TurnMetrics;
}

/** Throws PROMPT_TOO_LONG before any work when the prompt and one answer token cannot fit. */
export function checkPromptFits(promptTokens: number, contextSize: number): void {
  if (promptTokens + 1 > contextSize) {
    throw new EngineError(
      'PROMPT_TOO_LONG',
      `The prompt is ${promptTokens} tokens but the context holds ${contextSize}. ` +
        'Attach less text, ask about a part of the document, or load the model with a larger context.',
    );
  }
}

export async function runTurn(
  target: TurnTarget,
  request: TurnRequest,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<TurnOutcome> {
  const { model, sequence, context } = target;
  const promptTokens = renderChatTokens(model, request.messages);
  checkPromptFits(promptTokens.length, context.contextSize);
  const maxTokens = Math.max(1, Math.min(request.sampling.maxTokens, context.contextSize - promptTokens.length));

  await sequence.clearHistory();
  const started = performance.now();

  // prefill all but the last prompt token; the last one is evaluated with generation
  const prefill = promptTokens.slice(0, -1);
  onEvent({ type: 'progress', phase: 'prefill', done: 0, total: promptTokens.length });
  for (let i = 0; i < prefill.length; i += target.batchSize) {
    if (signal.aborted) break;
    await sequence.evaluateWithoutGeneratingNewTokens(prefill.slice(i, i + target.batchSize));
    onEvent({
      type: 'progress',
      phase: 'prefill',
      done: Math.min(i + target.batchSize, prefill.length),
      total: promptTokens.length,
    });
  }

  const generated: Token[] = [];
  let answer = '';
  let ttftMs = 0;
  let stopReason: StopReason = 'maxTokens';
  if (signal.aborted) {
    stopReason = 'cancelled';
  } else {
    const last = promptTokens.slice(-1);
    const options = request.sampling.temperature > 0
      ? { temperature: request.sampling.temperature, topP: request.sampling.topP, seed: request.sampling.seed }
      : {};
    for await (const token of sequence.evaluate(last, options)) {
      if (generated.length === 0) {
        ttftMs = performance.now() - started;
        onEvent({ type: 'progress', phase: 'prefill', done: promptTokens.length, total: promptTokens.length });
      }
      if (model.isEogToken(token)) {
        stopReason = 'eos';
        break;
      }
      generated.push(token);
      const text = model.detokenize(generated);
      // a multi-byte character can span tokens: emit only once it is whole
      if (!text.endsWith('\uFFFD') && text.length > answer.length) {
        onEvent({ type: 'token', text: text.slice(answer.length) });
        answer = text;
      }
      if (signal.aborted) {
        stopReason = 'cancelled';
        break;
      }
      if (generated.length >= maxTokens) break;
    }
  }
  const totalMs = performance.now() - started;
  answer = model.detokenize(generated);

  const kv = readKvLayerStats(target.llama, context);
  const decodeMs = totalMs - ttftMs;
  const metrics: TurnMetrics = {
    build: target.build,
    policy: request.policy,
    promptTokens: promptTokens.length,
    prefillTokens: promptTokens.length,
    generatedTokens: generated.length,
    ttftMs: round(ttftMs),
    totalMs: round(totalMs),
    prefillTokensPerSec: ttftMs > 0 ? round((promptTokens.length / ttftMs) * 1000) : 0,
    decodeTokensPerSec: generated.length > 1 && decodeMs > 0 ? round(((generated.length - 1) / decodeMs) * 1000) : 0,
    kvBytesAllocated: kv?.bytesAllocated ?? null,
    kvBytesUsed: kv?.bytesUsed ?? null,
    contextSize: context.contextSize,
    perLayer: kv?.perLayer ?? [],
  };
  return { answer, stopReason, metrics };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
