// The value shapes knobs share, and small checks the patterns cannot express.
import { PolicySpecError } from './policyError.js';

export const LAYER_LIST = /^\d+(\/\d+)*$/;
export const FRACTION_LIST = /^(0(\.\d+)?|1(\.0+)?)(\/(0(\.\d+)?|1(\.0+)?))*$/;
export const COUNT = /^\d+$/;
export const POSITIVE_NUMBER = /^\d+(\.\d+)?$/;
export const BUDGET = /^(\d+|\d+\.\d+|\d+(\.\d+)?(b|kb|mb|gb))$/i;
export const COUNT_OR_QUESTION = /^(\d+|question)$/;
export const COUNT_OR_SENTENCE = /^(\d+|sentence)$/;
export const LAYER_OR_LAST = /^(\d+|last)$/;

const PATTERN_WORDS = new Map<RegExp, string>([
  [LAYER_LIST, 'layers, e.g. 8/20/24'],
  [FRACTION_LIST, 'fractions, e.g. 0.7/0.6/0.5'],
  [COUNT, 'a whole number'],
  [POSITIVE_NUMBER, 'a number, e.g. 0.9'],
  [BUDGET, 'tokens (512), a fraction (0.2) or bytes (64mb)'],
  [COUNT_OR_QUESTION, 'a whole number, or question'],
  [COUNT_OR_SENTENCE, 'a whole number, or sentence'],
  [LAYER_OR_LAST, 'a layer, or last'],
]);

/** A knob pattern in words, for help and docs. */
export function patternInWords(pattern: RegExp): string {
  return PATTERN_WORDS.get(pattern) ?? pattern.source;
}

/** A max-pooling kernel: odd, at least 1 (1 = none). */
export function oddPool(press: string, raw: string): number {
  const pool = Number(raw);
  if (pool < 1 || pool % 2 === 0) throw new PolicySpecError(`${press}:pool must be odd and at least 1 (1 = no pooling), not ${pool}`);
  return pool;
}

export function atLeastOne(press: string, key: string, raw: string): number {
  const value = Number(raw);
  if (value < 1) throw new PolicySpecError(`${press}:${key} must be at least 1, not ${raw}`);
  return value;
}

/** Layer numbers given as "3/5/9", strictly increasing. */
export function increasingLayers(press: string, key: string, raw: string): number[] {
  const layers = raw.split('/').map(Number);
  if (layers.some((l, i) => i > 0 && l <= layers[i - 1]!)) {
    throw new PolicySpecError(`${press}:${key} must be non-negative layer numbers in increasing order, not ${raw}`);
  }
  return layers;
}
