// VATP: attention times the L1 norm of the token's value vector (Guo et al., 2024), so a token
// that is attended but carries a near-zero value (an attention sink, say) ranks low.
import { COUNT } from '../knobPatterns.js';
import { QUERY_WINDOW_KNOB, REUSE_KNOB } from './sharedKnobs.js';
import type { Scorer } from './scorer.js';

export const vatpScorer: Scorer = {
  name: 'vatp',
  title: 'VATP',
  summary: "VATP: keeps the tokens of highest attention × ‖v‖₁ (value-aware token pruning)",
  attention: 'choice',
  reads: ['valueNorm'],
  ranked: true,
  defaultSink: 20,
  knobs: {
    score: { values: ['acc', 'window'], default: 'window', description: 'attention averaged over the last window queries (window) or summed over every query so far (acc, H2O-style)' },
    window: { ...QUERY_WINDOW_KNOB, description: 'queries averaged with score=window, at least 1' },
    reuse: REUSE_KNOB,
    pool: { pattern: COUNT, default: '1', description: "max-pooling kernel over positions of each KV head's attention × value norm, odd; 1 = none, 7 keeps spans whole as SnapKV does" },
  },
  score({ attention, valueNorm }) {
    if (!attention) throw new Error('VATP scores attention');
    if (!valueNorm) return attention;
    return attention.map((a, i) => a * valueNorm[i]!);
  },
};
