// Teacher-forced logits: given tokens evaluated after what a sequence holds, with the full
// next-token logits after each. A turn run with a forced continuation (turnRunner.ts) returns
// them: how Sift checks that a policy at its no-op setting reproduces stock llama.cpp exactly,
// and how the bench measures top-1 agreement and KL divergence against full KV.
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { ChatMessage, KeptText } from '../src-common/engineTypes.js';
import type { LayerProfile } from '../src-common/policy/simLayerKvLayers.js';

export interface LogitsProbeRequest {
  messages: ChatMessage[];
  /** Tokens forced after the prompt; logits are returned after each of them too. */
  follow?: number[];
  /** KV policy to probe under (default "full"): how benchmarks measure a policy's fidelity. */
  policy?: string;
  /** The model's calibrated SimLayerKV profile, for policies that use it. */
  layerProfile?: LayerProfile | null;
  /**
   * Force after what the last turn left in the cache, as a follow-up turn would (true), instead of
   * reading the whole prompt (the default: probes check bit-identical invariants).
   */
  cachePrompt?: boolean;
}

export interface LogitsProbeResult {
  promptTokens: number[];
  /** logits[i] is the distribution after the prompt (i = 0) or after follow[i - 1]. */
  logits: Float32Array[];
  /**
   * What the policy chose to keep of the prompt (an evictor's kept tokens, a lazy prefill's depths),
   * as a turn reports it: two backends' logits compare closely only where they chose alike.
   */
  kept?: KeptText | null;
}

/** node-llama-cpp's logits map as a dense row indexed by token id. */
export function logitsRow(map: ReadonlyMap<Token, number> | undefined, position: number): Float32Array {
  if (!map) throw new Error(`no logits returned at position ${position}`);
  // greedy sampling leaves every vocabulary entry in the map, so ids cover 0..size-1
  const row = new Float32Array(map.size).fill(Number.NaN);
  for (const [token, value] of map) row[token] = value;
  return row;
}

/**
 * Evaluates tokens after what the sequence holds, in one evaluation, returning the logits after
 * each but the first `withoutLogits` (a prompt's head, evaluated in the same batches as its tail).
 */
export async function forcedLogits(sequence: LlamaContextSequence, tokens: readonly number[], withoutLogits = 0): Promise<Float32Array[]> {
  if (tokens.length <= withoutLogits) return [];
  const withLogits = { generateNext: { logits: true } } as const;
  const input = tokens.map((t, i) => (i < withoutLogits ? (t as Token) : ([t as Token, withLogits] as [Token, typeof withLogits])));
  const outputs = await sequence.controlledEvaluate(input);
  return tokens.slice(withoutLogits).map((_, i) => logitsRow(outputs[withoutLogits + i]?.next?.logits, withoutLogits + i));
}
