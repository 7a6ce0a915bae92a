// The lazy-prefill schedule a model gets when the policy names none. Pure.
import type { LazyPolicy } from './spec.js';

export interface ResolvedLazySchedule {
  pruneLayers: number[];
  keep: number[];
}

/**
 * Prune at about 13%, 40% and 67% of the depth, keeping 50%, 30% and 20% of the prompt: LazyLLM's
 * progressive shape (early layers keep more). For SmolLM2's 30 layers that is 4/12/20. Provisional:
 * the benchmark's accuracy/speed curve is what the default per model must come from.
 */
export function defaultLazySchedule(layers: number): ResolvedLazySchedule {
  const at = [0.13, 0.4, 0.67].map((f) => Math.max(1, Math.round(f * layers)));
  const pruneLayers = at.filter((l, i) => l < layers && (i === 0 || l > at[i - 1]!));
  return { pruneLayers, keep: [0.5, 0.3, 0.2].slice(0, pruneLayers.length) };
}

/** The policy's schedule, or the default one, checked against the model's depth. */
export function resolveLazySchedule(policy: LazyPolicy, layers: number): ResolvedLazySchedule {
  if (!policy.at || !policy.keep) return defaultLazySchedule(layers);
  const beyond = policy.at.find((l) => l >= layers);
  if (beyond !== undefined) throw new Error(`lazy:at=${beyond} is past this model's last layer (${layers - 1})`);
  return { pruneLayers: policy.at, keep: policy.keep };
}
