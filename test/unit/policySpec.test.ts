import { describe, expect, it } from 'vitest';
import {
  parsePolicy,
  parsePolicyParts,
  PolicySpecError,
  resolveBudgetTokens,
  type EvictionPolicy,
} from '../../src-common/policy/spec.js';
import { PRESSES } from '../../src-common/policy/presses/index.js';

const none = { lazy: null, simLayerKv: null, eviction: null };

describe('policy spec grammar', () => {
  it('parses parts joined by + with key=value knobs', () => {
    expect(parsePolicyParts('lazy:at=4/12/20,keep=0.5/0.3/0.2+kv:type=q8_0')).toEqual([
      { name: 'lazy', params: { at: '4/12/20', keep: '0.5/0.3/0.2' } },
      { name: 'kv', params: { type: 'q8_0' } },
    ]);
  });

  it('accepts full and kv types, and canonicalises the spec', () => {
    expect(parsePolicy('full')).toEqual({ spec: 'full', kvType: 'f16', ...none });
    expect(parsePolicy(' kv : type = q4_0 ')).toEqual({ spec: 'kv:type=q4_0', kvType: 'q4_0', ...none });
    expect(parsePolicy('kv')).toEqual({ spec: 'kv', kvType: 'f16', ...none });
  });

  it('parses lazy schedules, with defaults for the guards, and composes with kv', () => {
    const defaults = { schedule: 'light', sink: 4, recent: 16, window: 'question', pool: 15, scoreFrom: null, span: 48 };
    expect(parsePolicy('lazy').lazy).toEqual({ at: null, keep: null, ...defaults, revive: false });
    expect(parsePolicy('lazy:revive=on').lazy).toMatchObject({ revive: true });
    const policy = parsePolicy('lazy:at=4/12/20,keep=0.5/0.3/0.2,revive=off+kv:type=q8_0');
    expect(policy.kvType).toBe('q8_0');
    expect(policy.lazy).toEqual({ at: [4, 12, 20], keep: [0.5, 0.3, 0.2], ...defaults, revive: false });
    expect(parsePolicy('lazy:pool=7,from=last').lazy).toMatchObject({ pool: 7, scoreFrom: 'last' });
    expect(parsePolicy('lazy:window=question').lazy).toMatchObject({ window: 'question' });
    expect(parsePolicy('lazy:window=24').lazy).toMatchObject({ window: 24 });
    expect(() => parsePolicy('lazy:window=questions')).toThrow(/window/);
    expect(policy.simLayerKv).toBeNull();
    expect(policy.eviction).toBeNull();
  });

  it('parses simlayerkv with defaults, and explicit knobs', () => {
    expect(parsePolicy('simlayerkv')).toEqual({
      spec: 'simlayerkv',
      kvType: 'f16',
      lazy: null,
      simLayerKv: { delta: null, layers: null, sink: 4, window: 1024, lastW: 32, rule: 'profile' },
      eviction: null,
    });
    expect(parsePolicy('simlayerkv:delta=0.9,layers=0/3/5/9,sink=8,window=512,lastw=16').simLayerKv).toEqual({
      delta: 0.9,
      layers: [0, 3, 5, 9],
      sink: 8,
      window: 512,
      lastW: 16,
      rule: 'profile',
    });
    expect(parsePolicy('simlayerkv:delta=1.5').simLayerKv?.delta).toBe(1.5);
    expect(parsePolicy('simlayerkv:rule=decode,delta=0.8').simLayerKv).toMatchObject({ rule: 'decode', delta: 0.8 });
  });

  it('parses each eviction method with its defaults', () => {
    const base = { recent: null, window: 32, pool: 1, chunk: 1, heads: 'sum' as const, when: 'stream' as const, reuse: 'off' as const, followUp: 'kept' as const, recall: 0 };
    expect(parsePolicy('vatp:budget=512').eviction).toEqual<EvictionPolicy>({
      method: 'vatp',
      budget: { kind: 'tokens', value: 512 },
      sink: 20,
      score: 'window',
      ...base,
      lookahead: 'question',
    });
    expect(parsePolicy('h2o:budget=0.2').eviction).toEqual<EvictionPolicy>({
      method: 'h2o',
      budget: { kind: 'fraction', value: 0.2 },
      sink: 20,
      score: 'accumulate',
      ...base,
      lookahead: 'none',
    });
    expect(parsePolicy('snapkv:budget=64mb').eviction).toEqual<EvictionPolicy>({
      method: 'snapkv',
      budget: { kind: 'bytes', value: 64 * 1024 * 1024 },
      sink: 20,
      score: 'window',
      ...base,
      pool: 7,
      lookahead: 'question',
    });
    expect(parsePolicy('streaming:budget=256').eviction).toEqual<EvictionPolicy>({
      method: 'streaming',
      budget: { kind: 'tokens', value: 256 },
      sink: 4,
      score: 'accumulate',
      ...base,
      lookahead: 'none',
    });
  });

  it('parses explicit eviction knobs', () => {
    expect(parsePolicy('vatp:budget=1000,sink=8,recent=100,score=window,window=16').eviction).toEqual<EvictionPolicy>({
      method: 'vatp',
      budget: { kind: 'tokens', value: 1000 },
      sink: 8,
      recent: 100,
      score: 'window',
      window: 16,
      pool: 1,
      chunk: 1,
      heads: 'sum',
      when: 'stream',
      reuse: 'off',
      lookahead: 'question',
      followUp: 'kept',
      recall: 0,
    });
    expect(parsePolicy('vatp:budget=1000,lookahead=none').eviction?.lookahead).toBe('none');
    expect(parsePolicy('vatp:budget=2048,recent=256,recall=64').eviction?.recall).toBe(64);
    expect(() => parsePolicy('vatp:budget=2048,recall=64,lookahead=none')).toThrow(/recall=64 .*lookahead=question/);
    expect(() => parsePolicy('vatp:budget=2048,recall=64,when=prompt')).toThrow(/when=stream/);
    expect(() => parsePolicy('vatp:budget=2048,recent=32,recall=64')).toThrow(/more than the recent window \(32 tokens\)/);
    expect(() => parsePolicy('h2o:budget=2048,recall=64')).toThrow(/recall/);
    expect(parsePolicy('vatp:budget=1000,chunk=16').eviction?.chunk).toBe(16);
    expect(parsePolicy('vatp:budget=1000,chunk=sentence').eviction?.chunk).toBe('sentence');
    expect(() => parsePolicy('vatp:budget=1000,chunk=sentences')).toThrow(/chunk/);
    expect(parsePolicy('vatp:budget=1000,heads=max').eviction?.heads).toBe('max');
    expect(() => parsePolicy('vatp:budget=1000,heads=mean')).toThrow(/heads/);
    expect(() => parsePolicy('streaming:budget=256,heads=max')).toThrow(/heads/);
    expect(() => parsePolicy('vatp:budget=1000,chunk=0')).toThrow(/chunk/);
    expect(() => parsePolicy('streaming:budget=256,chunk=8')).toThrow(/chunk/);
    expect(parsePolicy('vatp:budget=1000,score=acc').eviction?.lookahead).toBe('none');
    expect(parsePolicy('snapkv:budget=0.2,when=prompt').eviction?.when).toBe('prompt');
    expect(parsePolicy('vatp:budget=0.2,when=prompt,reuse=disk').eviction?.reuse).toBe('disk');
    expect(parsePolicy('vatp:budget=1000,score=acc').eviction?.score).toBe('accumulate');
    expect(parsePolicy('vatp:budget=0.2,pool=7').eviction?.pool).toBe(7);
    expect(parsePolicy('snapkv:budget=0.5,recent=0,window=8,pool=1').eviction).toMatchObject({ recent: 0, window: 8, pool: 1 });
    expect(parsePolicy('streaming:budget=128,sink=0').eviction).toMatchObject({ sink: 0, recent: null });
  });

  it.each([
    ['512', { kind: 'tokens', value: 512 }],
    ['2', { kind: 'tokens', value: 2 }],
    ['1', { kind: 'fraction', value: 1 }],
    ['1.0', { kind: 'fraction', value: 1 }],
    ['0.2', { kind: 'fraction', value: 0.2 }],
    ['1000b', { kind: 'bytes', value: 1000 }],
    ['512kb', { kind: 'bytes', value: 512 * 1024 }],
    ['64MB', { kind: 'bytes', value: 64 * 1024 ** 2 }],
    ['1gb', { kind: 'bytes', value: 1024 ** 3 }],
    ['1.5Gb', { kind: 'bytes', value: 1.5 * 1024 ** 3 }],
  ])('reads budget=%s', (raw, budget) => {
    expect(parsePolicy(`h2o:budget=${raw},sink=0`).eviction?.budget).toEqual(budget);
  });

  it('composes simlayerkv, one eviction method and kv', () => {
    const policy = parsePolicy('simlayerkv+vatp:budget=0.2+kv:type=q8_0');
    expect(policy.spec).toBe('simlayerkv+vatp:budget=0.2+kv:type=q8_0');
    expect(policy.kvType).toBe('q8_0');
    expect(policy.lazy).toBeNull();
    expect(policy.simLayerKv).toEqual({ delta: null, layers: null, sink: 4, window: 1024, lastW: 32, rule: 'profile' });
    expect(policy.eviction).toMatchObject({ method: 'vatp', budget: { kind: 'fraction', value: 0.2 } });
  });

  it('composes lazy with simlayerkv by its profile, with and without an evictor', () => {
    expect(parsePolicy('lazy+simlayerkv').simLayerKv).toMatchObject({ rule: 'profile' });
    expect(parsePolicy('lazy+simlayerkv:rule=profile,layers=3/7').lazy).not.toBeNull();
    expect(parsePolicy('lazy+simlayerkv:layers=3/7+vatp:budget=0.25').eviction).toMatchObject({ method: 'vatp' });
  });

  it('describes every knob', () => {
    for (const { name, knobs } of PRESSES) {
      for (const [key, knob] of Object.entries(knobs)) {
        expect(knob.description, `${name}:${key}`).not.toBe('');
        expect(knob.values ?? knob.pattern, `${name}:${key}`).toBeDefined();
      }
    }
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
    ['vatp', /vatp needs budget=/],
    ['snapkv:pool=3', /snapkv needs budget=/],
    ['streaming:sink=2', /streaming needs budget=/],
    ['h2o:budget=lots', /h2o:budget="lots" is not valid/],
    ['h2o:budget=.5', /is not valid/],
    ['h2o:budget=64tb', /is not valid/],
    ['h2o:budget=0', /keeps nothing/],
    ['h2o:budget=0.0', /above 0 and at most 1/],
    ['h2o:budget=1.5', /above 0 and at most 1/],
    ['h2o:budget=0b', /at least 1 byte/],
    ['h2o:budget=16', /sink=20 is more than budget=16 tokens/],
    ['vatp:budget=100,sink=20,recent=90', /sink=20 \+ recent=90 is more than budget=100/],
    ['vatp:budget=100,score=max', /must be one of acc, window/],
    ['vatp:budget=100,window=0', /vatp:window must be at least 1/],
    ['h2o:budget=100,pool=3', /"h2o" has no knob "pool"/],
    ['vatp:budget=100,pool=2', /vatp:pool must be odd/],
    ['vatp:budget=0.2,reuse=disk', /reuse=disk needs when=prompt/],
    ['simlayerkv:rule=decode+vatp:budget=0.2', /rule=decode does not combine with eviction/],
    ['simlayerkv:rule=prefill,layers=1/2', /decides the layers itself/],
    ['simlayerkv:rule=sometimes', /simlayerkv:rule/],
    ['vatp:budget=0.2,when=prompt,score=acc,reuse=disk', /reuse=disk needs score=window/],
    ['h2o:budget=0.2,when=prompt,reuse=disk', /"h2o" has no knob "reuse"/],
    ['h2o:budget=100,window=8', /"h2o" has no knob "window"/],
    ['streaming:budget=100,recent=8', /"streaming" has no knob "recent"/],
    ['snapkv:budget=100,pool=4', /snapkv:pool must be odd/],
    ['snapkv:budget=100,pool=0', /snapkv:pool must be odd/],
    ['vatp:budget=100+h2o:budget=100', /pick one eviction method/],
    ['snapkv:budget=0.3+streaming:budget=0.3', /pick one eviction method/],
    ['lazy+simlayerkv:rule=prefill', /lazy prefill combines with simlayerkv:rule=profile only/],
    ['simlayerkv:rule=decode+lazy', /lazy prefill combines with simlayerkv:rule=profile only/],
    ['vatp:budget=0.2,when=stream+lazy', /when=stream does not combine with lazy/],
    ['vatp:budget=0.2,score=acc+lazy', /score=acc sums every query's attention/],
    ['vatp:budget=0.2,when=prompt,reuse=disk+lazy', /reuse=disk does not combine with lazy/],
    ['h2o:budget=0.2+lazy', /h2o ranks by attention summed over every query/],
    ['streaming:budget=0.2+lazy', /streaming keeps tokens by position/],
    ['kv:type=q8_0+kv:type=q4_0', /appears twice/],
    ['full+simlayerkv', /combines with nothing/],
    ['simlayerkv:delta=0', /positive number/],
    ['simlayerkv:delta=-1', /is not valid/],
    ['simlayerkv:delta=abc', /is not valid/],
    ['simlayerkv:layers=5/3', /increasing order/],
    ['simlayerkv:layers=3/3', /increasing order/],
    ['simlayerkv:layers=3/-1', /is not valid/],
    ['simlayerkv:window=0', /simlayerkv:window must be at least 1/],
    ['simlayerkv:lastw=0', /simlayerkv:lastw must be at least 1/],
    ['simlayerkv:budget=5', /"simlayerkv" has no knob "budget"/],
  ])('rejects %j with a message that says why', (spec, message) => {
    expect(() => parsePolicy(spec)).toThrow(PolicySpecError);
    expect(() => parsePolicy(spec)).toThrow(message);
  });
});

describe('resolveBudgetTokens', () => {
  it('passes token budgets through', () => {
    expect(resolveBudgetTokens({ kind: 'tokens', value: 512 }, 100, 1024)).toBe(512);
  });

  it('rounds fractions of the prompt up, without float noise', () => {
    expect(resolveBudgetTokens({ kind: 'fraction', value: 0.2 }, 1000, 1024)).toBe(200);
    expect(resolveBudgetTokens({ kind: 'fraction', value: 0.2 }, 1001, 1024)).toBe(201);
    expect(resolveBudgetTokens({ kind: 'fraction', value: 0.07 }, 100, 1024)).toBe(7);
    expect(resolveBudgetTokens({ kind: 'fraction', value: 1 }, 37, 1024)).toBe(37);
  });

  it('rounds bytes down to whole tokens', () => {
    expect(resolveBudgetTokens({ kind: 'bytes', value: 64 * 1024 ** 2 }, 10, 49_152)).toBe(1365);
    expect(resolveBudgetTokens({ kind: 'bytes', value: 4096 }, 10, 1024)).toBe(4);
  });

  it('never returns less than 1', () => {
    expect(resolveBudgetTokens({ kind: 'fraction', value: 0.1 }, 0, 1024)).toBe(1);
    expect(resolveBudgetTokens({ kind: 'bytes', value: 1000 }, 10, 49_152)).toBe(1);
  });

  it('rejects a non-positive bytesPerToken for byte budgets', () => {
    expect(() => resolveBudgetTokens({ kind: 'bytes', value: 1000 }, 10, 0)).toThrow(RangeError);
  });
});
