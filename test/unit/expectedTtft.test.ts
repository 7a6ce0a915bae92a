// Expected time to first token: a turn's prefill arithmetic at the rate this machine's earlier
// plain prefills reached (src-common/policy/expectedTtft.ts), and which turns count as such a
// prefill (src-main/models/prefillTiming.ts).
import { describe, expect, it } from 'vitest';
import { expectedTtft, loadKeyOf, prefillRate, turnPrefillFlops, MIN_SAMPLE_TOKENS } from '../../src-common/policy/expectedTtft.js';
import { flopRatioLimit, prefillFlops, stockLayerWork, type ModelShape } from '../../src-common/policy/flops.js';
import { parsePolicy } from '../../src-common/policy/spec.js';
import { prefillSampleOf } from '../../src-main/models/prefillTiming.js';
import type { TurnMetrics } from '../../src-common/engineTypes.js';

const SMOL: ModelShape = { layers: 30, embeddingLength: 576, heads: 9, kvHeads: 3, headDim: 64, feedForwardLength: 1536 };
const full = parsePolicy('full');

describe('the prefill rate', () => {
  it('is the median of the samples in FLOPs per ms, leaving out reads too short to be a rate', () => {
    const flops = (n: number) => prefillFlops(SMOL, stockLayerWork(SMOL, n));
    const rate = prefillRate(SMOL, [
      { tokens: 1000, cachedTokens: 0, ttftMs: flops(1000) / 5 },
      { tokens: 2000, cachedTokens: 0, ttftMs: flops(2000) / 7 },
      { tokens: 4000, cachedTokens: 0, ttftMs: flops(4000) / 6 },
      { tokens: MIN_SAMPLE_TOKENS - 1, cachedTokens: 0, ttftMs: 1 },
    ]);
    expect(rate?.samples).toBe(3);
    expect(rate?.flopsPerMs).toBeCloseTo(6, 9);
    expect(prefillRate(SMOL, [{ tokens: 10, cachedTokens: 0, ttftMs: 50 }])).toBeNull();
  });
});

describe('the expected TTFT', () => {
  const flops = (n: number) => prefillFlops(SMOL, stockLayerWork(SMOL, n));
  const rate = prefillRate(SMOL, [{ tokens: 2000, cachedTokens: 0, ttftMs: 8000 }]);

  it('gives back a sample at its own length, and grows faster than the length (attention)', () => {
    expect(expectedTtft(SMOL, rate, 2000, 0, full)?.ms).toBe(8000);
    const twice = expectedTtft(SMOL, rate, 4000, 0, full)!.ms;
    expect(twice).toBeGreaterThan(16_000);
    expect(twice).toBe(Math.round((flops(4000) / flops(2000)) * 8000));
  });

  it('counts only the tokens still to read after a cached prefix, each attending to all before it', () => {
    expect(turnPrefillFlops(SMOL, 4000, 4000, null)).toBe(0);
    const rest = turnPrefillFlops(SMOL, 4000, 3000, null);
    expect(rest).toBeCloseTo(flops(4000) - flops(3000), 0);
    expect(rest).toBeGreaterThan(flops(1000));
    expect(expectedTtft(SMOL, rate, 4000, 3000, full)?.basis).toMatch(/tokens still to read/);
  });

  it("scales a lazy prefill by its schedule's arithmetic; a follow-up reads plainly", () => {
    const lazy = parsePolicy('lazy:at=8/20/24,keep=0.7/0.6/0.5');
    const limit = flopRatioLimit(SMOL, 4000, { points: [{ layer: 8, keep: 0.7 }, { layer: 20, keep: 0.6 }, { layer: 24, keep: 0.5 }], alwaysKept: 20 });
    const plain = expectedTtft(SMOL, rate, 4000, 0, full)!.ms;
    const pruned = expectedTtft(SMOL, rate, 4000, 0, lazy)!;
    expect(plain / pruned.ms).toBeCloseTo(limit, 2);
    expect(pruned.basis).toMatch(/lazy schedule/);
    expect(expectedTtft(SMOL, rate, 4000, 3000, lazy)!.ms).toBe(expectedTtft(SMOL, rate, 4000, 3000, full)!.ms);
  });

  it('says an evictor’s rounds are left out, and is null without a rate', () => {
    expect(expectedTtft(SMOL, rate, 2000, 0, parsePolicy('vatp:budget=0.2'))?.basis).toMatch(/eviction rounds not counted/);
    expect(expectedTtft(SMOL, null, 2000, 0, full)).toBeNull();
  });

  it('on a GPU, promises nothing for a lazy prefill or an evictor, whose saved arithmetic did not turn into time there', () => {
    expect(expectedTtft(SMOL, rate, 4000, 0, parsePolicy('lazy'), true)).toBeNull();
    expect(expectedTtft(SMOL, rate, 4000, 0, parsePolicy('vatp:budget=0.2'), true)).toBeNull();
    expect(expectedTtft(SMOL, rate, 2000, 0, full, true)).toMatchObject({ ms: 8000, basis: expect.stringMatching(/on the GPU/) });
    // a follow-up under lazy reads plainly: its rate holds on a GPU too
    expect(expectedTtft(SMOL, rate, 4000, 3000, parsePolicy('lazy'), true)).not.toBeNull();
  });

  it('keys the rate by how the model is loaded', () => {
    expect(loadKeyOf({ onGpu: false, threads: 2, flashAttention: false })).toBe('cpu:t2:fa0');
    expect(loadKeyOf({ onGpu: true, threads: 16, flashAttention: true })).toBe('gpu:t16:fa1');
  });
});

