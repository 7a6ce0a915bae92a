// Teacher-forced logits under an eviction budget: the prompt is prefilled in chunks that fit the
// budgeted context (evicting as a turn would), then the forced tokens, evicting whenever the
// context is full. Benchmarks compare these logits with full KV's.
import type { Llama, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import { TokenEvictor, type EvictionStats } from './kvEviction.js';
import { logitsRow, type LogitsProbeRequest, type LogitsProbeResult } from './logitsProbe.js';
import type { EvictionTurn } from './turnRunner.js';

/**
 * What the sequence holds when the probe starts: nothing; the prompt but its last token, evicted
 * (when=prompt); or the whole prompt, lazily prefilled and evicted, with its last token's logits
 * (lazy+evictor) and the eviction round that ran there.
 */
export type BudgetedProbeStart =
  | { holds: 'nothing' }
  | { holds: 'promptButLast' }
  | { holds: 'wholePrompt'; logits: Float32Array; stats: EvictionStats };

export async function probeBudgetedLogits(
  llama: Llama,
  model: LlamaModel,
  sequence: LlamaContextSequence,
  eviction: EvictionTurn,
  request: LogitsProbeRequest,
  start: BudgetedProbeStart = { holds: 'nothing' },
): Promise<LogitsProbeResult> {
  const prompt = renderChatTokens(model, request.messages);
  if (start.holds === 'nothing') await sequence.clearHistory();
  const before = start.holds === 'wholePrompt' ? start.stats : undefined;
  const evictor = new TokenEvictor(llama, sequence, eviction.policy, eviction, eviction.layers, before);
  const withLogits = { generateNext: { logits: true } } as const;
  const logits: Float32Array[] = start.holds === 'wholePrompt' ? [start.logits] : [];
  try {
    if (start.holds === 'nothing') await evictor.prefill(prompt.slice(0, -1), () => undefined, new AbortController().signal);
    // forced tokens go in as few evaluations as fit (one when nothing must be evicted, exactly as
    // the full-KV probe evaluates them), evicting between evaluations when the context is full
    const forced = [...prompt.slice(-1), ...((request.follow ?? []) as Token[])];
    while (logits.length < forced.length) {
      await evictor.reserve(1);
      const room = Math.max(1, sequence.contextSize - 1 - sequence.nextTokenIndex);
      const group = forced.slice(logits.length, logits.length + room);
      await evictor.evaluateObserved(group.length, async () => {
        const outputs = await sequence.controlledEvaluate(group.map((token) => [token, withLogits] as [Token, typeof withLogits]));
        group.forEach((_, i) => logits.push(logitsRow(outputs[i]?.next?.logits, logits.length)));
      });
    }
  } finally {
    evictor.stop();
  }
  return { promptTokens: prompt, logits };
}
