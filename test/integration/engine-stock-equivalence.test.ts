// The correctness invariant behind every Sift policy: with no policy, the patched build's logits
// equal the stock build's exactly. Each build runs in its own engine process (their libraries share
// file names, so one process can hold only one) and confirms which build it loaded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LogitsProbeResult } from '../../src-engine/forcedLogits.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] ?? -Infinity) > (row[best] ?? -Infinity)) best = i;
  return best;
}

async function probe(build: 'stock' | 'patched', follow: number[]): Promise<{ client: EngineClient; result: LogitsProbeResult }> {
  const client = await EngineClient.start({ build });
  await client.loadModel({ path: testModelPath(), contextSize: 2048 });
  const task = passkeyPrompt(700, 0.5, '42917');
  const result = await client.probeLogits({
    messages: [{ role: 'user', content: `${task.document}\n\n${task.question}` }],
    follow,
  });
  return { client, result };
}

describe('patched build with no policy vs stock build', () => {
  let stock: { client: EngineClient; result: LogitsProbeResult };
  let patched: { client: EngineClient; result: LogitsProbeResult };

  beforeAll(async () => {
    // teacher-force a few tokens so the comparison covers decode steps, not only the prefill
    const follow = [504, 1345, 1792, 314];
    stock = await probe('stock', follow);
    await stock.client.close();
    patched = await probe('patched', follow);
    await patched.client.close();
  });
  afterAll(async () => {
    await stock?.client.close();
    await patched?.client.close();
  });

  it('runs each build in its own process, and each says which it is', () => {
    expect(stock.client.build.kind).toBe('stock');
    expect(stock.client.build.id).toMatch(/^stock:/);
    expect(patched.client.build.kind).toBe('patched');
    expect(patched.client.build.id).toMatch(/^sift-patched:/);
    expect(stock.client.pid).not.toBe(patched.client.pid);
  });

  it('tokenizes the prompt identically', () => {
    expect(patched.result.promptTokens).toEqual(stock.result.promptTokens);
    expect(stock.result.promptTokens.length).toBeGreaterThan(600);
  });

  it('produces bit-identical logits after the prompt and after each forced token', () => {
    expect(stock.result.logits).toHaveLength(5);
    expect(patched.result.logits).toHaveLength(5);
    for (let i = 0; i < stock.result.logits.length; i++) {
      const a = stock.result.logits[i]!;
      const b = patched.result.logits[i]!;
      expect(a.length).toBe(49152);
      expect(b.length).toBe(a.length);
      expect(a.some(Number.isNaN)).toBe(false);
      expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toBe(true);
      expect(argmax(b)).toBe(argmax(a));
    }
  });
});
