// Policy auto on the real model: three turns under stated free memory (ample; tight enough that
// the whole-context cache does not fit; too small for anything). Each checks what auto chose,
// that what the backend then allocated (KV and compute, llama_get_memory_breakdown) stays within
// the memory given, that it is what auto predicted, and what it said.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { TurnMetrics } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const MiB = 2 ** 20;
const CONTEXT = 2048;
const task = passkeyPrompt(1200, 0.5, '42917');
const messages = [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }];
const sampling = { temperature: 0, topP: 1, maxTokens: 16 };

/** KV at its peak and the compute buffers, as the backend allocated them. */
function measuredBytes(metrics: TurnMetrics): number {
  const compute = (metrics.memory ?? []).reduce((sum, entry) => sum + entry.computeBytes, 0);
  return (metrics.kvBytesPeak ?? 0) + compute;
}

describe('policy auto on SmolLM2', () => {
  let engine: EngineClient;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: CONTEXT });
  }, 120_000);
  afterAll(async () => engine?.close());

  const turn = (freeBytes: number) => engine.runTurn({ messages, sampling, policy: 'auto', memory: { freeRamBytes: freeBytes, marginBytes: 0 } }, () => {}).result;

  it('with memory to spare, keeps the full cache and says it fits', async () => {
    const { answer, metrics } = await turn(8 * 1024 * MiB);
    expect(metrics.policy).toBe('full');
    expect(metrics.selection).toMatchObject({ requested: 'auto', policy: 'full', lossy: false });
    expect(metrics.selection!.explanation).toMatch(/a full KV cache \(\d+\.\d MiB\) fits/);
    expect(measuredBytes(metrics)).toBeLessThanOrEqual(8 * 1024 * MiB);
    expect(metrics.kvBytesPeak).toBe(metrics.selection!.predictedBytes.kv);
    expect(answer).toContain(task.passkey);
  });

  it('with too little for the whole context, sizes the cache to the prompt and loses nothing', async () => {
    const full = await turn(8 * 1024 * MiB);
    // full needs its 2k-token cache (45 MiB) and 512-token batches' compute (~99 MiB)
    const limit = 100 * MiB;
    expect(measuredBytes(full.metrics)).toBeGreaterThan(limit);
    const { answer, metrics } = await turn(limit);
    expect(metrics.policy).toMatch(/^streaming:budget=\d+$/);
    expect(metrics.selection!.lossy).toBe(false);
    expect(metrics.selection!.explanation).toMatch(/holds this prompt and its answer .*nothing is evicted/);
    expect(metrics.eviction?.evicted).toBe(0);
    expect(measuredBytes(metrics)).toBeLessThanOrEqual(limit);
    // predicted as allocated: KV exactly, compute within 5% (computeBytes.ts)
    expect(metrics.kvBytesPeak).toBe(metrics.selection!.predictedBytes.kv);
    expect(Math.abs(measuredBytes(metrics) - (metrics.selection!.predictedBytes.kv + metrics.selection!.predictedBytes.compute)) / measuredBytes(metrics)).toBeLessThan(0.05);
    expect(answer).toBe(full.answer);
  });

  it('with memory for only part of the document, evicts to the largest budget that fits and warns', async () => {
    const limit = 40 * MiB;
    const { metrics } = await turn(limit);
    expect(metrics.policy).toMatch(/^vatp:budget=\d+,pool=7\+kv:type=q8_0$/);
    expect(metrics.selection!.lossy).toBe(true);
    expect(metrics.selection!.explanation).toMatch(/most important tokens/);
    expect(metrics.notice).toMatch(/Eviction keeps part of the document/);
    expect(metrics.eviction!.evicted).toBeGreaterThan(0);
    expect(measuredBytes(metrics)).toBeLessThanOrEqual(limit);
  });

  it('runs a policy the person chose as chosen, with a warning when it is predicted not to fit', async () => {
    const { metrics } = await engine.runTurn({ messages, sampling, policy: 'full', memory: { freeRamBytes: 100 * MiB, marginBytes: 0 } }, () => {}).result;
    expect(metrics.policy).toBe('full');
    expect(metrics.selection).toBeNull();
    expect(metrics.notice).toMatch(/^full is predicted to need [\d.]+ MiB at its peak and 100\.0 MiB of RAM is free .*: it may not fit\. auto would choose streaming:budget=\d+\.$/);
  });

  it('previews what a turn would run, without running it (the composer asks as the person types)', async () => {
    const stated = { freeRamBytes: 100 * MiB, marginBytes: 0 };
    const preview = await engine.planTurn({ messages, sampling, policy: 'auto', memory: stated });
    const { metrics } = await turn(100 * MiB);
    expect(preview).toMatchObject({ auto: true, fits: true, policy: metrics.policy, promptTokens: metrics.promptTokens, contextSize: CONTEXT });
    expect(preview.predictedPeakBytes).toBe(metrics.selection!.predictedBytes.peak);
    expect(preview.explanation).toBe(metrics.selection!.explanation);
    const chosen = await engine.planTurn({ messages, sampling, policy: 'full', memory: stated });
    expect(chosen).toMatchObject({ auto: false, fits: false, policy: 'full' });
    expect(chosen.explanation).toMatch(/may not fit/);
  });

  it('with too little for anything, refuses before running and says what would fit', async () => {
    await expect(turn(8 * MiB)).rejects.toMatchObject({ code: 'WONT_FIT', message: expect.stringMatching(/even keeping only 256 tokens needs/) });
    // nothing ran: the engine answers the next turn
    const { metrics } = await turn(8 * 1024 * MiB);
    expect(metrics.policy).toBe('full');
  });
});
