// lazy+simlayerkv (ContextPlan.trimAfterRevival). A conversation's first read is a lazy prefill in
// a full-size context, because each of its segments re-enters every earlier token, which a trimmed
// layer's window cache has dropped; the answer is generated there, as under `lazy` alone. While
// the person reads it, the engine revives the pruned tokens (conversationCache.ts) and saves the
// document; then the conversation is rewritten for the trimmed layers (kvStateLayout.ts) and moved
// into the plan's trimmed context, where follow-ups answer. The peak is a full-size cache, the
// steady one SimLayerKV's.
import { rm } from 'node:fs/promises';
import type { Llama, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { ContextPlan, ContextShape } from '../src-common/policy/contextPlan.js';
import type { ConversationCacheMetrics } from '../src-common/engineTypes.js';
import type { ContextPool, OpenContext } from './contextPool.js';
import { loadAndDeleteState, saveTrimmed } from './turnStages.js';
import { readKvMemoryBytes } from './siftNative.js';

export type ConversationMoved = NonNullable<ConversationCacheMetrics['moved']>;

/** What a move runs on: the context pool, and the engine's way to open a context of a shape. */
export interface MoveHost {
  llama: Llama;
  contexts: ContextPool;
  /** The model's layer count (the saved state is checked against it). */
  layers: number;
  /** A context of `shape`; the pool closes the full-size one first, so both never coexist. */
  open(shape: ContextShape): Promise<OpenContext>;
}

/** The plan a conversation's first read answers in: the untrimmed context, read lazily. */
export function firstReadPlan(plan: ContextPlan): ContextPlan {
  return { ...plan, shape: plan.prefillShape ?? plan.shape, prefillShape: null, trimAfterRevival: false };
}

/** The plan a follow-up answers in: the trimmed context, reading only what is new, plainly (a lazy prefill cannot start mid-sequence). */
export function followUpPlan(plan: ContextPlan): ContextPlan {
  return { ...plan, prefillShape: null, trimAfterRevival: false, applied: plan.applied.filter((name) => name !== 'lazy') };
}

/**
 * Whether `prompt` goes on from the conversation kept in `plan`'s trimmed context: it holds all of
 * it (windowed layers cannot erase a tail) and that is most of the prompt, as a lazy turn reuses a
 * prefix only then; otherwise the turn is a first read.
 */
export function followsTrimmedConversation(contexts: ContextPool, plan: ContextPlan, prompt: readonly Token[]): boolean {
  const live = contexts.liveFor(plan.policy.spec);
  if (!live || !contexts.holds(plan.shape, live)) return false;
  const held = live.contextTokens;
  if (held.length >= prompt.length || held.length < Math.ceil(prompt.length / 2)) return false;
  return held.every((token, i) => prompt[i] === token);
}

/** One conversation's move into its trimmed context, run while the engine is otherwise idle. */
export class ConversationMove {
  private running: Promise<Omit<ConversationMoved, 'waitedMs'> | null> | null = null;

  /**
   * Moves `sequence` into `plan`'s trimmed context once `ready` resolves true (the revival
   * succeeded, the save is done); nothing when it resolves false or a turn has taken the sequence.
   */
  start(host: MoveHost, plan: ContextPlan, sequence: LlamaContextSequence, ready: () => Promise<boolean>): void {
    const done = (async () => {
      if (!(await ready()) || host.contexts.liveSequence !== sequence) return null;
      return moveIntoTrimmedContext(host, plan, sequence);
    })();
    // settled by the next turn; never an unhandled rejection meanwhile
    done.catch(() => undefined);
    this.running = done;
  }

  /**
   * Waits for a running move: what it did and how long the caller waited (null when none ran), or
   * why it failed; the conversation is then read again, so the kept sequence is dropped.
   */
  async settle(contexts: ContextPool): Promise<{ moved: ConversationMoved | null; failure: string | null }> {
    const running = this.running;
    if (!running) return { moved: null, failure: null };
    this.running = null;
    const waiting = performance.now();
    try {
      const moved = await running;
      return { moved: moved && { ...moved, waitedMs: round(performance.now() - waiting) }, failure: null };
    } catch (err) {
      contexts.dropLive();
      const reason = err instanceof Error ? err.message : String(err);
      return { moved: null, failure: `The conversation could not be moved into the trimmed layers' cache (${reason}); this turn reads it again.` };
    }
  }
}

async function moveIntoTrimmedContext(host: MoveHost, plan: ContextPlan, sequence: LlamaContextSequence): Promise<Omit<ConversationMoved, 'waitedMs'>> {
  const started = performance.now();
  const fromBytes = readKvMemoryBytes(host.llama, sequence.context) ?? 0;
  const tokens = sequence.nextTokenIndex;
  const { trimmedLayers } = plan.shape;
  const statePath = await saveTrimmed(sequence, trimmedLayers, plan.shape, host.layers);
  try {
    const open = await host.open(plan.shape);
    const moved = host.contexts.sequenceOf(open, false);
    await loadAndDeleteState(moved, statePath);
    host.contexts.keep(moved, plan.policy.spec);
    const toBytes = readKvMemoryBytes(host.llama, open.context) ?? 0;
    return { tokens, trimmedLayers: trimmedLayers.length, fromBytes, toBytes, ms: round(performance.now() - started) };
  } finally {
    await rm(statePath, { force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
