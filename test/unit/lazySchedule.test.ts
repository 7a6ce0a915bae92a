import { describe, expect, it } from 'vitest';
import { defaultLazySchedule, resolveLazySchedule } from '../../src-main/policy/lazy.js';
import { parsePolicy } from '../../src-main/policy/spec.js';

describe('lazy schedules', () => {
  it('gives SmolLM2 (30 layers) prune points 4/12/20 keeping 50/30/20%', () => {
    expect(defaultLazySchedule(30)).toEqual({ pruneLayers: [4, 12, 20], keep: [0.5, 0.3, 0.2] });
  });

  it('scales with depth and never repeats or passes the last layer', () => {
    expect(defaultLazySchedule(32)).toEqual({ pruneLayers: [4, 13, 21], keep: [0.5, 0.3, 0.2] });
    expect(defaultLazySchedule(3).pruneLayers.every((l) => l >= 1 && l < 3)).toBe(true);
  });

  it('uses the policy schedule when given, checked against the model', () => {
    const lazy = parsePolicy('lazy:at=8/16,keep=0.4/0.2').lazy!;
    expect(resolveLazySchedule(lazy, 30)).toEqual({ pruneLayers: [8, 16], keep: [0.4, 0.2] });
    expect(() => resolveLazySchedule(lazy, 12)).toThrow(/past this model's last layer/);
  });
});
