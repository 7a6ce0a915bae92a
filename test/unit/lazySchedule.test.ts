import { describe, expect, it } from 'vitest';
import { defaultLazySchedule, resolveLazySchedule } from '../../src-common/policy/lazy.js';
import { parsePolicy } from '../../src-common/policy/spec.js';

describe('lazy schedules', () => {
  it('gives SmolLM2 (30 layers) prune points 8/20/24 keeping 70/60/50%', () => {
    expect(defaultLazySchedule(30)).toEqual({ pruneLayers: [8, 20, 24], keep: [0.7, 0.6, 0.5] });
  });

  it('scales with depth and never repeats or passes the last layer', () => {
    expect(defaultLazySchedule(32)).toEqual({ pruneLayers: [9, 21, 26], keep: [0.7, 0.6, 0.5] });
    expect(defaultLazySchedule(18)).toEqual({ pruneLayers: [5, 12, 14], keep: [0.7, 0.6, 0.5] });
    expect(defaultLazySchedule(3).pruneLayers.every((l) => l >= 1 && l < 3)).toBe(true);
  });

  it('scales the balanced schedule to 5/10/14 of Qwen2.5-0.5B\'s 24 layers keeping 50/30/20%, and refuses it beside at=', () => {
    expect(defaultLazySchedule(24, 'balanced')).toEqual({ pruneLayers: [5, 10, 14], keep: [0.5, 0.3, 0.2] });
    expect(defaultLazySchedule(30, 'balanced')).toEqual({ pruneLayers: [6, 13, 18], keep: [0.5, 0.3, 0.2] });
    expect(resolveLazySchedule(parsePolicy('lazy:schedule=balanced').lazy!, 24)).toMatchObject({ pruneLayers: [5, 10, 14], keep: [0.5, 0.3, 0.2], span: 48, pool: 15 });
    expect(resolveLazySchedule(parsePolicy('lazy').lazy!, 24)).toMatchObject({ pruneLayers: [6, 16, 19], keep: [0.7, 0.6, 0.5] });
    expect(() => parsePolicy('lazy:schedule=balanced,at=4/8,keep=0.5/0.3')).toThrow(/not both/);
    expect(() => parsePolicy('lazy:schedule=fastest')).toThrow();
  });

  it('scores with pooled attention summed from a tenth of the depth, unless the policy says otherwise', () => {
    expect(resolveLazySchedule(parsePolicy('lazy').lazy!, 30)).toMatchObject({ pool: 15, scoreFrom: 3 });
    expect(resolveLazySchedule(parsePolicy('lazy:pool=1,from=last').lazy!, 30)).toMatchObject({ pool: 1, scoreFrom: -1 });
    expect(resolveLazySchedule(parsePolicy('lazy:from=6').lazy!, 30)).toMatchObject({ scoreFrom: 6 });
    expect(() => resolveLazySchedule(parsePolicy('lazy:from=30').lazy!, 30)).toThrow(/past this model's last layer/);
    expect(() => parsePolicy('lazy:pool=4')).toThrow(/odd/);
  });

  it('uses the policy schedule when given, checked against the model', () => {
    const lazy = parsePolicy('lazy:at=8/16,keep=0.4/0.2').lazy!;
    expect(resolveLazySchedule(lazy, 30)).toEqual({ pruneLayers: [8, 16], keep: [0.4, 0.2], pool: 15, scoreFrom: 3, span: 48 });
    expect(() => resolveLazySchedule(lazy, 12)).toThrow(/past this model's last layer/);
  });
});
