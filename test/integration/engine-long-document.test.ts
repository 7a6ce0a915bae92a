// A document longer than the model's trained context (issue 16, item 1): eviction while the
// prompt streams in keeps the cache within its budget and every position within the context
// (erasing shifts later tokens down), so the prompt is read whole; the question, read ahead of
// the document's end, ranks each round. Mechanics on a model trained on 512 tokens (a qwen2 graph,
// random weights, SmolLM2's tokenizer); what the question steers on the real model.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { TurnRequest } from '../../src-common/engineTypes.js';
import { describeTurn } from '../../src-common/turnSummary.js';
import { SMALL_SHAPE, writeSyntheticModel } from '../helpers/syntheticModel.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const TRAINED = 512;

function request(content: string, policy: string, maxTokens = 4): TurnRequest {
  return { messages: [{ role: 'user', content }], sampling: { temperature: 0, topP: 1, maxTokens }, policy };
}

describe(`a prompt longer than the trained context (${TRAINED} tokens)`, () => {
  let folder: string;
  let engine: EngineClient;
  const content = `${'The harbour was quiet that morning, and the boats lay still. '.repeat(110)}\n\nWhat was quiet?`;

  beforeAll(async () => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'sift-long-'));
    const modelPath = path.join(folder, 'qwen2-512.gguf');
    await writeSyntheticModel(modelPath, 'qwen2', testModelPath(), { ...SMALL_SHAPE, contextLength: TRAINED });
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: modelPath });
  });
  afterAll(async () => {
    await engine?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('is read whole through a streaming evictor, the cache never above its budget', async () => {
    const progress: number[] = [];
    const caches: Array<{ held: number; evicted: number; capacity: number }> = [];
    const { metrics, answer } = await engine.runTurn(request(content, 'vatp:budget=256,pool=7', 6), (event) => {
      if (event.type !== 'progress') return;
      progress.push(event.done);
      if (event.cache) caches.push(event.cache);
    }).result;
    // the live indicators: what the cache holds never passes its capacity while more is evicted
    expect(caches.length).toBeGreaterThan(3);
    expect(caches.every((c) => c.capacity === 256 && c.held <= 256)).toBe(true);
    expect(caches.at(-1)!.evicted).toBeGreaterThan(caches[0]!.evicted);
    expect(metrics.promptTokens).toBeGreaterThan(2.5 * TRAINED);
    expect(metrics.prefillTokens).toBe(metrics.promptTokens);
    expect(progress.at(-1)).toBe(metrics.promptTokens);
    expect(metrics.contextSize).toBe(256);
    const e = metrics.eviction!;
    expect(e.prefillRounds).toBeGreaterThan(3);
    expect(e.evicted).toBeGreaterThan(metrics.promptTokens - 256);
    // the question (the prompt's last 32 tokens) was read ahead while the prompt streamed in: once
    // per half of the recent window read, so at most once a round
    expect(e.lookaheadTokens).toBe(32 * e.lookaheads!);
    expect(e.lookaheads).toBeGreaterThanOrEqual(2);
    expect(e.lookaheads).toBeLessThanOrEqual(e.prefillRounds);
    // the allocation is the budget's: 256 cells of 6 layers × 2 KV heads × 32 dims, K and V, f16
    expect(metrics.kvBytesAllocated).toBe(256 * 6 * 2 * 32 * 2 * 2);
    expect(metrics.kvBytesPeak).toBeLessThanOrEqual(metrics.kvBytesAllocated!);
    expect(answer.length).toBeGreaterThan(0);
    expect(describeTurn(metrics).map((f) => f.value).join('\n')).toMatch(/the \d[\d,]*-token prompt was read whole through a 256-token cache/);
  });

  it('a follow-up goes on from the tokens the cache kept: only its new tokens read, the cache within its budget', async () => {
    const policy = 'vatp:budget=256,pool=7';
    const first = await engine.runTurn(request(content, policy, 6), () => {}).result;
    const messages = [
      { role: 'user' as const, content },
      { role: 'assistant' as const, content: first.answer },
      { role: 'user' as const, content: 'And what lay still?' },
    ];
    const caches: Array<{ held: number; capacity: number }> = [];
    const { metrics } = await engine.runTurn({ ...request(content, policy, 6), messages }, (event) => {
      if (event.type === 'progress' && event.cache) caches.push(event.cache);
    }).result;
    // the conversation is far past the trained context; the follow-up reads only what is new
    expect(metrics.promptTokens).toBeGreaterThan(2.5 * TRAINED);
    expect(metrics.conversation!.continued!.covered).toBeGreaterThanOrEqual(first.metrics.promptTokens);
    expect(metrics.prefillTokens).toBeLessThan(40);
    expect(caches.every((c) => c.capacity === 256 && c.held <= 256)).toBe(true);
    expect(metrics.kvBytesPeak).toBeLessThanOrEqual(metrics.kvBytesAllocated!);
  });

  it('without the look-ahead ranks by the chunks and reads it whole too', async () => {
    const { metrics } = await engine.runTurn(request(content, 'vatp:budget=256,pool=7,lookahead=none'), () => {}).result;
    expect(metrics.eviction!.prefillRounds).toBeGreaterThan(3);
    expect(metrics.eviction!.lookaheadTokens).toBe(0);
  });

  it.each(['full', 'vatp:budget=256,when=prompt'])('%s: refused before any work, naming the limit', async (policy) => {
    const progress: number[] = [];
    const { result } = engine.runTurn(request(content, policy), (event) => {
      if (event.type === 'progress') progress.push(event.done);
    });
    await expect(result).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG', message: expect.stringMatching(new RegExp(`\\d+ tokens but .*${TRAINED}`)) });
    expect(progress.filter((done) => done > 0)).toEqual([]);
  });
});

