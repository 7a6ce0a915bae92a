// SimLayerKV calibration, the pure parts: average the measured per-layer laziness, try growing
// sets of the laziest layers against a fidelity measure, pick the largest set that keeps top-1
// agreement with full KV, and the threshold δ that selects exactly that set. Also how the result
// sits inside a model's stored profile JSON next to other kinds of profile. The measuring itself
// (probes on the real model) is src-main/models/layerCalibration.ts.
import type { LayerProfile } from './simLayerKvLayers.js';
import { parsePolicy } from './spec.js';

/** The key of the SimLayerKV profile inside a model's stored profile JSON. */
export const LAYER_PROFILE_KEY = 'simlayerkv';

/** One tried set of trimmed layers and the fidelity measured with it. */
export interface FidelityPoint {
  /** How many layers were lazy, and which (increasing). */
  count: number;
  layers: number[];
  /** Mean top-1 agreement with full KV over the documents, and per document. */
  agreement: number;
  perDocument: number[];
}

/** What `sift calibrate` stores: the profile the engine uses plus how it was measured. */
export interface CalibratedLayerProfile extends LayerProfile {
  /** The agreement a set of trimmed layers had to keep (--min-agreement). */
  threshold: number;
  /** Agreement of the chosen set; null when no layer is lazy (nothing was trimmed). */
  agreement: number | null;
  /** Every set tried, in order; the search stops at the first that falls short. */
  fidelity: FidelityPoint[];
  /** Prompt queries whose attention was scored. */
  lastW: number;
  /** Teacher-forced tokens compared per document. */
  forced: number;
  /**
   * Per document: prompt length, positions compared, and how many forced tokens are full KV's own
   * top token when teacher-forced (fewer than forced: the answer re-tokenized differently, or a
   * near tie flipped between generating and forcing).
   */
  documents: Array<{ id: string; promptTokens: number; positions: number; selfConsistent: number }>;
  measuredAt: string;
}

export function averageScores(perDocument: readonly (readonly number[])[]): number[] {
  const first = perDocument[0];
  if (!first) throw new Error('no document was scored');
  if (perDocument.some((s) => s.length !== first.length)) throw new Error('documents scored different numbers of layers');
  return first.map((_, layer) => perDocument.reduce((sum, s) => sum + s[layer]!, 0) / perDocument.length);
}

