// SimLayerKV on qwen2, the second graph builder with the window cache for trimmed layers
// (native-patches/llama.cpp/0005, llama-sift-kv-budget.cpp). Run as a synthetic model (qwen2's real
// graph builder, random weights; test/helpers/syntheticModel.ts) so CI needs no second GGUF: what is
// checked does not depend on the weights' meaning. A window that covers the sequence gives logits
// bit-identical to the stock build, per-prompt layer choice included; a short window holds a small
// ring in exactly the layers asked for, and no notice says it fell back.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { SMALL_SHAPE, writeSyntheticModel } from '../helpers/syntheticModel.js';
import { testModelPath } from '../helpers/testModel.js';
import { differingLogits } from '../helpers/logits.js';

const task = passkeyPrompt(400, 0.5, '42917');
const messages: ChatMessage[] = [{ role: 'user', content: `${task.document}\n\n${task.question}` }];
const follow = [504, 1345, 1792, 314];

describe('SimLayerKV on a qwen2 model', () => {
  let dir: string;
  let engine: EngineClient;
  let stockLogits: Float32Array[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sift-simlayerkv-arch-'));
    const modelPath = path.join(dir, 'qwen2.gguf');
    await writeSyntheticModel(modelPath, 'qwen2', testModelPath());
    const stock = await EngineClient.start({ build: 'stock' });
    try {
      expect((await stock.loadModel({ path: modelPath, contextSize: 2048 })).architecture).toBe('qwen2');
      stockLogits = (await stock.probeLogits({ messages, follow })).logits;
    } finally {
      await stock.close();
    }
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: modelPath, contextSize: 2048 });
  });
  afterAll(async () => {
    await engine?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('trimmed layers whose window covers the sequence give logits bit-identical to the stock build', async () => {
    const probed = await engine.probeLogits({ messages, follow, policy: 'simlayerkv:layers=1/3/5,window=1024' });
    expect(probed.promptTokens.length + follow.length).toBeLessThan(1024);
    expect(probed.logits).toHaveLength(follow.length + 1);
    expect(differingLogits(probed.logits, stockLogits)).toBe(0);
  });

  it('rule=prefill with every layer lazy and a window that covers the sequence: the move into the trimmed cache is exact', async () => {
    const probed = await engine.probeLogits({ messages, follow, policy: 'simlayerkv:rule=prefill,delta=0.01,window=1024' });
    expect(differingLogits(probed.logits, stockLogits)).toBe(0);
    const { metrics } = await engine.runTurn(
      { messages, sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'simlayerkv:rule=prefill,delta=0.01,window=1024' },
      () => {},
    ).result;
    expect(metrics.notice).toBeNull();
    expect(metrics.simLayerKvDecision?.trimmedLayers).toHaveLength(SMALL_SHAPE.layers);
  });

  it('a short window: the layers asked for hold sinks and window in a small ring, and the turn says nothing fell back', async () => {
    const sampling = { temperature: 0, topP: 1, maxTokens: 4 };
    const full = await engine.runTurn({ messages, sampling, policy: 'full' }, () => {}).result;
    const { metrics } = await engine.runTurn({ messages, sampling, policy: 'simlayerkv:layers=1/3,window=64' }, () => {}).result;
    expect(metrics.notice).toBeNull();
    const trimmed = metrics.perLayer.filter((l) => l.trimmed);
    expect(trimmed.map((l) => l.layer)).toEqual([1, 3]);
    for (const layer of trimmed) {
      expect(layer.window).toBe(64);
      expect(layer.bytes).toBeLessThan(full.metrics.perLayer[0]!.bytes);
    }
    expect(metrics.kvBytesAllocated!).toBeLessThan(full.metrics.kvBytesAllocated!);
  });
});
