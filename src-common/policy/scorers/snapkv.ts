// SnapKV: tokens scored by the attention of an observation window of the last queries,
// max-pooled so a span stays whole.
import { COUNT } from '../knobPatterns.js';
import { QUERY_WINDOW_KNOB, REUSE_KNOB } from './sharedKnobs.js';
import type { Scorer } from './scorer.js';

export const snapkvScorer: Scorer = {
  name: 'snapkv',
  title: 'SnapKV',
  summary: 'SnapKV: keeps the tokens the last window of queries attends to most, max-pooled over positions',
  attention: 'window',
  reads: [],
  ranked: true,
  defaultSink: 20,
  knobs: {
    window: { ...QUERY_WINDOW_KNOB, description: 'observation window: the last queries whose attention scores tokens, at least 1' },
    pool: { pattern: COUNT, default: '7', description: 'max-pooling kernel over positions, odd; 1 = none' },
    reuse: REUSE_KNOB,
  },
  score: ({ attention }) => {
    if (!attention) throw new Error('snapkv scores attention');
    return attention;
  },
};