describe('which turns teach the rate', () => {
  const base: TurnMetrics = {
    build: 'patched',
    policy: 'full',
    promptTokens: 1200,
    prefillTokens: 1200,
    generatedTokens: 8,
    ttftMs: 4000,
    totalMs: 4500,
    prefillTokensPerSec: 300,
    decodeTokensPerSec: 20,
    kvBytesAllocated: null,
    kvBytesUsed: null,
    contextSize: 8192,
    perLayer: [],
    kvBytesPeak: null,
    kvBytesSteady: null,
    eviction: null,
    lazy: null,
    notice: null,
  };

  it('a plain prefill of the whole prompt, or a cache sized to it that evicted nothing', () => {
    expect(prefillSampleOf(base, 'eos')).toEqual({ tokens: 1200, cachedTokens: 0, ttftMs: 4000 });
    const sized = { ...base, policy: 'streaming:budget=1536', eviction: { method: 'streaming', budgetTokens: 1536, keptTokens: 1208, evicted: 0, rounds: 0, prefillRounds: 0, evictMs: 0 } };
    expect(prefillSampleOf(sized, 'maxTokens')).toEqual({ tokens: 1200, cachedTokens: 0, ttftMs: 4000 });
  });

  it('not a cancelled, reused, pruned, evicting, 8-bit or short one', () => {
    expect(prefillSampleOf(base, 'cancelled')).toBeNull();
    expect(prefillSampleOf({ ...base, prefillTokens: 200 }, 'eos')).toBeNull();
    const restored = { reusedTokens: 0, revived: null, next: 'whole' as const, nextReason: null, restored: { tokens: 1000, bytes: 1, ms: 30, savedAt: 0 } };
    expect(prefillSampleOf({ ...base, prefillTokens: 300, conversation: restored }, 'eos')).toBeNull();
    expect(prefillSampleOf({ ...base, policy: 'lazy' }, 'eos')).toBeNull();
    expect(prefillSampleOf({ ...base, policy: 'kv:type=q8_0' }, 'eos')).toBeNull();
    expect(prefillSampleOf({ ...base, promptTokens: 100, prefillTokens: 100 }, 'eos')).toBeNull();
    const evicting = { ...base, policy: 'vatp:budget=0.2', eviction: { method: 'vatp', budgetTokens: 256, keptTokens: 256, evicted: 944, rounds: 5, prefillRounds: 4, evictMs: 30 } };
    expect(prefillSampleOf(evicting, 'eos')).toBeNull();
    expect(prefillSampleOf({ ...base, policy: 'not a policy' }, 'eos')).toBeNull();
  });
});
