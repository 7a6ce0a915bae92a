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
    expect(metrics.policy).toMatch(/^vatp:budget=\d+,chunk=sentence\+kv:type=q8_0$/);
    expect(metrics.selection!.lossy).toBe(true);
    expect(metrics.selection!.explanation).toMatch(/most important tokens/);
    expect(metrics.notice).toMatch(/Eviction keeps part of the document/);
    expect(metrics.eviction!.evicted).toBeGreaterThan(0);
    expect(measuredBytes(metrics)).toBeLessThanOrEqual(limit);
  });

  it('reads a prompt longer than the context whole through a quarter of it, re-reading what the question ranks highest, and says so', async () => {
    const long = passkeyPrompt(2400, 0.3, '58213');
    const over = [{ role: 'user' as const, content: `${long.document}\n\n${long.question}` }];
    const { answer, metrics } = await engine.runTurn({ messages: over, sampling, policy: 'auto', memory: { freeRamBytes: 8 * 1024 * MiB, marginBytes: 0 } }, () => {}).result;
    expect(metrics.promptTokens).toBeGreaterThan(CONTEXT);
    expect(metrics.policy).toBe(`vatp:budget=${CONTEXT / 4},pool=15,heads=max,recall=64`);
    expect(metrics.contextSize).toBe(CONTEXT / 4);
    expect(metrics.selection!.explanation).toMatch(/more than the model reads at once \(2,048\): keeping the most important tokens \(value-aware eviction\) in a cache of 512 tokens, the passages the question ranks highest read again just before it/);
    expect(metrics.notice).toMatch(/read through a cache of a quarter of it/);
    expect(metrics.eviction!.recalledTokens).toBeGreaterThan(0);
    expect(metrics.eviction!.recalledTokens).toBeLessThanOrEqual(64);
    expect(answer).toContain('58213');
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

describe('policy auto on SmolLM2 with a SimLayerKV profile and a frontier that measured it', () => {
  // At its 8k context, where KV (not the compute buffers) is most of a turn's memory: a profile
  // trimming the last 20 of its 30 layers, and a frontier where SimLayerKV (window 256) lost half
  // a point and eviction more. What is tested is that auto's choice runs on the real model within
  // the memory given, as predicted (the frontier's figures are the test's, not a calibration's).
  const layerProfile = { scores: Array.from({ length: 30 }, (_, l) => (l >= 10 ? 0.95 : 0.5)), delta: 0.9, trimmedLayers: Array.from({ length: 20 }, (_, k) => 10 + k), sink: 4, window: 256 };
  const at = (policy: string, top1: number, budgetFraction: number | null = null) => ({ policy, family: budgetFraction ? ('eviction' as const) : ('simlayerkv' as const), budgetFraction, kept: 1, sameAnswer: 1, top1, ttftSpeedup: 1, kvSmaller: 1 });
  const frontier = {
    questions: 5,
    fullCorrect: 1,
    promptTokens: 6000,
    points: [at('vatp:budget=0.5,pool=7', 0.9, 0.5), at('vatp:budget=0.2,pool=7', 0.8, 0.2), at('simlayerkv:window=256', 0.995)],
    source: 'calibrate' as const,
    machine: 'test',
    measuredAt: '2026-12-05T00:00:00Z',
  };
  const long = passkeyPrompt(5800, 0.5, '60493');
  const longMessages = [{ role: 'user' as const, content: `${long.document}\n\n${long.question}` }];
  let engine: EngineClient;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 8192 });
  }, 120_000);
  afterAll(async () => engine?.close());

  const plannedPeak = async (policy: string) => (await engine.planTurn({ messages: longMessages, sampling, policy, layerProfile })).predictedPeakBytes;
  const autoRequest = (freeBytes: number) => ({ messages: longMessages, sampling, policy: 'auto', layerProfile, frontiers: [frontier], memory: { freeRamBytes: freeBytes, marginBytes: 0 } });

  it('trims the lazy layers where no exact cache fits and trimming measured least loss', async () => {
    const trimmed = await plannedPeak('simlayerkv:window=256+kv:type=q8_0');
    const exact = await plannedPeak('kv:type=q8_0');
    expect(trimmed).toBeLessThan(exact);
    const limit = Math.round(trimmed + 0.25 * (exact - trimmed));
    const { metrics } = await engine.runTurn(autoRequest(limit), () => {}).result;
    expect(metrics.policy).toBe('simlayerkv:window=256+kv:type=q8_0');
    expect(metrics.selection!.explanation).toMatch(/trimming 20 of 30 layers to their first and most recent tokens in an 8-bit cache \(.*expected to agree with about 100% of full KV's answer tokens\)/);
    expect(metrics.notice).toMatch(/SimLayerKV trims 20 of the model's 30 layers/);
    expect(metrics.perLayer.filter((layer) => layer.trimmed)).toHaveLength(20);
    expect(metrics.kvBytesPeak).toBe(metrics.selection!.predictedBytes.kv);
    expect(measuredBytes(metrics)).toBeLessThanOrEqual(limit);
  }, 240_000);

  it('plans trimming and eviction together where trimming alone does not fit, keeping more tokens than eviction alone', async () => {
    const limit = Math.round((await plannedPeak('simlayerkv:window=256+kv:type=q8_0')) * 0.6);
    const both = await engine.planTurn(autoRequest(limit));
    expect(both.policy).toMatch(/^simlayerkv:window=256\+vatp:budget=\d+,pool=7\+kv:type=q8_0$/);
    expect(both.fits).toBe(true);
    expect(both.predictedPeakBytes).toBeLessThanOrEqual(limit);
    const alone = await engine.planTurn({ ...autoRequest(limit), layerProfile: undefined });
    const budget = (policy: string) => Number(/budget=(\d+)/.exec(policy)![1]);
    expect(alone.policy).toMatch(/^vatp:budget=\d+,pool=7\+kv:type=q8_0$/);
    expect(budget(both.policy)).toBeGreaterThan(budget(alone.policy));
  });
});
