// A scorer ranks cached tokens for the evictor (presses/evictor.ts): what it reads (attention,
// value norms), the knobs of its own, and one score() per observed (layer, KV head) slot. The
// evictor sums the slots' scores (max-pooled over positions when the policy pools) and keeps the
// highest beside the sinks and the recent window. Pure.
import type { Knob } from '../press.js';

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
  /** Reads each token's value-vector L1 norm (readValueNorms), passed to score() as weights. */
  valueNorms: boolean;
  /** Ranks on attention, so `recent` and `when` apply (StreamingLLM keeps by position alone). */
  ranked: boolean;
  /** Default attention sinks, the first tokens never evicted. */
  defaultSink: number;
  /** Knobs beyond budget, sink, recent and when. */
  knobs: Readonly<Record<string, Knob>>;
  /**
   * Importance of each token index for one slot, from its attention and (valueNorms) its value
   * norms relative to the slot's mean; the arrays have the same length.
   */
  score(attention: Float64Array, valueWeights: Float64Array | null): Float64Array;
}
