import { describe, expect, it } from 'vitest';
import {
  attentionFlopsPerPair,
  flopRatioLimit,
  trimmedLayerWork,
  linearFlopsPerToken,
  prefillFlops,
  stockLayerWork,
  type ModelShape,
} from '../../src-common/policy/flops.js';

const smollm2: ModelShape = { layers: 30, embeddingLength: 576, heads: 9, kvHeads: 3, headDim: 64, feedForwardLength: 1536 };

// small enough to count on paper
const tiny: ModelShape = { layers: 2, embeddingLength: 4, heads: 2, kvHeads: 1, headDim: 2, feedForwardLength: 8 };

describe('prefill FLOPs from the model shape', () => {
  it('counts SmolLM2-135M per token and per query-key pair', () => {
    // 2·576·(576 + 2·3·64 + 576) + 3·2·576·1536 = 1,769,472 + 5,308,416
    expect(linearFlopsPerToken(smollm2)).toBe(7_077_888);
    // 2·2·9·64
    expect(attentionFlopsPerPair(smollm2)).toBe(2304);
  });

  it('matches a hand count for a tiny model', () => {
    // C_lin = 2·4·(4 + 2·2) + 2·4·4 + 3·2·4·8 = 64 + 32 + 192 = 288; C_attn = 2·2·2·2 = 16
    expect(linearFlopsPerToken(tiny)).toBe(288);
    expect(attentionFlopsPerPair(tiny)).toBe(16);
    // 4 tokens, causal: 4 rows, 10 query-key pairs (mean 2.5 keys) per layer
    // per layer 4·288 + 4·2.5·16 = 1,152 + 160 = 1,312; two layers 2,624
    expect(prefillFlops(tiny, stockLayerWork(tiny, 4))).toBe(2624);
  });

  it('rejects work for the wrong number of layers', () => {
    expect(() => prefillFlops(tiny, stockLayerWork(smollm2, 4))).toThrow(/30 layers, the model has 2/);
  });
});

describe('FLOP-ratio limit of a lazy schedule', () => {
  it('is exactly 1 when every prune point keeps everything', () => {
    const keepAll = { points: [4, 12, 20].map((layer) => ({ layer, keep: 1 })) };
    for (const tokens of [1, 17, 1024, 8112]) expect(flopRatioLimit(smollm2, tokens, keepAll)).toBe(1);
    expect(flopRatioLimit(smollm2, 2048, { points: [] })).toBe(1);
  });

  it('matches a hand count: half the tiny model\'s tokens computed from layer 1 on', () => {
    const schedule = { points: [{ layer: 1, keep: 0.5 }] };
    expect(trimmedLayerWork(tiny, 4, schedule)).toEqual([
      { rows: 4, meanKeys: 2.5 },
      { rows: 2, meanKeys: 1.5 },
    ]);
    // layer 0 as stock (1,312); layer 1: 2·288 + 2·1.5·16 = 624; limit 2,624 / 1,936
    expect(flopRatioLimit(tiny, 4, schedule)).toBeCloseTo(2624 / 1936, 12);
  });

  it('computes kept tokens from each prune point\'s layer on (the engine\'s lazy:at=), rounded up', () => {
    const work = trimmedLayerWork(smollm2, 1001, { points: [{ layer: 4, keep: 0.5 }, { layer: 12, keep: 0.3 }, { layer: 20, keep: 0.2 }] });
    const rows = work.map((w) => w.rows);
    expect(rows.slice(0, 4)).toEqual([1001, 1001, 1001, 1001]);
    expect(rows.slice(4, 12)).toEqual(Array(8).fill(501));
    expect(rows.slice(12, 20)).toEqual(Array(8).fill(301));
    expect(rows.slice(20)).toEqual(Array(10).fill(201));
    expect(work[20]?.meanKeys).toBe(101);
  });

  it('never keeps fewer than the always-kept tokens (sinks and the last tokens)', () => {
    const work = trimmedLayerWork(smollm2, 1000, { points: [{ layer: 4, keep: 0.5 }, { layer: 12, keep: 0.001 }], alwaysKept: 20 });
    expect(work[11]?.rows).toBe(500);
    expect(work[12]?.rows).toBe(20);
    expect(work[29]?.rows).toBe(20);
  });

  it('grows with the prompt for a fixed schedule, because attention is quadratic', () => {
    const schedule = { points: [{ layer: 4, keep: 0.5 }, { layer: 12, keep: 0.3 }, { layer: 20, keep: 0.2 }] };
    const at1k = flopRatioLimit(smollm2, 1024, schedule);
    const at8k = flopRatioLimit(smollm2, 8192, schedule);
    expect(at1k).toBeGreaterThan(2);
    expect(at8k).toBeGreaterThan(at1k);
  });

  it.each([
    [{ points: [{ layer: 30, keep: 0.5 }] }, /outside 1..29/],
    [{ points: [{ layer: 0, keep: 0.5 }] }, /outside 1..29/],
    [{ points: [{ layer: 4, keep: 0 }] }, /outside \(0, 1\]/],
    [{ points: [{ layer: 4, keep: 1.5 }] }, /outside \(0, 1\]/],
    [{ points: [{ layer: 12, keep: 0.5 }, { layer: 4, keep: 0.3 }] }, /must increase/],
    [{ points: [{ layer: 4, keep: 0.3 }, { layer: 12, keep: 0.5 }] }, /must not increase/],
  ])('rejects an impossible schedule %j', (schedule, message) => {
    expect(() => flopRatioLimit(smollm2, 1024, schedule)).toThrow(message);
  });
});
