// KeyDiff: tokens whose keys differ most from the rest are kept (Park et al., 2025, "KeyDiff: Key
// Similarity-Based KV Cache Eviction"): per KV head, a token's score falls with the cosine of its
// key to the mean unit key of the cached tokens. It reads the keys, not attention, so it needs no
// observation and runs wherever the cache does, flash attention included.
import type { Scorer } from './scorer.js';

export const keydiffScorer: Scorer = {
  name: 'keydiff',
  title: 'KeyDiff',
  summary: 'KeyDiff: keeps the tokens whose keys are least like the mean key (key diversity, no attention read)',
  attention: 'none',
  reads: ['keySimilarity'],
  ranked: true,
  defaultSink: 4,
  knobs: {},
  score({ keySimilarity }) {
    if (!keySimilarity) throw new Error('KeyDiff scores key similarity');
    return keySimilarity.map((cosine) => 1 - cosine);
  },
};
