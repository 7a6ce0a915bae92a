import { describe, expect, it } from 'vitest';
import { parsePolicy, parsePolicyParts, PolicySpecError } from '../../src-main/policy/spec.js';

describe('policy spec grammar', () => {
  it('parses parts joined by + with key=value knobs', () => {
    expect(parsePolicyParts('lazy:at=4/12/20,keep=0.5/0.3/0.2+kv:type=q8_0')).toEqual([
      { name: 'lazy', params: { at: '4/12/20', keep: '0.5/0.3/0.2' } },
      { name: 'kv', params: { type: 'q8_0' } },
    ]);
  });

  it('accepts full and kv types, and canonicalises the spec', () => {
    expect(parsePolicy('full')).toEqual({ spec: 'full', kvType: 'f16', lazy: null });
    expect(parsePolicy(' kv : type = q4_0 ')).toEqual({ spec: 'kv:type=q4_0', kvType: 'q4_0', lazy: null });
    expect(parsePolicy('kv')).toEqual({ spec: 'kv', kvType: 'f16', lazy: null });
  });

  it('parses lazy schedules, with defaults for the guards, and composes with kv', () => {
    expect(parsePolicy('lazy').lazy).toEqual({ at: null, keep: null, sink: 4, recent: 16, window: 8, revive: true });
    const policy = parsePolicy('lazy:at=4/12/20,keep=0.5/0.3/0.2,revive=off+kv:type=q8_0');
    expect(policy.kvType).toBe('q8_0');
    expect(policy.lazy).toEqual({ at: [4, 12, 20], keep: [0.5, 0.3, 0.2], sink: 4, recent: 16, window: 8, revive: false });
  });

  it.each([
    ['lazy:at=4/12', /both at= and keep=/],
    ['lazy:at=4/12,keep=0.5', /2 prune points but 1 keep/],
    ['lazy:at=12/4,keep=0.5/0.3', /must increase/],
    ['lazy:at=4/12,keep=0.3/0.5', /never grow/],
    ['lazy:at=4,keep=1.5', /is not valid/],
    ['lazy:revive=maybe', /must be one of on, off/],
    ['', /empty policy/],
    ['warp', /unknown policy "warp"/],
    ['kv:type=q3', /must be one of f16, q8_0, q4_0/],
    ['kv:bits=8', /has no knob "bits"/],
    ['kv:type', /is not key=value/],
    ['kv:type=q8_0,type=q4_0', /given twice/],
    ['kv+kv', /appears twice/],
    ['full+kv:type=q8_0', /combines with nothing/],
    ['Kv', /bad policy name/],
  ])('rejects %j with a message that says why', (spec, message) => {
    expect(() => parsePolicy(spec)).toThrow(PolicySpecError);
    expect(() => parsePolicy(spec)).toThrow(message);
  });
});
