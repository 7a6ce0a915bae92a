// The lazy-prefill schedule and scoring a model gets when the policy leaves them out. Pure.
import type { LazyPolicy } from './spec.js';

export interface ResolvedLazySchedule {
  pruneLayers: number[];
  keep: number[];
  /** Max-pooling kernel over positions for each KV head's scores (1 = none). */
  pool: number;
  /** First layer whose attention is summed into the scores; -1 = the prune point's previous layer only. */
  scoreFrom: number;
}

/**
 * Measured on SmolLM2-135M at 8k tokens (docs/design/LAZY_PREFILL.md, "Scoring and the default
 * schedule"): the first layers' attention does not find a pass key; from layer 3 (a tenth of the
 * depth) on it does, at almost every depth, once each head's scores are max-pooled over 15
 * positions and summed over the layers since. So: prune first at 13% of the depth keeping 35%, then
 * at 27% and 53% keeping 20% and 10% (SmolLM2's 30 layers: 4/8/16, scored from layer 3).
 */
const DEFAULT_POINTS = [0.13, 0.27, 0.53];
const DEFAULT_KEEP = [0.35, 0.2, 0.1];
const DEFAULT_POOL = 15;
const DEFAULT_SCORE_FROM = 0.1;

export function defaultLazySchedule(layers: number): Pick<ResolvedLazySchedule, 'pruneLayers' | 'keep'> {
  const at = DEFAULT_POINTS.map((f) => Math.max(1, Math.round(f * layers)));
  const pruneLayers = at.filter((l, i) => l < layers && (i === 0 || l > at[i - 1]!));
  return { pruneLayers, keep: DEFAULT_KEEP.slice(0, pruneLayers.length) };
}

/** The policy's schedule and scoring, or the defaults, checked against the model's depth. */
export function resolveLazySchedule(policy: LazyPolicy, layers: number): ResolvedLazySchedule {
  const scoring = {
    pool: policy.pool ?? DEFAULT_POOL,
    scoreFrom: policy.scoreFrom === 'last' ? -1 : (policy.scoreFrom ?? Math.round(DEFAULT_SCORE_FROM * layers)),
  };
  if (scoring.scoreFrom >= layers) throw new Error(`lazy:from=${scoring.scoreFrom} is past this model's last layer (${layers - 1})`);
  if (!policy.at || !policy.keep) return { ...defaultLazySchedule(layers), ...scoring };
  const beyond = policy.at.find((l) => l >= layers);
  if (beyond !== undefined) throw new Error(`lazy:at=${beyond} is past this model's last layer (${layers - 1})`);
  return { pruneLayers: policy.at, keep: policy.keep, ...scoring };
}
