// A chat's KV budget setting: auto, bytes or tokens, refused with the reason the settings form and
// the API both show; tokens become bytes of full-precision KV on the loaded model.
import { describe, expect, it } from 'vitest';
import { kvBudgetBytes, kvBudgetSettingProblem, parseKvBudgetSetting } from '../../src-common/policy/kvBudgetSetting.js';
import { requestSchemas } from '../../src-common/schemas.js';

describe('the KV budget setting', () => {
  it.each([
    ['auto', { kind: 'auto' }],
    ['', { kind: 'auto' }],
    ['512mb', { kind: 'bytes', bytes: 512 * 2 ** 20 }],
    [' 1.5 GB ', { kind: 'bytes', bytes: 1.5 * 2 ** 30 }],
    ['4096', { kind: 'tokens', tokens: 4096 }],
    ['8192 tokens', { kind: 'tokens', tokens: 8192 }],
  ])('reads %j', (raw, expected) => {
    expect(parseKvBudgetSetting(raw)).toEqual(expected);
  });

  it.each([
    ['lots', /"lots" is not a KV budget: write auto, a size such as 512mb/],
    ['100', /100 tokens holds too little .* at least 256/],
    ['100kb', /100\.0 KiB holds too little .* at least 1mb/],
    ['-5mb', /not a KV budget/],
  ])('refuses %j with the reason', (raw, reason) => {
    expect(kvBudgetSettingProblem(raw)).toMatch(reason);
  });

  it('turns tokens into bytes of the model\'s full-precision KV, and auto into no cap', () => {
    // SmolLM2: 30 layers × K and V × 3 KV heads × 64 dims × 2 bytes = 23,040 bytes a token
    expect(kvBudgetBytes({ kind: 'tokens', tokens: 4096 }, 23_040)).toBe(4096 * 23_040);
    expect(kvBudgetBytes({ kind: 'bytes', bytes: 1e8 }, 23_040)).toBe(1e8);
    expect(kvBudgetBytes({ kind: 'auto' }, 23_040)).toBeNull();
  });

  it('the API refuses what the form refuses, with the same words', () => {
    const schema = requestSchemas['sessions.updateSettings'];
    expect(schema.safeParse({ sessionId: 's', settings: { kvBudget: '64mb' } }).success).toBe(true);
    const refused = schema.safeParse({ sessionId: 's', settings: { kvBudget: 'lots' } });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toBe(kvBudgetSettingProblem('lots'));
  });
});
