// Attention observation (llama-sift-observe.cpp): the scores every Sift KV policy ranks tokens by.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttentionProbeResult } from '../../src-engine/attentionProbe.js';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const task = passkeyPrompt(1200, 0.35, '83517');
// ~1,360 tokens: three 512-token ubatches, so the scores must span ubatches
const messages: ChatMessage[] = [{ role: 'user', content: `${task.document}\n\n${task.question}` }];

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Per cell, the score averaged over KV heads. */
function perCell(result: AttentionProbeResult, layer: number): Float64Array {
  const obs = result.layers[layer]!;
  const out = new Float64Array(obs.nKv);
  for (let h = 0; h < obs.nHeadKv; h++) for (let c = 0; c < obs.nKv; c++) out[c]! += obs.scores[h * obs.nKv + c]! / obs.nHeadKv;
  return out;
}

function topCells(scores: Float64Array, k: number): Set<number> {
  return new Set([...scores.keys()].sort((a, b) => scores[b]! - scores[a]!).slice(0, k));
}

describe('attention observation on the patched build', () => {
  let engine: EngineClient;
  let withoutFlash: AttentionProbeResult;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 2048, flashAttention: false });
    withoutFlash = await engine.probeAttention({ messages, window: 8 });
  });
  afterAll(async () => engine?.close());

  it('scores every prompt token in every layer, across ubatches, as a distribution per KV head', () => {
    expect(withoutFlash.promptTokens).toBeGreaterThan(1024);
    expect(withoutFlash.layers).toHaveLength(30);
    const held = [...withoutFlash.positions].filter((p) => p >= 0).sort((a, b) => a - b);
    expect(held).toEqual(Array.from({ length: withoutFlash.promptTokens }, (_, i) => i));
    for (const obs of withoutFlash.layers) {
      expect(obs.nHeadKv).toBe(3);
      expect(obs.nKv).toBeGreaterThanOrEqual(withoutFlash.promptTokens);
      for (let h = 0; h < obs.nHeadKv; h++) {
        let sum = 0;
        for (let cell = 0; cell < obs.nKv; cell++) {
          const score = obs.scores[h * obs.nKv + cell]!;
          expect(score).toBeGreaterThanOrEqual(0);
          // cells without a token are masked out
          if (withoutFlash.positions[cell]! < 0) expect(score).toBe(0);
          sum += score;
        }
        expect(sum).toBeCloseTo(1, 4);
      }
    }
  });

  it('shows what real attention looks like: a sink on the first token in the deeper layers', () => {
    // measured on SmolLM2-135M: layers 12-29 each put 0.23-0.45 of the mass on token 0
    const firstCell = withoutFlash.positions.indexOf(0);
    const sinkLayers = withoutFlash.layers.filter((obs) => perCell(withoutFlash, obs.layer)[firstCell]! > 0.2);
    expect(sinkLayers.length).toBeGreaterThanOrEqual(15);
    expect(sinkLayers.every((obs) => obs.layer >= 12)).toBe(true);
  });

  it('leaves the logits bit-identical', async () => {
    const follow = [504, 1345];
    const plain = await engine.probeLogits({ messages, follow });
    const observed = await engine.probeLogits({ messages, follow, observe: 8 });
    expect(observed.logits).toHaveLength(3);
    observed.logits.forEach((row, i) => expect(bytesEqual(row, plain.logits[i]!)).toBe(true));
  });

  it('gives the same scores with flash attention on', async () => {
    await engine.loadModel({ path: testModelPath(), contextSize: 2048, flashAttention: true });
    const withFlash = await engine.probeAttention({ messages, window: 8 });
    expect(withFlash.promptTokens).toBe(withoutFlash.promptTokens);
    // layer 0 sees identical inputs either way, so the observation op itself must match exactly
    expect(bytesEqual(withFlash.layers[0]!.scores, withoutFlash.layers[0]!.scores)).toBe(true);
    // deeper layers inherit flash attention's own rounding (measured: at most 4.6e-3, top-64 >= 61)
    for (const obs of withFlash.layers) {
      expect(obs.nKv).toBe(withoutFlash.layers[obs.layer]!.nKv);
      const a = perCell(withFlash, obs.layer);
      const b = perCell(withoutFlash, obs.layer);
      let maxDiff = 0;
      for (let c = 0; c < a.length; c++) maxDiff = Math.max(maxDiff, Math.abs(a[c]! - b[c]!));
      expect(maxDiff, `layer ${obs.layer}`).toBeLessThan(1e-2);
      const topA = topCells(a, 64);
      const shared = [...topCells(b, 64)].filter((c) => topA.has(c)).length;
      expect(shared, `layer ${obs.layer}`).toBeGreaterThanOrEqual(56);
    }
  });
});
