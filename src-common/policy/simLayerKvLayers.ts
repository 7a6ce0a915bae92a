// SimLayerKV's layer choice: which layers are "lazy" (keep only sinks and a recent window).
// Pure: the measured laziness comes from a calibrated model profile (sift calibrate).
import type { SimLayerKvPolicy } from './spec.js';

/** What calibration measured for one model file, stored in SQLite keyed by the file's hash. */
export interface LayerProfile {
  /** Per layer: attention mass on the first tokens and the recent window (SimLayerKV's score). */
  scores: number[];
  /** The threshold calibration chose, and the layers it makes lazy (score > delta). */
  delta: number;
  trimmedLayers: number[];
  /** Sinks and window the scores were measured with. */
  sink: number;
  window: number;
}

export interface ResolvedSimLayerKv {
  trimmedLayers: number[];
  /** Why no layer is trimmed, when the policy asked for trimming but none applies. */
  notice: string | null;
}

export function resolveTrimmedLayers(trim: SimLayerKvPolicy, layers: number, profile: LayerProfile | null): ResolvedSimLayerKv {
  if (trim.layers) {
    const beyond = trim.layers.find((l) => l >= layers);
    if (beyond !== undefined) throw new Error(`simlayerkv:layers=${beyond} is past this model's last layer (${layers - 1})`);
    return { trimmedLayers: trim.layers, notice: null };
  }
  if (!profile || profile.scores.length !== layers) {
    return {
      trimmedLayers: [],
      notice: 'SimLayerKV needs this model calibrated (sift calibrate) or layers= in the policy; no layer was trimmed.',
    };
  }
  if (trim.delta === null) return { trimmedLayers: profile.trimmedLayers, notice: null };
  const delta = trim.delta;
  return { trimmedLayers: profile.scores.flatMap((score, layer) => (score > delta ? [layer] : [])), notice: null };
}

/**
 * SimLayerKV's score of each layer from observed attention: the mass the observed queries put on
 * the first `sink` positions and the last `window` ones, averaged over KV heads. `positions[cell]`
 * is the prompt position held by each cell (-1: none), `n` the prompt length.
 */
export function layerLaziness(
  observation: { nKv: number; nHeadKv: number; scores: Float32Array },
  positions: Int32Array,
  n: number,
  sink: number,
  window: number,
): number {
  let mass = 0;
  for (let h = 0; h < observation.nHeadKv; h++) {
    for (let cell = 0; cell < observation.nKv; cell++) {
      const pos = positions[cell] ?? -1;
      if (pos >= 0 && (pos < sink || pos >= n - window)) mass += observation.scores[h * observation.nKv + cell]!;
    }
  }
  return mass / Math.max(1, observation.nHeadKv);
}