describe('the question read ahead steers what a streaming evictor keeps (SmolLM2)', () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 2048 });
  });
  afterAll(async () => engine?.close());

  it('keeps a pass key early in a prompt four times the budget', async () => {
    const task = passkeyPrompt(1900, 0.2, '73915');
    const { answer, metrics } = await engine.runTurn(request(`${task.document}\n\n${task.question}`, 'vatp:budget=512,pool=7', 12), () => {}).result;
    expect(metrics.promptTokens).toBeGreaterThan(4 * 512);
    expect(metrics.eviction!.lookaheadTokens).toBeGreaterThan(0);
    expect(answer).toContain('73915');
    // asked again, the follow-up goes on from the kept cache, which still holds the key
    const messages = [
      { role: 'user' as const, content: `${task.document}\n\n${task.question}` },
      { role: 'assistant' as const, content: answer },
      { role: 'user' as const, content: task.question },
    ];
    const again = await engine.runTurn({ ...request('', 'vatp:budget=512,pool=7', 12), messages }, () => {}).result;
    expect(again.metrics.conversation!.continued!.covered).toBeGreaterThanOrEqual(metrics.promptTokens);
    expect(again.metrics.prefillTokens).toBeLessThan(60);
    expect(again.answer).toContain('73915');
  });

  it('recall=N re-reads what the question ranks highest just before it, says so, and a follow-up goes on from it', async () => {
    const task = passkeyPrompt(1900, 0.2, '48261');
    const policy = 'vatp:budget=512,pool=7,recall=32';
    const content = `${task.document}\n\n${task.question}`;
    const { answer, metrics } = await engine.runTurn(request(content, policy, 12), () => {}).result;
    const e = metrics.eviction!;
    // whole sentences only, never more than asked
    expect(e.recalledTokens).toBeGreaterThan(0);
    expect(e.recalledTokens).toBeLessThanOrEqual(32);
    expect(answer).toContain('48261');
    // what was read again is shown, as the engine decided it
    expect(e.recalledText!.trim().length).toBeGreaterThan(0);
    expect(describeTurn(metrics).map((f) => f.value).join('\n')).toMatch(/\d+ kept tokens the question ranked highest were read again just before it \(“.+”\)/);
    // the moved tokens' stream indices moved with them: the follow-up finds its cache as recorded
    const messages = [
      { role: 'user' as const, content },
      { role: 'assistant' as const, content: answer },
      { role: 'user' as const, content: task.question },
    ];
    const again = await engine.runTurn({ ...request('', policy, 12), messages }, () => {}).result;
    expect(again.metrics.conversation!.continued!.covered).toBeGreaterThanOrEqual(metrics.promptTokens);
    expect(again.metrics.prefillTokens).toBeLessThan(60);
    expect(again.answer).toContain('48261');
  });
});
