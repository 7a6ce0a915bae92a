// StreamingLLM: the attention sinks and the most recent tokens that fit, by position alone.
import type { Scorer } from './scorer.js';

export const streamingScorer: Scorer = {
  name: 'streaming',
  title: 'StreamingLLM',
  summary: 'StreamingLLM: keeps the first sink tokens and the most recent ones that fit the budget',
  attention: 'none',
  reads: [],
  ranked: false,
  defaultSink: 4,
  knobs: {},
  // never called: an unranked scorer keeps by position (the evictor's recent window is the rest of the budget)
  score: () => new Float64Array(0),
};
