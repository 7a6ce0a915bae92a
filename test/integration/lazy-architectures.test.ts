// Lazy prefill on the architectures after llama (the segment hooks of native-patches/llama.cpp/0005 in qwen2, qwen3, phi3,
// gemma2, gemma3). No small GGUF of them can be fetched here, so each runs as a synthetic model: that architecture's real graph
// builder in llama.cpp, random weights, the test model's tokenizer (test/helpers/syntheticModel.ts).
// What does not depend on the weights' meaning is checked: keep 1 equals the stock build bit for
// bit, a pruning schedule computes each layer for exactly the kept tokens, pruned tokens are never
// among the keys after a prune point, and a lazy chat turn runs pruned. Answer quality on these
// architectures is not measured by this test. gemma2 and gemma3 keep a sliding-window cache beside
// the full one; their window is far shorter than the prompt, so it decides what those layers see.
// A lazy turn keeps every token in that cache (swa_full), so the stock build is run the same way.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LazySchedule } from '../../src-engine/siftNative.js';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { SMALL_SHAPE, SYNTHETIC_WINDOW, writeSyntheticModel, type SyntheticArchitecture } from '../helpers/syntheticModel.js';
import { testModelPath } from '../helpers/testModel.js';

const task = passkeyPrompt(1000, 0.4, '61807');
// ~1,150 tokens: three ubatches per segment
const messages: ChatMessage[] = [{ role: 'user', content: `${task.document}\n\n${task.question}` }];
const guards = { nSink: 4, nRecent: 16, obsWindow: 8 };

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sift-arch-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SLIDING_WINDOW = new Set<SyntheticArchitecture>(['gemma2', 'gemma3']);

/** The synthetic gemmas' window layers: gemma2 alternates (even layers), gemma3 has two of every three. */
function isWindowLayer(arch: SyntheticArchitecture, layer: number): boolean {
  if (arch === 'gemma2') return layer % 2 === 0;
  if (arch === 'gemma3') return layer % 3 !== 2;
  return false;
}

/** Keys any KV head of the observed queries attends to (score above zero). */
function attendedKeys(obs: { nKv: number; nHeadKv: number; scores: Float32Array }): number {
  let n = 0;
  for (let j = 0; j < obs.nKv; j++) {
    for (let h = 0; h < obs.nHeadKv; h++) {
      if (obs.scores[h * obs.nKv + j]! > 0) {
        n++;
        break;
      }
    }
  }
  return n;
}

describe.each<SyntheticArchitecture>(['qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'])('lazy prefill on a %s model', (arch) => {
  let modelPath: string;
  let engine: EngineClient;
  let stockLogits: Float32Array;

  beforeAll(async () => {
    modelPath = path.join(dir, `${arch}.gguf`);
    await writeSyntheticModel(modelPath, arch, testModelPath());
    const stock = await EngineClient.start({ build: 'stock' });
    try {
      const info = await stock.loadModel({ path: modelPath, contextSize: 2048, swaFullCache: SLIDING_WINDOW.has(arch) });
      expect(info.architecture).toBe(arch);
      stockLogits = (await stock.probeLogits({ messages })).logits[0]!;
    } finally {
      await stock.close();
    }
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: modelPath, contextSize: 2048 });
  });
  afterAll(async () => engine?.close());

  it('with keep 1.0 at every prune point, gives logits bit-identical to the stock build', async () => {
    const schedule: LazySchedule = { pruneLayers: [2, 4], keep: [1, 1], ...guards };
    const result = await engine.probeLazyPrefill({ messages, schedule });
    expect(result.stats.segments.map((s) => s.firstLayer)).toEqual([0, 2, 4]);
    expect(result.stats.pruned).toBe(0);
    expect(bytesEqual(result.logits, stockLogits)).toBe(true);
  });

  it('computes each layer for the kept tokens only, and never attends the pruned ones there', async () => {
    const schedule: LazySchedule = { pruneLayers: [2, 4], keep: [0.5, 0.25], ...guards, pool: 15, scoreFrom: 1 };
    const result = await engine.probeLazyPrefill({ messages, schedule, withObservation: true });
    const n = result.promptTokens.length;
    const expected = [n, Math.ceil(0.5 * n), Math.ceil(0.25 * n)];
    expect(result.stats.segments.map((s) => s.tokens)).toEqual(expected);
    result.stats.computed.forEach((computed, layer) => expect(computed, `layer ${layer}`).toBe(expected[layer < 2 ? 0 : layer < 4 ? 1 : 2]));
    expect(result.stats.pruned).toBe(n - expected[2]!);
    expect(result.stats.auxBytes).toBe(result.stats.pruned * SMALL_SHAPE.embd * 4);
    for (const obs of result.observation!.layers.filter((o) => o.layer >= 2)) {
      // after the prune point the keys are the kept tokens (padded to 256, the padding masked); a
      // sliding-window layer gathers fewer: only those inside its window
      const computed = result.stats.computed[obs.layer]!;
      if (SLIDING_WINDOW.has(arch) && obs.nKv < Math.ceil(computed / 256) * 256) {
        expect(obs.nKv, `layer ${obs.layer}`).toBe(256);
      } else {
        expect(obs.nKv, `layer ${obs.layer}`).toBe(Math.ceil(computed / 256) * 256);
      }
      for (let h = 0; h < obs.nHeadKv; h++) {
        let sum = 0;
        for (let j = 0; j < obs.nKv; j++) {
          if (j >= computed) expect(obs.scores[h * obs.nKv + j]).toBe(0);
          sum += obs.scores[h * obs.nKv + j]!;
        }
        expect(sum).toBeCloseTo(1, 4);
      }
      // the observed queries are the last obsWindow: in a window layer they reach back at most the
      // window, although the gathered keys can reach further; a full layer attends to all it gathered
      const attended = attendedKeys(obs);
      if (isWindowLayer(arch, obs.layer)) expect(attended, `layer ${obs.layer}`).toBeLessThanOrEqual(SYNTHETIC_WINDOW + guards.obsWindow - 1);
      else expect(attended, `layer ${obs.layer}`).toBe(computed);
    }
    if (SLIDING_WINDOW.has(arch)) {
      expect(result.observation!.layers.some((o) => o.layer >= 2 && isWindowLayer(arch, o.layer))).toBe(true);
    }
  });

  it('runs a lazy chat turn pruned, revives it, and names no fallback', async () => {
    const { metrics } = await engine.runTurn(
      { messages, sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'lazy:at=2/4,keep=0.5/0.25,revive=on' },
      () => {},
    ).result;
    expect(metrics.notice).toBeNull();
    expect(metrics.lazy!.pruned).toBeGreaterThan(0);
    expect(metrics.lazy!.revived).toBe(metrics.lazy!.pruned);
    expect(metrics.perLayer[5]!.computed).toBe(Math.ceil(0.25 * metrics.promptTokens));
  });
});
