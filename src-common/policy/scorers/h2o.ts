// H2O: heavy hitters by attention accumulated over every query so far.
import type { Scorer } from './scorer.js';

export const h2oScorer: Scorer = {
  name: 'h2o',
  title: 'H2O',
  summary: 'H2O: keeps the tokens with the most attention accumulated over every query so far',
  attention: 'accumulate',
  reads: [],
  ranked: true,
  defaultSink: 20,
  knobs: {},
  score: ({ attention }) => {
    if (!attention) throw new Error('h2o scores attention');
    return attention;
  },
};
