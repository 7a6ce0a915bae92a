// Teacher-forced logits: evaluate a prompt, then a given continuation token by token, and return
// the full next-token logits after the prompt and after each forced token. This is how Sift checks
// that a policy at its no-op setting reproduces stock llama.cpp exactly, and how benchmarks measure
// top-1 agreement and KL divergence against full KV.
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { renderChatTokens } from './chatPrompt.js';
import { checkPromptFits } from './turnRunner.js';
import type { ChatMessage } from '../src-common/engineTypes.js';
import type { LayerProfile } from '../src-common/policy/simLayerKvLayers.js';

export interface LogitsProbeRequest {
  messages: ChatMessage[];
  /** Tokens forced after the prompt; logits are returned after each of them too. */
  follow?: number[];
  /** KV policy to probe under (default "full"): how benchmarks measure a policy's fidelity. */
  policy?: string;
  /** The model's calibrated SimLayerKV profile, for policies that use it. */
  layerProfile?: LayerProfile | null;
}

export interface LogitsProbeResult {
  promptTokens: number[];
  /** logits[i] is the distribution after the prompt (i = 0) or after follow[i - 1]. */
  logits: Float32Array[];
}

export async function probeLogits(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  request: LogitsProbeRequest,
): Promise<LogitsProbeResult> {
  const prompt = renderChatTokens(model, request.messages);
  const follow = (request.follow ?? []) as Token[];
  checkPromptFits(prompt.length + follow.length, sequence.contextSize);
  await sequence.clearHistory();

  const withLogits = { generateNext: { logits: true } } as const;
  const input = [
    ...prompt.slice(0, -1),
    ...[...prompt.slice(-1), ...follow].map((token) => [token, withLogits] as [Token, typeof withLogits]),
  ];
  const outputs = await sequence.controlledEvaluate(input);

  const logits: Float32Array[] = [];
  for (let i = prompt.length - 1; i < input.length; i++) logits.push(logitsRow(outputs[i]?.next?.logits, i));
  return { promptTokens: prompt, logits };
}

/** node-llama-cpp's logits map as a dense row indexed by token id. */
export function logitsRow(map: ReadonlyMap<Token, number> | undefined, position: number): Float32Array {
  if (!map) throw new Error(`no logits returned at position ${position}`);
  // greedy sampling leaves every vocabulary entry in the map, so ids cover 0..size-1
  const row = new Float32Array(map.size).fill(Number.NaN);
  for (const [token, value] of map) row[token] = value;
  return row;
}

/** Evaluates forced tokens after what the sequence holds, returning the logits after each. */
export async function forcedLogits(sequence: LlamaContextSequence, follow: number[]): Promise<Float32Array[]> {
  if (follow.length === 0) return [];
  const withLogits = { generateNext: { logits: true } } as const;
  const outputs = await sequence.controlledEvaluate(follow.map((t) => [t as Token, withLogits] as [Token, typeof withLogits]));
  return follow.map((_, i) => logitsRow(outputs[i]?.next?.logits, i));
}
