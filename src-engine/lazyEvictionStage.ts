// lazy+evictor, first stage: the whole prompt is prefilled lazily (LazyLLM) in a full-size
// context; the first answer token comes from that prefill's logits (the TTFT is lazy prefill's).
// The question (the prompt's last window) is then evaluated there again, with that token after it
// and their attention observed; one eviction round drops the pruned tokens and keeps the budget's
// best of the rest by it, and the token leaves the cache again (the turn evaluates it next). The
// caller saves the sequence and goes on in a context of the budget's size, as when=prompt does
// (engine.ts), so the steady KV is the budget's.
import type { Llama, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { EvictionPlan } from '../src-common/policy/contextPlan.js';
import { TokenEvictor, type EvictionStats } from './kvEviction.js';
import { lazyTurnMetrics, runLazyPrefill, type LazyTurn } from './lazyPrefillRun.js';
import { adoptNativeTokens, readLastLogits, resetLazyState, revivePruned } from './siftNative.js';
import type { LazyTurnMetrics, TurnEvent } from '../src-common/engineTypes.js';

export interface LazyEvictionStage {
  /** The prompt's last-token logits, from the lazy prefill. */
  logits: Float32Array;
  /** What the caller picked from them (the first answer token), and when. */
  first: Token;
  firstAt: number;
  lazy: LazyTurnMetrics;
  /** Tokens computed and keys gathered per layer, from the native statistics. */
  computed: number[];
  keys: number[];
  /** The eviction round, and how many tokens it dropped before ranking (the pruned ones, and any the last layer ignored). */
  eviction: EvictionStats;
  prunedEvicted: number;
  /** The kept tokens' prompt indices (what the turn's evictor goes on from). */
  origin: number[];
}

export interface LazyEvictionOptions {
  /** Picks the first answer token from the last logits (a turn samples; a probe takes its first forced token). */
  pick: (logits: Float32Array) => Token;
  /** True: stop after picking (the first token ended the answer); nothing is evicted. */
  endsAnswer?: (first: Token) => boolean;
}

/** Null when Stop cancelled the prefill (the sequence is then empty). */
export async function lazyPrefillThenEvict(
  llama: Llama,
  sequence: LlamaContextSequence,
  eviction: EvictionPlan,
  lazy: LazyTurn,
  prompt: readonly Token[],
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
  options: LazyEvictionOptions,
): Promise<LazyEvictionStage | null> {
  await sequence.clearHistory();
  const evictor = new TokenEvictor(llama, sequence, eviction.policy, eviction, eviction.layers);
  try {
    const stats = await runLazyPrefill(llama, sequence, lazy, prompt, onEvent, signal);
    if (!stats) return null;
    const logits = readLastLogits(llama, sequence.context);
    const first = options.pick(logits);
    const firstAt = performance.now();
    const metrics = lazyTurnMetrics(lazy, stats);
    const stage: LazyEvictionStage = { logits, first, firstAt, lazy: metrics, computed: stats.computed, keys: stats.keys, eviction: evictor.stats, prunedEvicted: 0, origin: [] };
    if (options.endsAnswer?.(first)) return stage;
    if (lazy.revive) {
      const revived = await revivePruned(llama, sequence);
      metrics.revived = revived.revived;
      metrics.reviveMs = Math.round(revived.ms * 100) / 100;
    }
    adoptNativeTokens(sequence, prompt);
    stage.prunedEvicted = await evictor.evictAfterLazyPrefill(lazy.revive ? 0 : stats.pruned, first, lazy.schedule.nRecent);
    // no pruned token is left, so the masks over their cells must not outlive them
    resetLazyState(llama, sequence.context);
    const last = sequence.nextTokenIndex - 1;
    await sequence.eraseContextTokenRanges([{ start: last, end: last + 1 }]);
    stage.origin = evictor.keptOrigins();
    return stage;
  } finally {
    evictor.stop();
  }
}
