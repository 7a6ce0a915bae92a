// The evictor auto runs for a prompt longer than the context: a document read whole through a
// cache. Not the scorer the within-context frontier vouches for (that was measured on prompts
// the context holds) but what the long-document bench measured (`npm run bench -- --long`, a
// pass key in real prose on SmolLM2-135M, 8k context; docs/BENCHMARKS.md):
// - a quarter of the context as budget: a context-full lost more (12k tokens: 1 of 3 against 2
//   of 3) and read slower, since the model itself misses keys early in a long cache;
// - `heads=max`, `pool=15`: each head's largest score, pooled over a number's digits, kept the
//   key's sentence where summed scores wore it away a token a round (32k: 7 of 10 against 5);
// - `recall=64`: the kept sentences the question ranks highest read again just before it.
// Together, at 32k tokens: found at 9 of 10 depths, against 0 and 1 of 10 from the first and last
// context-full read with full KV; at 64k, 8 of 10 (against 0 and 0; 2026-12-06).
import { CONTEXT_STEP } from './kvBytes.js';
import { MIN_BUDGET_TOKENS } from './selectionCost.js';

export const LONG_DOCUMENT_KNOBS = 'pool=15,heads=max,recall=64';

/** The share of the context the cache keeps while a longer document streams through it. */
export const LONG_DOCUMENT_CONTEXT_SHARE = 1 / 4;

/** The long-document evictor at `budgetTokens` cells, f16 (as measured) or over an 8-bit cache. */
export function longDocumentPolicy(budgetTokens: number, kvType: 'f16' | 'q8_0'): string {
  return `vatp:budget=${budgetTokens},${LONG_DOCUMENT_KNOBS}${kvType === 'q8_0' ? '+kv:type=q8_0' : ''}`;
}

/** The most cells it keeps: a quarter of the context in whole allocation steps, never below auto's smallest budget. */
export function longDocumentBudgetSteps(contextSize: number): number {
  return Math.max(MIN_BUDGET_TOKENS / CONTEXT_STEP, Math.floor((contextSize * LONG_DOCUMENT_CONTEXT_SHARE) / CONTEXT_STEP));
}

/** What auto says beside its choice: what it keeps, and what that was measured to find. */
export const LONG_DOCUMENT_NOTICE =
  'Eviction keeps part of the document: answers about what it drops can be wrong. A document longer than the context is read through a cache of a quarter of it, ' +
  'and the passages the question ranks highest are read again just before the question. Measured on SmolLM2-135M only: a pass key in 32k tokens of prose was found at 9 of 10 depths, in 64k tokens at 8 of 10 (reading only the last context-full: 1 and 0 of 10 respectively).';
