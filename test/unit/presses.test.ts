import { describe, expect, it } from 'vitest';
import { PRESSES, pressNamed } from '../../src-common/policy/presses/index.js';
import { SCORERS } from '../../src-common/policy/scorers/index.js';
import { describeKnob, ROLE_ORDER } from '../../src-common/policy/press.js';
import { parsePolicy, PolicySpecError } from '../../src-common/policy/spec.js';

describe('press declarations', () => {
  it('gives every knob a default its own pattern accepts, or says it is computed or required', () => {
    for (const press of PRESSES) {
      for (const [key, knob] of Object.entries(press.knobs)) {
        const where = `${press.name}:${key}`;
        if (knob.default === null) {
          expect(knob.required || /default/.test(knob.description), `${where} says how its default is found`).toBe(true);
          continue;
        }
        if (knob.values) expect(knob.values, where).toContain(knob.default);
        if (knob.pattern) expect(knob.pattern.test(knob.default), where).toBe(true);
        // the default is written once: the description never repeats it
        expect(knob.description, where).not.toMatch(/\(default/);
      }
    }
  });

  it('parses each press given every default written out the same as given none', () => {
    for (const press of PRESSES) {
      const required = Object.entries(press.knobs).filter(([, k]) => k.required).map(([key]) => `${key}=0.5`);
      const bare = required.length ? `${press.name}:${required.join(',')}` : press.name;
      const defaults = Object.entries(press.knobs).flatMap(([key, k]) => (k.default === null ? [] : [`${key}=${k.default}`]));
      const explicit = `${press.name}:${[...required, ...defaults].join(',')}`;
      const { spec: _bare, ...fromBare } = parsePolicy(bare);
      if (defaults.length === 0) continue;
      const { spec: _explicit, ...fromExplicit } = parsePolicy(explicit);
      expect(fromExplicit, press.name).toEqual(fromBare);
    }
  });

  it('shows the declared default in help text once', () => {
    expect(describeKnob(pressNamed('lazy')!.knobs['pool']!)).toMatch(/odd; 1 = none \(default 15\)$/);
    expect(describeKnob(pressNamed('vatp')!.knobs['budget']!)).toMatch(/^required: /);
  });

  it('has one press per scorer, each with its own role and ranking', () => {
    for (const scorer of SCORERS) {
      const press = pressNamed(scorer.name)!;
      expect(press.role).toBe('evictor');
      expect('recent' in press.knobs).toBe(scorer.ranked);
      expect(press.knobs['sink']!.default).toBe(String(scorer.defaultSink));
    }
    expect(new Set(PRESSES.map((p) => p.name)).size).toBe(PRESSES.length);
    for (const press of PRESSES) expect(ROLE_ORDER).toContain(press.role);
  });

  it('derives every refusal from a declaration: same role, or an exclusion', () => {
    // every pair of presses of different roles either composes or is refused with the declared reason
    for (const a of PRESSES) {
      for (const b of PRESSES) {
        if (a === b) continue;
        const spec = (p: typeof a) => (p.knobs['budget'] ? `${p.name}:budget=0.5` : p.name);
        const combined = `${spec(a)}+${spec(b)}`;
        const declared = a.role === b.role || a.excludes.some((x) => x.role === b.role && !x.when) || b.excludes.some((x) => x.role === a.role && !x.when);
        if (declared) expect(() => parsePolicy(combined), combined).toThrow(PolicySpecError);
        else expect(() => parsePolicy(combined), combined).not.toThrow();
      }
    }
  });

  it('refuses a conditional exclusion only for the settings it names', () => {
    expect(() => parsePolicy('simlayerkv:rule=decode+vatp:budget=0.2')).toThrow(/rule=decode does not combine with eviction/);
    expect(parsePolicy('simlayerkv:rule=profile+vatp:budget=0.2').eviction?.method).toBe('vatp');
    // the prefill rule decides on the whole prompt: eviction runs once after it, so not while streaming
    expect(parsePolicy('simlayerkv:rule=prefill+vatp:budget=0.2').eviction?.method).toBe('vatp');
    expect(() => parsePolicy('simlayerkv:rule=prefill+vatp:budget=0.2,when=stream')).toThrow(/when=stream does not combine with simlayerkv:rule=prefill/);
    expect(() => parsePolicy('simlayerkv:rule=prefill+streaming:budget=0.2')).toThrow(/streaming keeps tokens by position/);
    expect(parsePolicy('simlayerkv:rule=profile+vatp:budget=0.2,when=stream').eviction?.when).toBe('stream');
  });
});