/** Layer ids, laziest first (ties: lower layer first). */
export function rankLayers(scores: readonly number[]): number[] {
  return scores.map((_, layer) => layer).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * Counts of trimmed layers to try, increasing: every `step` layers (default ~a tenth of the depth)
 * up to all of them. A count that would split layers of equal score is moved down to the last
 * boundary between different scores, so "score > δ" always selects exactly the tried set.
 */
export function candidateCounts(scores: readonly number[], step = Math.max(1, Math.round(scores.length / 10))): number[] {
  const sorted = rankLayers(scores).map((layer) => scores[layer]!);
  const counts = new Set<number>();
  for (let k = step; k < sorted.length + step; k += step) {
    let count = Math.min(k, sorted.length);
    while (count > 0 && count < sorted.length && sorted[count - 1] === sorted[count]) count--;
    if (count > 0) counts.add(count);
  }
  return [...counts].sort((a, b) => a - b);
}

/** The `count` laziest layers, in increasing order (the policy's layers= form). */
export function laziestLayers(scores: readonly number[], count: number): number[] {
  return rankLayers(scores)
    .slice(0, count)
    .sort((a, b) => a - b);
}

/**
 * The threshold that makes exactly the `count` laziest layers lazy (score > δ): midway between the
 * count-th and the next score; above the highest score for none; half the lowest for all.
 */
export function thresholdFor(scores: readonly number[], count: number): number {
  const sorted = rankLayers(scores).map((layer) => scores[layer]!);
  if (sorted.length === 0) throw new Error('no layer scores');
  if (count <= 0) {
    const max = sorted[0]!;
    return max < 1 ? (max + 1) / 2 : max;
  }
  if (count >= sorted.length) return sorted[sorted.length - 1]! / 2;
  const delta = (sorted[count - 1]! + sorted[count]!) / 2;
  if (!(sorted[count - 1]! > delta && delta >= sorted[count]!)) {
    throw new Error(`layers ${count - 1} and ${count} of the ranking have the same score; no threshold separates them`);
  }
  return delta;
}

export interface LayerChoice {
  count: number;
  trimmedLayers: number[];
  delta: number;
  /** Agreement of the chosen set, or null for none. */
  agreement: number | null;
  fidelity: FidelityPoint[];
}

export interface ChooseOptions {
  minAgreement: number;
  step?: number;
  /** Called before a set is measured, and with its result. */
  onTry?(layers: number[]): void;
  onResult?(point: FidelityPoint): void;
}

/**
 * Tries the candidate sets in increasing size and keeps the largest whose mean agreement reaches
 * `minAgreement`, stopping at the first that does not (a larger set only trims more). No passing
 * set: no trimmed layer, and δ above every score.
 */
export async function chooseTrimmedLayers(
  scores: readonly number[],
  measure: (layers: number[]) => Promise<number[]>,
  options: ChooseOptions,
): Promise<LayerChoice> {
  const fidelity: FidelityPoint[] = [];
  let chosen: FidelityPoint | null = null;
  for (const count of candidateCounts(scores, options.step)) {
    const layers = laziestLayers(scores, count);
    options.onTry?.(layers);
    const perDocument = await measure(layers);
    if (perDocument.length === 0) throw new Error('fidelity was measured on no document');
    const point: FidelityPoint = { count, layers, agreement: mean(perDocument), perDocument };
    fidelity.push(point);
    options.onResult?.(point);
    if (point.agreement < options.minAgreement) break;
    chosen = point;
  }
  const count = chosen?.count ?? 0;
  return {
    count,
    trimmedLayers: chosen?.layers ?? [],
    delta: thresholdFor(scores, count),
    agreement: chosen?.agreement ?? null,
    fidelity,
  };
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] ?? -Infinity) > (row[best] ?? -Infinity)) best = i;
  return best;
}

/** Share of positions where the trimmed run's top token is the reference's. */
export function topOneAgreement(reference: readonly number[], logits: readonly Float32Array[]): number {
  if (reference.length === 0) throw new Error('no reference positions');
  if (logits.length < reference.length) throw new Error(`expected ${reference.length} rows of logits, got ${logits.length}`);
  return reference.filter((token, i) => argmax(logits[i]!) === token).length / reference.length;
}

/** The policy spec a candidate set is measured with. */
export function candidatePolicy(layers: readonly number[], sink: number, window: number): string {
  return `simlayerkv:layers=${layers.join('/')},sink=${sink},window=${window}`;
}

/** Whether a turn under this policy needs the model's calibrated profile (simlayerkv without layers=). */
export function policyUsesLayerProfile(spec: string): boolean {
  try {
    const trim = parsePolicy(spec).simLayerKv;
    return trim !== null && trim.layers === null;
  } catch {
    return false;
  }
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** The SimLayerKV profile inside a stored model profile, or null if there is none (or it is malformed). */
export function readLayerProfile(stored: unknown): LayerProfile | null {
  if (!stored || typeof stored !== 'object') return null;
  const p = (stored as Record<string, unknown>)[LAYER_PROFILE_KEY] as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') return null;
  const { scores, delta, trimmedLayers, sink, window } = p;
  if (!isNumberArray(scores) || !isNumberArray(trimmedLayers)) return null;
  if (typeof delta !== 'number' || typeof sink !== 'number' || typeof window !== 'number') return null;
  if (trimmedLayers.some((l) => !Number.isInteger(l) || l < 0 || l >= scores.length)) return null;
  return { scores, delta, trimmedLayers, sink, window };
}

/** A stored profile with the SimLayerKV part replaced and every other kind kept. */
export function withLayerProfile(stored: unknown, profile: CalibratedLayerProfile): Record<string, unknown> {
  const base = stored && typeof stored === 'object' && !Array.isArray(stored) ? (stored as Record<string, unknown>) : {};
  return { ...base, [LAYER_PROFILE_KEY]: profile };
}
