// One timed passkey turn: greedy, the row's policy, in the row's own engine process. The same
// turn gives the timing sample (TTFT, prefill tok/s) and the accuracy sample (is the key in the
// answer), so every depth is also one timing run and rows are timed on identical prompts.
import type { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LayerKvStats } from '../../src-common/engineTypes.js';
import { engineExtras, type EngineExtras } from './engineExtras.js';
import { answerHasPasskey, type PasskeyCase } from './prompts.js';

export interface TurnSample {
  depthIndex: number;
  depth: number;
  passkey: string;
  answer: string;
  found: boolean;
  promptTokens: number;
  ttftMs: number;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  generatedTokens: number;
  /** The policy as the engine echoed it. */
  policyEcho: string;
  /** The engine's newer metrics (lazy schedule run, notice, peak KV bytes) when it has them. */
  extras: EngineExtras;
  kvBytesAllocated: number | null;
  kvBytesUsed: number | null;
  perLayer: LayerKvStats[];
  /** Read from the stock cache instead of run now (then it was not interleaved with this run). */
  cached: boolean;
}

/** The turn in flight, so Ctrl-C can cancel it. */
export interface ActiveTurn {
  client: EngineClient;
  turnId: number;
}

export async function runPasskeyTurn(
  client: EngineClient,
  policy: string,
  task: PasskeyCase,
  maxTokens: number,
  onStart: (turn: ActiveTurn | null) => void,
): Promise<TurnSample> {
  const running = client.runTurn({ messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens }, policy, cachePrompt: false }, () => {});
  onStart({ client, turnId: running.turnId });
  try {
    const { answer, metrics, stopReason } = await running.result;
    // a cancelled turn (Ctrl-C) is not a sample, and must never reach the cache
    if (stopReason === 'cancelled') throw new Error('the turn was cancelled');
    return {
      depthIndex: task.depthIndex,
      depth: task.depth,
      passkey: task.passkey,
      answer,
      found: answerHasPasskey(answer, task.passkey),
      promptTokens: metrics.promptTokens,
      ttftMs: metrics.ttftMs,
      prefillTokensPerSec: metrics.prefillTokensPerSec,
      decodeTokensPerSec: metrics.decodeTokensPerSec,
      generatedTokens: metrics.generatedTokens,
      policyEcho: metrics.policy,
      extras: engineExtras(metrics),
      kvBytesAllocated: metrics.kvBytesAllocated,
      kvBytesUsed: metrics.kvBytesUsed,
      perLayer: metrics.perLayer,
      cached: false,
    };
  } finally {
    onStart(null);
  }
}
