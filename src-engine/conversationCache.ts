// Follow-up questions without reading the document again. After a turn whose cache is whole (the
// presses' afterTurn declarations), the engine keeps its sequence; the next turn under the same
// policy keeps the leading tokens its prompt shares with it and evaluates only the rest
// (turnRunner.ts). A lazy prefill leaves its pruned tokens without K/V in the deeper layers: the
// engine completes them (LazyLLM's revival, from the aux cache) while the person reads the
// answer, so the follow-up finds the conversation whole; one that comes sooner waits for the rest.
// An evictor's cache holds only what it kept: a follow-up goes on from that (followup=kept),
// reading only its new tokens, and the evictor selects again for the new question among them.
import type { Llama, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { ContextPlan } from '../src-common/policy/contextPlan.js';
import type { AfterTurn } from '../src-common/policy/press.js';
import { SLIDING_WINDOW_ARCHITECTURES } from '../src-common/policy/architectures.js';
import type { ConversationCacheMetrics, LazyTurnMetrics, ModelInfo } from '../src-common/engineTypes.js';
import type { TurnTarget } from './turnRunner.js';
import type { ContextPool } from './contextPool.js';
import { revivePruned } from './siftNative.js';

/**
 * How a turn may use what the kept sequence holds. A lazy prefill cannot start mid-sequence, so a
 * lazy turn reuses a prefix only when it is most of the prompt (a follow-up), and prefills lazily
 * otherwise (a new document). Windowed layers (SimLayerKV's trimmed ones, a model's sliding
 * window) have dropped what tokens replacing an erased tail would attend to: only extension then.
 */
export function historyFor(plan: ContextPlan, info: ModelInfo, promptTokens: number, lazy: boolean): HistoryUse {
  const windowed = plan.shape.trimmedLayers.length > 0 || (SLIDING_WINDOW_ARCHITECTURES.includes(info.architecture) && !plan.shape.swaFull);
  return { minShared: lazy ? Math.ceil(promptTokens / 2) : 1, allowErase: !windowed };
}

export type HistoryUse = NonNullable<TurnTarget['history']>;

/**
 * Leading prompt tokens a turn keeps of a sequence holding `held` tokens, `shared` of them the
 * prompt's own: never the prompt's last token (generation evaluates it), none when fewer than
 * `minShared` are shared or the tail after them cannot be erased.
 */
export function reusablePrefix(held: number, shared: number, promptTokens: number, history: HistoryUse | null): number {
  const kept = Math.min(shared, promptTokens - 1);
  if (!history || kept < Math.max(1, history.minShared) || (kept < held && !history.allowErase)) return 0;
  return kept;
}

/**
 * What an evicting turn leaves in its sequence: the turn's token stream (the prompt, then the
 * answer or forced tokens) and the stream index of each token the cache kept, increasing.
 */
export interface EvictedConversation {
  /** The turn's prompt tokens: `stream` starts with them. */
  promptTokens: number;
  stream: readonly Token[];
  origin: readonly number[];
  /**
   * The evictor's ranking when the turn ended, per observed (layer, KV head) slot and held token:
   * the follow-up's first round ranks by it when the cache has no room to read the question ahead.
   */
  scores: CarriedScores | null;
  /** The prompt length the context was planned for: the conversation's first read (a budget given as a share of it). */
  plannedFor: number;
}

/** What an evicting turn reports; the engine adds the prompt length its context was planned for. */
export type EvictedTurn = Omit<EvictedConversation, 'plannedFor'>;

/** An evictor's observed slots and its scores per slot and held token. */
export interface CarriedScores {
  slots: ReadonlyArray<{ layer: number; head: number }>;
  scores: readonly Float64Array[];
}

/** How a follow-up goes on from an evicted conversation (runTurn erases the held tokens from `keep` on). */
export interface EvictedContinuation {
  /** Leading prompt tokens the cache stands for: read (kept or evicted) by the earlier turns. */
  covered: number;
  /** Held tokens that stay: those from before `covered`. */
  keep: number;
  /** Their stream indices, which are the prompt's too. */
  origin: number[];
  /** The last turn's ranking of them (CarriedScores), cut to them. */
  scores: CarriedScores | null;
}

/**
 * How far a follow-up's prompt goes on from what an evicting turn left: the leading tokens it
 * shares with that turn's stream, up to the last token the cache read, never the prompt's last
 * token. The tokens kept were chosen for that turn's question, so only a prompt holding all of
 * that turn's (a follow-up, or the same question asked again) goes on from them; an edited
 * question or another document with the same start reads from the start and selects for its own.
 * Held tokens from after that point (an answer the prompt renders differently) are erased, which
 * windowed layers cannot do: then, or when `held` is not what the turn left, null.
 */
export function evictedContinuation(evicted: EvictedConversation, held: number, prompt: readonly Token[], history: HistoryUse): EvictedContinuation | null {
  const { stream, origin, promptTokens } = evicted;
  if (held !== origin.length || held === 0) return null;
  const read = Math.min(origin[held - 1]! + 1, stream.length, prompt.length - 1);
  let covered = 0;
  while (covered < read && prompt[covered] === stream[covered]) covered++;
  if (covered < Math.max(1, history.minShared, promptTokens - 1)) return null;
  let keep = 0;
  while (keep < held && origin[keep]! < covered) keep++;
  if (keep < held && !history.allowErase) return null;
  const scores = evicted.scores && { slots: evicted.scores.slots, scores: evicted.scores.scores.map((slot) => slot.slice(0, keep)) };
  return { covered, keep, origin: origin.slice(0, keep), scores };
}

/** What a finished turn leaves for the next question, for its metrics. */
export function conversationAfterTurn(
  afterTurn: AfterTurn,
  kept: boolean,
  lazy: LazyTurnMetrics | null,
): Pick<ConversationCacheMetrics, 'next' | 'nextReason'> {
  if (afterTurn.cache === 'partial') return { next: 'none', nextReason: afterTurn.reason };
  if (!kept) return { next: 'none', nextReason: null };
  if (afterTurn.cache === 'kept') return { next: 'kept', nextReason: afterTurn.note };
  const holes = lazy !== null && lazy.pruned > lazy.revived;
  return { next: holes ? 'reviving' : 'whole', nextReason: null };
}

interface RunningRevival {
  done: Promise<{ tokens: number; ms: number }>;
  /** The prompt whose pruned tokens it completes: a follow-up goes on from these tokens. */
  promptTokens: number;
}

/** The revival of the last lazy turn's pruned tokens, run while the engine is otherwise idle. */
export class ConversationRevival {
  private running: RunningRevival | null = null;

  /**
   * Starts completing `sequence`'s pruned prompt tokens. The answer's tokens were computed with
   * them hidden, so they are erased first: the follow-up evaluates them again over the whole cache.
   */
  start(llama: Llama, sequence: LlamaContextSequence, promptTokens: number): void {
    const done = (async () => {
      const held = sequence.nextTokenIndex;
      if (held > promptTokens) await sequence.eraseContextTokenRanges([{ start: promptTokens, end: held }]);
      const { revived, ms } = await revivePruned(llama, sequence);
      return { tokens: revived, ms };
    })();
    // settled by the next turn; never an unhandled rejection meanwhile
    done.catch(() => undefined);
    this.running = { done, promptTokens };
  }

  /** The length of the prompt being revived, or null when no revival runs. */
  get revivingPromptTokens(): number | null {
    return this.running?.promptTokens ?? null;
  }

  /** Resolves when no revival runs: false when the one that ran failed (its cache has holes). */
  async succeeded(): Promise<boolean> {
    if (!this.running) return true;
    return this.running.done.then(
      () => true,
      () => false,
    );
  }

  /**
   * Waits for a running revival: what it did and how long the caller waited, or null when none
   * ran. A failed one leaves holes in the cache, so the kept sequence is dropped.
   */
  async settle(contexts: ContextPool): Promise<ConversationCacheMetrics['revived']> {
    const running = this.running;
    if (!running) return null;
    this.running = null;
    const waiting = performance.now();
    try {
      const { tokens, ms } = await running.done;
      return { tokens, ms: round(ms), waitedMs: round(performance.now() - waiting) };
    } catch {
      contexts.dropLive();
      return null;
    }
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
