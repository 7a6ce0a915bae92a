// The scorers the evictor offers, one line each: a new scorer is one file and one line here.
import { h2oScorer } from './h2o.js';
import { keydiffScorer } from './keydiff.js';
import type { Scorer } from './scorer.js';
import { snapkvScorer } from './snapkv.js';
import { streamingScorer } from './streaming.js';
import { vatpScorer } from './vatp.js';

export const SCORERS: readonly Scorer[] = [vatpScorer, h2oScorer, snapkvScorer, streamingScorer, keydiffScorer];

export function scorerFor(method: string): Scorer {
  const scorer = SCORERS.find((s) => s.name === method);
  if (!scorer) throw new RangeError(`no scorer "${method}"`);
  return scorer;
}
