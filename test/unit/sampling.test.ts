import { describe, expect, it } from 'vitest';
import { argmax, sampleToken } from '../../src-engine/sampling.js';

describe('sampling the first token after a lazy prefill', () => {
  const logits = Float32Array.from([0.1, 3.0, 2.9, -1, 0]);

  it('is greedy at temperature 0', () => {
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { temperature: 0, topP: 1 })).toBe(1);
  });

  it('repeats for a seed, and stays inside the top-p nucleus', () => {
    const draws = Array.from({ length: 200 }, (_, seed) => sampleToken(logits, { temperature: 1, topP: 0.6, seed }));
    expect(new Set(draws)).toEqual(new Set([1, 2]));
    expect(sampleToken(logits, { temperature: 1, topP: 0.6, seed: 7 })).toBe(sampleToken(logits, { temperature: 1, topP: 0.6, seed: 7 }));
  });

  it('reaches less likely tokens when top-p and temperature allow', () => {
    const draws = Array.from({ length: 400 }, (_, seed) => sampleToken(logits, { temperature: 2, topP: 1, seed }));
    expect(new Set(draws).size).toBe(5);
  });
});
