import { describe, expect, it } from 'vitest';
import { draftFromSpec, setKnob, specFromDraft, togglePress } from '../../src-common/policy/policyDraft.js';
import { pressNamed } from '../../src-common/policy/presses/index.js';

const press = (name: string) => pressNamed(name)!;

describe('the settings panel policy draft', () => {
  it('round-trips a stored spec, in the registry order', () => {
    expect(specFromDraft(draftFromSpec('vatp:budget=0.25,pool=7+simlayerkv'))).toEqual({ spec: 'simlayerkv+vatp:budget=0.25,pool=7', error: null });
    expect(specFromDraft(draftFromSpec('full'))).toEqual({ spec: 'full', error: null });
    expect(draftFromSpec('not a policy:').size).toBe(0);
  });

  it('leaves a blank knob to its default and says why the grammar refuses a draft', () => {
    let draft = togglePress(new Map(), press('vatp'), true);
    expect(specFromDraft(draft).error).toMatch(/vatp needs budget=/);
    draft = setKnob(draft, 'vatp', 'budget', '0.25');
    draft = setKnob(draft, 'vatp', 'pool', ' ');
    expect(specFromDraft(draft)).toEqual({ spec: 'vatp:budget=0.25', error: null });
    draft = togglePress(draft, press('lazy'), true);
    expect(specFromDraft(draft)).toEqual({ spec: 'lazy+vatp:budget=0.25', error: null });
    draft = togglePress(togglePress(draft, press('vatp'), false), press('h2o'), true);
    draft = setKnob(draft, 'h2o', 'budget', '0.25');
    expect(specFromDraft(draft).error).toMatch(/^h2o ranks by attention summed over every query/);
  });

  it('lets one press of a kind in: picking an evictor replaces the other', () => {
    const draft = togglePress(togglePress(new Map(), press('h2o'), true), press('snapkv'), true);
    expect([...draft.keys()]).toEqual(['snapkv']);
    expect([...togglePress(draft, press('snapkv'), false).keys()]).toEqual([]);
  });
});
