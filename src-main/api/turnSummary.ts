// What a turn's policy decided, in words, for the CLI and the app alike (one wording in both).
// Pure: the renderer imports it.
import type { LazyTurnMetrics } from '../engine/types.js';

const percent = (f: number) => `${Math.round(f * 100)}%`;

/** e.g. "pruned 2,867 of 4,050 prompt tokens (kept 70% from layer 8, 60% from 20, 50% from 24), ranked by the last 18 tokens' attention" */
export function describeLazyPrefill(lazy: LazyTurnMetrics, promptTokens: number): string {
  const points = lazy.pruneLayers.map((layer, i) => `${percent(lazy.keep[i] ?? 1)} from ${i === 0 ? 'layer ' : ''}${layer}`).join(', ');
  const revived = lazy.revived > 0 ? `; revived ${lazy.revived.toLocaleString('en-US')} after the first token in ${Math.round(lazy.reviveMs).toLocaleString('en-US')} ms` : '';
  return (
    `pruned ${lazy.pruned.toLocaleString('en-US')} of ${promptTokens.toLocaleString('en-US')} prompt tokens (kept ${points}), ` +
    `ranked by the last ${lazy.obsWindow} tokens' attention${revived}`
  );
}
