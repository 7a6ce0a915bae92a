// The lazy-prefill schedule and scoring a model gets when the policy leaves them out. Pure.
import type { LazyPolicy, LazyScheduleName } from './spec.js';

export interface ResolvedLazySchedule {
  pruneLayers: number[];
  keep: number[];
  /** Max-pooling kernel over positions for each KV head's scores (1 = none). */
  pool: number;
  /** First layer whose attention is summed into the scores; -1 = the prune point's previous layer only. */
  scoreFrom: number;
  /** Rank whole sentences of at most this many tokens by their best token (0 = each token alone). */
  span: number;
}

/**
 * The named schedules (`lazy:schedule=`), prune points as fractions of the depth.
 *
 * `light`, the default, was chosen on real prose (issue 13; docs/design/LAZY_PREFILL.md, "Real prose", and the frontier in
 * docs/BENCHMARKS.md): before the middle of the model no scoring rule tells an ordinary sentence
 * from the rest of a document, so the schedule prunes lightly: keeping 70/60/50% at 27/67/80% of
 * the depth (SmolLM2's 30 layers: 8/20/24), scored by every layer's attention from a tenth of the
 * depth on, max-pooled over 15 positions (the pool knob's default, presses/lazyPrefill.ts), with the question's own tokens as the scoring queries
 * (the policy's default window). At 2k on SmolLM2-135M it kept 4 of the 4 answers full KV got
 * right and agreed with full on 94.8% of its answer tokens, at a 1.32× lower TTFT (1.39× at 4k).
 * The pass-key schedule it replaces (4/8/16 keeping 35/20/10%, the last 8 tokens scoring) was
 * 3.7× faster but kept 0 of 4 and agreed on 68.5%. Whole sentences are ranked by their best token
 * (the span knob's default, 48): on Qwen2.5-0.5B at 4k that kept 19 of the 19 answers full KV got
 * right, where the same schedule ranking tokens alone kept 15, at a 1.44× lower TTFT.
 *
 * `balanced` prunes earlier and harder: 5/10/14 of Qwen2.5-0.5B's 24 layers keeping
 * 50/30/20%, which at 4k kept 18 of the 19 answers full KV got right at a 2.37× lower TTFT
 * (94.7%, just under the issue's 95%; it lost the two-passage question whose second sentence shares
 * no word with the question), and at 8k 8 of 10 at 2.55× (a quick run; light: 9 of 10 at 1.46×);
 * measured on Qwen only (docs/design/LAZY_PREFILL.md, "Between the two schedules").
 */
export const LAZY_SCHEDULES = {
  light: { points: [0.27, 0.67, 0.8], keep: [0.7, 0.6, 0.5] },
  balanced: { points: [5 / 24, 10 / 24, 14 / 24], keep: [0.5, 0.3, 0.2] },
} as const satisfies Record<LazyScheduleName, { points: readonly number[]; keep: readonly number[] }>;
const DEFAULT_SCORE_FROM = 0.1;

export function defaultLazySchedule(layers: number, name: LazyScheduleName = 'light'): Pick<ResolvedLazySchedule, 'pruneLayers' | 'keep'> {
  const { points, keep } = LAZY_SCHEDULES[name];
  const at = points.map((f) => Math.max(1, Math.round(f * layers)));
  const pruneLayers = at.filter((l, i) => l < layers && (i === 0 || l > at[i - 1]!));
  return { pruneLayers, keep: keep.slice(0, pruneLayers.length) };
}

/** The policy's schedule and scoring, or the defaults, checked against the model's depth. */
export function resolveLazySchedule(policy: LazyPolicy, layers: number): ResolvedLazySchedule {
  const scoring = {
    pool: policy.pool,
    span: policy.span,
    scoreFrom: policy.scoreFrom === 'last' ? -1 : (policy.scoreFrom ?? Math.round(DEFAULT_SCORE_FROM * layers)),
  };
  if (scoring.scoreFrom >= layers) throw new Error(`lazy:from=${scoring.scoreFrom} is past this model's last layer (${layers - 1})`);
  if (!policy.at || !policy.keep) return { ...defaultLazySchedule(layers, policy.schedule), ...scoring };
  const beyond = policy.at.find((l) => l >= layers);
  if (beyond !== undefined) throw new Error(`lazy:at=${beyond} is past this model's last layer (${layers - 1})`);
  return { pruneLayers: policy.at, keep: policy.keep, ...scoring };
}
