// Teacher-forced logits under an eviction budget: the prompt is prefilled in chunks that fit the
// budgeted context (evicting as a turn would), then each forced token is evaluated alone, evicting
// when the context is full. Benchmarks compare these logits with full KV's.
import type { Llama, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import { TokenEvictor } from './kvEviction.js';
import { logitsRow, type LogitsProbeRequest, type LogitsProbeResult } from './logitsProbe.js';
import type { EvictionTurn } from './turnRunner.js';

export async function probeBudgetedLogits(
  llama: Llama,
  model: LlamaModel,
  sequence: LlamaContextSequence,
  eviction: EvictionTurn,
  request: LogitsProbeRequest,
): Promise<LogitsProbeResult> {
  const prompt = renderChatTokens(model, request.messages);
  await sequence.clearHistory();
  const evictor = new TokenEvictor(llama, sequence, eviction.policy, eviction.budgetTokens, eviction.layers);
  const withLogits = { generateNext: { logits: true } } as const;
  const logits: Float32Array[] = [];
  try {
    await evictor.prefill(prompt.slice(0, -1), () => undefined, new AbortController().signal);
    for (const token of [...prompt.slice(-1), ...((request.follow ?? []) as Token[])]) {
      await evictor.reserve(1);
      let row: Float32Array | null = null;
      await evictor.evaluateObserved(1, async () => {
        const [output] = await sequence.controlledEvaluate([[token, withLogits]]);
        row = logitsRow(output?.next?.logits, logits.length);
      });
      logits.push(row!);
    }
  } finally {
    evictor.stop();
  }
  return { promptTokens: prompt, logits };
}
