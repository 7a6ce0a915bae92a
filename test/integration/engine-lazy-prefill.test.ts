// LazyLLM inside llama.cpp (llama-sift-prefill.cpp): segmented, layer-major prefill that prunes
// tokens at prune points by the attention of the prompt's last tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LazyPrefillResult } from '../../src-engine/lazyPrefillProbe.js';
import type { LazySchedule } from '../../src-engine/siftNative.js';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const task = passkeyPrompt(1000, 0.4, '61807');
// ~1,150 tokens: three ubatches per segment
const messages: ChatMessage[] = [{ role: 'user', content: `${task.document}\n\n${task.question}` }];
const guards = { nSink: 4, nRecent: 16, obsWindow: 8 };

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const UBATCH = 512;

function padTo256(n: number): number {
  return Math.ceil(n / 256) * 256;
}

/** Mean keys per row when `rows` tokens are computed in 512-token ubatches, each attending to the rows up to its end. */
function causalMeanKeys(rows: number): number {
  let sum = 0;
  for (let start = 0; start < rows; start += UBATCH) {
    const end = Math.min(rows, start + UBATCH);
    sum += (end - start) * padTo256(end);
  }
  return Math.round(sum / rows);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe('lazy prefill on the patched build', () => {
  let engine: EngineClient;
  let stockLogits: Float32Array;

  beforeAll(async () => {
    const stock = await EngineClient.start({ build: 'stock' });
    await stock.loadModel({ path: testModelPath(), contextSize: 2048 });
    stockLogits = (await stock.probeLogits({ messages })).logits[0]!;
    await stock.close();
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 2048 });
  });
  afterAll(async () => engine?.close());

  it('with keep 1.0 at every prune point, gives logits bit-identical to the stock build', async () => {
    const schedule: LazySchedule = { pruneLayers: [8, 16, 24], keep: [1, 1, 1], ...guards };
    const result = await engine.probeLazyPrefill({ messages, schedule });
    expect(result.stats.segments.map((s) => s.firstLayer)).toEqual([0, 8, 16, 24]);
    expect(result.stats.segments.every((s) => s.tokens === result.promptTokens.length)).toBe(true);
    expect(result.stats.pruned).toBe(0);
    expect(bytesEqual(result.logits, stockLogits)).toBe(true);
  });

  describe('with a pruning schedule', () => {
    const schedule: LazySchedule = { pruneLayers: [4, 12, 20], keep: [0.5, 0.3, 0.2], ...guards };
    let result: LazyPrefillResult;

    beforeAll(async () => {
      result = await engine.probeLazyPrefill({ messages, schedule, withObservation: true });
    });

    it('computes each layer for the tokens the schedule keeps, and keeps the rest in the aux cache', () => {
      const n = result.promptTokens.length;
      const expected = [n, Math.ceil(0.5 * n), Math.ceil(0.3 * n), Math.ceil(0.2 * n)];
      expect(result.stats.segments.map((s) => s.tokens)).toEqual(expected);
      result.stats.computed.forEach((computed, layer) => {
        const segment = layer < 4 ? 0 : layer < 12 ? 1 : layer < 20 ? 2 : 3;
        expect(computed, `layer ${layer}`).toBe(expected[segment]);
      });
      expect(result.stats.pruned).toBe(n - expected[3]!);
      // SmolLM2's residual stream is 576 floats wide
      expect(result.stats.auxBytes).toBe(result.stats.pruned * 576 * 4);
    });

    it('attends only to computed tokens, causally: pruned ones are not even among the keys', () => {
      const n = result.promptTokens.length;
      const { positions, layers } = result.observation!;
      for (const obs of layers) {
        const computed = result.stats.computed[obs.layer]!;
        // each ubatch attends to the computed tokens up to its own last one (gathered after a prune
        // point), padded to 256 as llama.cpp pads n_kv: triangular, like stock, not square
        expect(result.stats.keys[obs.layer], `layer ${obs.layer}`).toBe(causalMeanKeys(obs.layer < 4 ? n : computed));
        if (obs.layer >= 4) {
          // the last ubatch sees every computed token; the padding columns are masked
          expect(obs.nKv, `layer ${obs.layer}`).toBe(padTo256(computed));
          for (let h = 0; h < obs.nHeadKv; h++) {
            for (let j = computed; j < obs.nKv; j++) expect(obs.scores[h * obs.nKv + j]).toBe(0);
          }
        }
        // each KV head's attention still sums to 1 over what it sees
        for (let h = 0; h < obs.nHeadKv; h++) {
          let sum = 0;
          for (let j = 0; j < obs.nKv; j++) sum += obs.scores[h * obs.nKv + j]!;
          expect(sum).toBeCloseTo(1, 4);
        }
        // before the first prune point, every prompt cell gets some attention
        if (obs.layer < 4) {
          let attended = 0;
          for (let cell = 0; cell < obs.nKv; cell++) {
            let total = 0;
            for (let h = 0; h < obs.nHeadKv; h++) total += obs.scores[h * obs.nKv + cell]!;
            if (positions[cell]! >= 0 && total > 0) attended++;
          }
          expect(attended, `layer ${obs.layer}`).toBe(n);
        }
      }
    });

    it('keeps the next-token prediction of the full prefill', () => {
      expect(argmax(result.logits)).toBe(argmax(stockLogits));
    });
  });

  it('probes teacher-forced logits under a policy, for fidelity benchmarks', async () => {
    const follow = [504, 1345, 1792];
    const full = await engine.probeLogits({ messages, follow });
    const noop = await engine.probeLogits({ messages, follow, policy: 'lazy:at=8/16/24,keep=1/1/1' });
    // keep 1.0: the prompt's row is the stock one exactly; the forced rows run in other ubatch shapes
    expect(bytesEqual(noop.logits[0]!, full.logits[0]!)).toBe(true);
    noop.logits.forEach((row, i) => expect(argmax(row)).toBe(argmax(full.logits[i]!)));
    const lazy = await engine.probeLogits({ messages, follow, policy: 'lazy' });
    expect(lazy.logits).toHaveLength(follow.length + 1);
    expect(lazy.logits.every((row) => row.length === full.logits[0]!.length)).toBe(true);
    await expect(engine.probeLogits({ messages, policy: 'no-such-policy' })).rejects.toMatchObject({ code: 'BAD_POLICY' });
  });

  it('rejects a schedule whose prune points do not increase', async () => {
    await expect(
      engine.probeLazyPrefill({ messages, schedule: { pruneLayers: [12, 4], keep: [0.5, 0.3], ...guards } }),
    ).rejects.toThrow(/invalid lazy prefill schedule/);
  });
});
