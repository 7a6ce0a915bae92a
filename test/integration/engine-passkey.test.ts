// The patched build answers a pass key hidden in a ~2,000-token document, and its per-layer KV
// statistics agree with what was evaluated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { readBuildRecord } from '../../src-engine/nativeBuilds.js';
import { composeUserMessage } from '../../src-main/session/documentPrompt.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

describe('engine on the patched build', () => {
  let engine: EngineClient;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 4096 });
  });
  afterAll(async () => engine?.close());

  it('reports the patched build, with the id of the build it was compiled as', () => {
    expect(engine.build.kind).toBe('patched');
    const record = readBuildRecord('patched');
    expect(engine.build.id).toBe(`sift-patched:${record!.key.slice(0, 16)}`);
    expect(engine.notice).toBeNull();
  });

  it('finds a pass key in a ~2,000-token document, greedy', async () => {
    const task = passkeyPrompt(1900, 0.4, '68143');
    const tokens: string[] = [];
    const progress: number[] = [];
    const { result } = engine.runTurn(
      {
        messages: [{ role: 'user', content: composeUserMessage(task.question, [{ name: 'notes.txt', text: task.document }]) }],
        sampling: { temperature: 0, topP: 1, maxTokens: 24 },
        policy: 'full',
      },
      (event) => {
        if (event.type === 'token') tokens.push(event.text);
        if (event.type === 'progress') progress.push(event.done);
      },
    );
    const { answer, metrics, stopReason } = await result;

    expect(answer).toContain(task.passkey);
    expect(tokens.join('')).toBe(answer);
    expect(metrics.promptTokens).toBeGreaterThan(1800);
    expect(metrics.promptTokens).toBeLessThan(2600);
    expect(progress.at(-1)).toBe(metrics.promptTokens);
    expect(metrics.ttftMs).toBeGreaterThan(0);
    expect(metrics.prefillTokensPerSec).toBeGreaterThan(0);
    expect(metrics.build).toBe('patched');

    // every evaluated token holds one cell: the prompt, and each generated token that was fed
    // back to produce the next (the last one is not when generation stops at maxTokens)
    const evaluated = metrics.promptTokens + metrics.generatedTokens - (stopReason === 'maxTokens' ? 1 : 0);
    expect(metrics.perLayer).toHaveLength(30);
    for (const [index, layer] of metrics.perLayer.entries()) {
      expect(layer.layer).toBe(index);
      expect(layer.cells).toBe(evaluated);
      expect(layer.bytes).toBeGreaterThan(0);
    }
    // f16 K and V, 3 KV heads of 64 dims, 4,096 cells, 30 layers
    const expectedPerLayer = 4096 * 3 * 64 * 2 * 2;
    expect(metrics.perLayer.every((l) => l.bytes === expectedPerLayer)).toBe(true);
    expect(metrics.kvBytesAllocated).toBe(30 * expectedPerLayer);
    expect(metrics.kvBytesUsed).toBe(Math.round((expectedPerLayer * evaluated) / 4096) * 30);

    // where the bytes live, per buffer type: on the CPU all of it is host memory, the KV bytes are
    // the cache's own, and the weights are the model file's tensors
    const memory = metrics.memory ?? [];
    expect(memory.length).toBeGreaterThan(0);
    expect(memory.every((entry) => entry.isHost)).toBe(true);
    expect(memory.some((entry) => entry.bufferType === 'CPU')).toBe(true);
    expect(memory.reduce((sum, entry) => sum + entry.kvBytes, 0)).toBe(metrics.kvBytesSteady);
    const weights = memory.reduce((sum, entry) => sum + entry.modelBytes, 0);
    expect(weights).toBeGreaterThan(50 * 1024 ** 2);
    expect(weights).toBeLessThan(120 * 1024 ** 2);
  });

  it('allocates a smaller cache for a q8_0 KV policy and says so in the stats', async () => {
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'Say hello.' }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'kv:type=q8_0' },
      () => {},
    );
    const { metrics } = await result;
    expect(metrics.policy).toBe('kv:type=q8_0');
    // q8_0 stores 34 bytes per 32 values instead of 64
    expect(metrics.kvBytesAllocated).toBe((30 * 4096 * 3 * 64 * 2 * 34) / 32);
  });
});
