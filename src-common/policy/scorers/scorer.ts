// A scorer ranks cached tokens for the evictor (presses/evictor.ts): what it reads (attention, and
// readings of the cache itself: value norms, key similarity), the knobs of its own, and one score()
// per (layer, KV head) slot. The evictor sums the slots' scores (max-pooled over positions when the
// policy pools) and keeps the highest beside the sinks and the recent window. Pure.
import type { Knob } from '../press.js';

/**
 * What a scorer can read of the cache besides attention, per slot and token (the engine reads each
 * from the native build after an evaluation):
 * - valueNorm: the token's value-vector L1 norm, relative to the slot's mean (VATP's value term);
 * - keySimilarity: the cosine of the token's key to the mean unit key of the cached tokens.
 */
export type CacheReading = 'valueNorm' | 'keySimilarity';

/** One (layer, KV head) slot's inputs, per token index; each array has the prompt's length. */
export interface SlotInputs {
  /** The attention the slot paid each token; null for a scorer that reads no attention. */
  attention: Float64Array | null;
  valueNorm?: Float64Array;
  keySimilarity?: Float64Array;
}

export interface Scorer {
  /** The press name in the grammar (vatp:budget=…). */
  name: string;
  /** Its name in sentences ("VATP"). */
  title: string;
  /** One line: how it ranks tokens. */
  summary: string;
  /**
   * Attention it reads: none (position alone), accumulated over every query so far, a window of
   * the last queries, or either, chosen by its `score` knob.
   */
  attention: 'none' | 'accumulate' | 'window' | 'choice';
  /** Readings of the cache score() needs besides attention. */
  reads: readonly CacheReading[];
  /** Ranks on attention, so `recent` and `when` apply (StreamingLLM keeps by position alone). */
  ranked: boolean;
  /** Default attention sinks, the first tokens never evicted. */
  defaultSink: number;
  /** Knobs beyond budget, sink, recent and when. */
  knobs: Readonly<Record<string, Knob>>;
  /** Importance of each token index for one slot, from its inputs (those it declared it reads). */
  score(slot: SlotInputs): Float64Array;
}
