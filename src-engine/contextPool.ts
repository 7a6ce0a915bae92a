// The engine's one open llama.cpp context, kept while turns ask for the same shape (size, batch,
// KV type, flash attention, SimLayerKV's trimmed layers) and recreated when a turn needs another.
// Creating a context is the expensive, memory-bound step, so a mismatch here costs a full
// allocation; a failed allocation is the person's "does not fit", said so.
import os from 'node:os';
import { InsufficientMemoryError, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel } from 'node-llama-cpp';
import type { ContextShape } from '../src-common/policy/contextPlan.js';
import { EngineError } from './engineError.js';
import { hasKvBudgets, readMemoryByBuffer, setNextContextLayout } from './siftNative.js';
import type { EvictedConversation } from './conversationCache.js';

export interface OpenContext extends ContextShape {
  context: LlamaContext;
}

export function sameShape(a: ContextShape, b: ContextShape): boolean {
  return (
    a.kvType === b.kvType &&
    a.flashAttention === b.flashAttention &&
    a.contextSize === b.contextSize &&
    a.batchSize === b.batchSize &&
    a.sink === b.sink &&
    a.window === b.window &&
    a.swaFull === b.swaFull &&
    a.trimmedLayers.join('/') === b.trimmedLayers.join('/')
  );
}

function refuseContextShift(): never {
  throw new EngineError('INTERNAL', 'The KV budget was exceeded without an eviction (node-llama-cpp tried to shift the context).');
}

export class ContextPool {
  private open: OpenContext | null = null;
  /**
   * The sequence the last turn left in the open context, kept for a follow-up, and the policy whose
   * cache it holds: another policy reads the conversation again. An evictor's also says which
   * tokens of the conversation it kept.
   */
  private live: { sequence: LlamaContextSequence; policy: string; evicted: EvictedConversation | null } | null = null;

  constructor(private readonly llama: Llama) {}

  /** A context of the given shape for `model`; the open one when it already has that shape. */
  async ensure(model: LlamaModel, modelName: string, shape: ContextShape, threads?: number): Promise<OpenContext> {
    if (this.open && sameShape(this.open, shape)) return this.open;
    await this.close();
    const kvType = shape.kvType.toUpperCase() as 'F16' | 'Q8_0' | 'Q4_0';
    try {
      if (hasKvBudgets(this.llama)) setNextContextLayout(this.llama, shape.trimmedLayers, shape.sink, shape.window);
      const context = await model.createContext({
        contextSize: shape.contextSize,
        batchSize: Math.min(shape.batchSize, shape.contextSize),
        threads: threads ?? Math.max(1, os.availableParallelism()),
        flashAttention: shape.flashAttention,
        experimentalKvCacheKeyType: kvType,
        experimentalKvCacheValueType: kvType,
        swaFullCache: shape.swaFull,
      });
      this.open = { ...shape, context };
      return this.open;
    } catch (err) {
      if (err instanceof InsufficientMemoryError) {
        throw new EngineError(
          'MODEL_TOO_LARGE',
          `A ${shape.contextSize}-token context for ${modelName} does not fit in free memory. ` +
            'Try a smaller context size or a smaller model.',
        );
      }
      throw err;
    } finally {
      if (hasKvBudgets(this.llama)) setNextContextLayout(this.llama, [], 0, 0);
    }
  }

  /**
   * A sequence of `open`: the one the last turn kept, with what it holds, when `resumePolicy` is
   * the policy it was kept for; else a fresh one (the kept one dropped). Under a KV budget Sift
   * evicts before the context fills, so node-llama-cpp's own shift (erasing the oldest tokens)
   * must never run silently instead.
   */
  sequenceOf(open: OpenContext, budgeted: boolean, resumePolicy: string | null = null): LlamaContextSequence {
    const live = this.live;
    this.live = null;
    const resumable = live && live.policy === resumePolicy && !live.sequence.disposed && live.sequence.context === open.context;
    if (resumable) return live.sequence;
    live?.sequence.dispose();
    return budgeted ? open.context.getSequence({ contextShift: { strategy: refuseContextShift } }) : open.context.getSequence();
  }

  /** Keeps `sequence` with what it holds, for the next turn under `policy` in the same context. */
  keep(sequence: LlamaContextSequence, policy: string): void {
    if (this.live && this.live.sequence !== sequence) this.live.sequence.dispose();
    this.live = { sequence, policy, evicted: null };
  }

  /** Records which tokens of the conversation the kept sequence holds, after an evicting turn. */
  keptEvicted(sequence: LlamaContextSequence, evicted: EvictedConversation): void {
    if (this.live?.sequence === sequence) this.live.evicted = evicted;
  }

  /** Whether `sequence` lives in the open context and that context has `shape`. */
  holds(shape: ContextShape, sequence: LlamaContextSequence): boolean {
    return this.open !== null && sameShape(this.open, shape) && sequence.context === this.open.context && !sequence.disposed;
  }

  /** What the sequence kept for `policy` holds of its conversation, when an evictor left it. */
  evictedFor(policy: string): { sequence: LlamaContextSequence; evicted: EvictedConversation } | null {
    const sequence = this.liveFor(policy);
    return sequence && this.live?.evicted ? { sequence, evicted: this.live.evicted } : null;
  }

  /** The sequence kept for the next turn under `policy`, if any. */
  liveFor(policy: string): LlamaContextSequence | null {
    return this.live?.policy === policy ? this.liveSequence : null;
  }

  /** The sequence kept for the next turn, if any (background work on it: revival). */
  get liveSequence(): LlamaContextSequence | null {
    return this.live && !this.live.sequence.disposed ? this.live.sequence : null;
  }

  /** Forgets the kept sequence (its cache no longer stands for the conversation). */
  dropLive(): void {
    this.live?.sequence.dispose();
    this.live = null;
  }

  /** Bytes the open context's KV cache and compute buffers take (0 when none is open, or without the patch). */
  heldBytes(): number {
    if (!this.open) return 0;
    const memory = readMemoryByBuffer(this.llama, this.open.context) ?? [];
    return memory.reduce((sum, entry) => sum + entry.kvBytes + entry.computeBytes, 0);
  }

  async close(): Promise<void> {
    this.dropLive();
    await this.open?.context.dispose();
    this.open = null;
  }
}
