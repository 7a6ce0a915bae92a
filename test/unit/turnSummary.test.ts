import { describe, expect, it } from 'vitest';
import { describeLazyPrefill, describeTurn } from '../../src-common/turnSummary.js';
import type { LazyTurnMetrics, TurnMetrics } from '../../src-common/engineTypes.js';

const lazy: LazyTurnMetrics = {
  pruneLayers: [8, 20, 24],
  keep: [0.7, 0.6, 0.5],
  pool: 15,
  scoreFrom: 3,
  span: 0,
  obsWindow: 18,
  segments: [],
  pruned: 2025,
  auxBytes: 0,
  revived: 0,
  reviveMs: 0,
};

describe('describeLazyPrefill', () => {
  it('says what was pruned, where, and which tokens ranked the rest', () => {
    expect(describeLazyPrefill(lazy, 4050)).toBe(
      "pruned 2,025 of 4,050 prompt tokens (kept 70% from layer 8, 60% from 20, 50% from 24), ranked by the last 18 tokens' attention",
    );
  });

  it('adds revival when pruned tokens were completed', () => {
    expect(describeLazyPrefill({ ...lazy, revived: 2025, reviveMs: 812.4 }, 4050)).toMatch(/; revived 2,025 after the first token in 812 ms$/);
  });
});

describe('describeTurn: one description of a turn for the CLI and the app', () => {
  const MiB = 1024 ** 2;
  const base: TurnMetrics = {
    build: 'patched', policy: 'full', promptTokens: 4050, prefillTokens: 4050, generatedTokens: 12, ttftMs: 1530, totalMs: 2100,
    prefillTokensPerSec: 2647, decodeTokensPerSec: 21.4, kvBytesAllocated: 180 * MiB, kvBytesUsed: 90 * MiB, contextSize: 8192,
    perLayer: [], kvBytesPeak: 180 * MiB, kvBytesSteady: 180 * MiB, kvPredicted: { steadyKvBytes: 180 * MiB, peakKvBytes: 180 * MiB, exact: true },
    eviction: null, lazy: null, notice: null,
  };

  it('gives the generic figures with the predicted KV beside the allocated', () => {
    const facts = Object.fromEntries(describeTurn(base).map((f) => [f.key, f.value]));
    expect(facts).toMatchObject({ ttft: '1.53 s', prompt: '4,050 tokens, read at 2,647 tok/s', kv: '90.0 MiB used of 180.0 MiB allocated (predicted 180.0 MiB)', policy: 'full' });
  });

  it('adds one line per press, from the press declaration, and the notice', () => {
    const metrics: TurnMetrics = {
      ...base,
      policy: 'vatp:budget=0.25+kv:type=q8_0',
      kvBytesPeak: 200 * MiB,
      eviction: { method: 'vatp', budgetTokens: 1024, keptTokens: 880, evicted: 3170, rounds: 25, prefillRounds: 24, evictMs: 40 },
      notice: 'something the engine decided',
    };
    const facts = describeTurn(metrics);
    expect(facts.find((f) => f.key === 'press-vatp')).toEqual({ key: 'press-vatp', label: 'VATP', value: 'budget 1,024 tokens: evicted 3,170 in 25 rounds, kept 880' });
    expect(facts.find((f) => f.key === 'press-kv')?.value).toBe('K and V stored as q8_0');
    expect(facts.find((f) => f.key === 'kv')?.value).toMatch(/, peak 200\.0 MiB$/);
    expect(facts.at(-1)).toEqual({ key: 'notice', label: 'Notice', value: 'something the engine decided' });
    const lazyTurn = describeTurn({ ...base, policy: 'lazy', lazy });
    expect(lazyTurn.find((f) => f.key === 'press-lazy')?.value).toBe(describeLazyPrefill(lazy, 4050));
    // lazy+evictor: both presses say what they did, the evictor that it ran after the lazy prefill
    const combined = describeTurn({
      ...base,
      policy: 'lazy+vatp:budget=0.25',
      lazy,
      eviction: { method: 'vatp', budgetTokens: 1024, keptTokens: 880, evicted: 3170, rounds: 1, prefillRounds: 1, evictMs: 40, afterLazy: true },
    });
    expect(combined.find((f) => f.key === 'press-lazy')?.value).toBe(describeLazyPrefill(lazy, 4050));
    expect(combined.find((f) => f.key === 'press-vatp')?.value).toBe('budget 1,024 tokens: evicted 3,170 in 1 round after the lazy prefill, its pruned tokens first, kept 880');
  });

  it('says why there are no bytes on the stock build, and survives a policy that no longer parses', () => {
    const stock = describeTurn({ ...base, build: 'stock', policy: 'turbo:x=1', kvBytesAllocated: null, kvBytesUsed: null, kvBytesPeak: null, kvBytesSteady: null, kvPredicted: null });
    expect(stock.find((f) => f.key === 'kv')?.value).toBe('4,050 of 8,192 context tokens (KV bytes need the patched build)');
    expect(stock.some((f) => f.key.startsWith('press-'))).toBe(false);
  });

  it('says what the cache kept of each document, or how much a lazy prefill read through every layer', () => {
    const evicted = describeTurn({ ...base, kept: { basis: 'evicted', keptTokens: 1369, promptTokens: 6010, documents: [{ documentId: 'd', chars: 1000, ranges: [0, 100, 900, 1000] }] } });
    expect(evicted.find((f) => f.key === 'kept')).toEqual({ key: 'kept', label: 'Kept in the cache', value: "1,369 of 6,010 prompt tokens; 20% of the document's text" });
    const computed = describeTurn({ ...base, kept: { basis: 'computed', keptTokens: 4812, promptTokens: 6010, documents: [{ documentId: 'd', chars: 1000, ranges: [0, 600, 600, 1000], weights: [1, 0.5] }, { documentId: 'e', chars: 10, ranges: [0, 10] }] } });
    expect(computed.find((f) => f.key === 'kept')?.value).toBe("4,812 of 6,010 prompt tokens computed through every layer; 60%, 100% of the documents' texts");
    expect(describeTurn(base).some((f) => f.key === 'kept')).toBe(false);
  });
});
