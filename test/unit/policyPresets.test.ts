import { describe, expect, it } from 'vitest';
import { POLICY_PRESETS, presetFor } from '../../src-common/policy/presets.js';
import { canonicalPolicySetting } from '../../src-common/policy/select.js';

describe('policy presets', () => {
  it('are valid policies, each once, each saying what it trades', () => {
    expect(new Set(POLICY_PRESETS.map((p) => p.spec)).size).toBe(POLICY_PRESETS.length);
    for (const preset of POLICY_PRESETS) {
      expect(canonicalPolicySetting(preset.spec)).toBe(preset.spec);
      expect(preset.trade.length).toBeGreaterThan(20);
    }
  });

  it('name the task behind every figure they quote', () => {
    for (const preset of POLICY_PRESETS.filter((p) => /\d(\.\d+)?×|\d+%/.test(p.trade))) {
      expect(preset.trade).toMatch(/real documents|real prose|pass-key/);
    }
    expect(presetFor('lazy')?.trade).toMatch(/real (documents|prose)/);
    expect(presetFor('lazy:at=1,keep=0.5')).toBeUndefined();
  });
});
