// KeyDiff, the scorer added as one file (src-common/policy/scorers/keydiff.ts): on the real model,
// the key similarity it reads from the cache, its no-op invariant, and a real budget.
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keydiffScorer } from '../../src-common/policy/scorers/keydiff.js';
import { parsePolicy } from '../../src-common/policy/spec.js';
import type { TurnRequest } from '../../src-common/engineTypes.js';
import { loadLlama } from '../../src-engine/loadLlama.js';
import type { LogitsProbeResult } from '../../src-engine/forcedLogits.js';
import { readCellPositions, readKeySimilarity, sequenceIdOf } from '../../src-engine/siftNative.js';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { differingLogits } from '../helpers/logits.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const task = passkeyPrompt(400, 0.5, '42917');
const messages = [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }];
const follow = [504, 1345, 1792, 314];

describe('KeyDiff', () => {
  it('scores a token higher the less its key resembles the mean key', () => {
    const score = keydiffScorer.score({ attention: null, keySimilarity: Float64Array.from([1, 0.5, -0.25]) });
    expect(Array.from(score)).toEqual([0, 0.5, 1.25]);
  });

  it('needs no attention, so it is refused after a lazy prefill, with the reason', () => {
    expect(parsePolicy('keydiff:budget=0.2').eviction).toMatchObject({ method: 'keydiff', sink: 4 });
    expect(() => parsePolicy('lazy+keydiff:budget=0.2')).toThrow(/keydiff ranks without attention/);
  });

  describe('the key similarity the native build reads', () => {
    let llama: Llama;
    let model: LlamaModel;
    let context: LlamaContext;

    beforeAll(async () => {
      llama = (await loadLlama('patched')).llama;
      model = await llama.loadModel({ modelPath: testModelPath() });
      context = await model.createContext({ contextSize: 1024, threads: 2 });
    });
    afterAll(async () => {
      await context?.dispose();
      await model?.dispose();
    });

    it('is a cosine per KV head for each used cell, 0 for empty ones, and its sum is positive', async () => {
      const sequence = context.getSequence();
      const tokens = model.tokenize(task.document).slice(0, 300);
      await sequence.evaluateWithoutGeneratingNewTokens(tokens);
      const positions = readCellPositions(llama, context, sequenceIdOf(sequence), 1024);
      for (const layer of [0, 15, 29]) {
        const read = readKeySimilarity(llama, context, layer)!;
        expect(read.nHeadKv).toBe(3);
        expect(read.similarity).toHaveLength(read.nHeadKv * read.nCells);
        for (let head = 0; head < read.nHeadKv; head++) {
          let sum = 0;
          for (let cell = 0; cell < read.nCells; cell++) {
            const cosine = read.similarity[head * read.nCells + cell]!;
            if (positions[cell]! < 0) {
              expect(cosine).toBe(0);
              continue;
            }
            expect(Math.abs(cosine)).toBeLessThanOrEqual(1 + 1e-5);
            sum += cosine;
          }
          // Σ cos(k_j, mean unit key) = |Σ unit keys| > 0, at most the number of tokens
          expect(sum).toBeGreaterThan(0);
          expect(sum).toBeLessThanOrEqual(tokens.length + 1e-3);
        }
      }
      expect(readKeySimilarity(llama, context, 30)).toBeNull();
    });
  });

  describe('in a turn', () => {
    let engine: EngineClient;
    let full: LogitsProbeResult;
    const turn = (policy: string): TurnRequest => ({ messages, sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy });

    beforeAll(async () => {
      engine = await EngineClient.start({ build: 'patched' });
      await engine.loadModel({ path: testModelPath(), contextSize: 2048 });
      full = await engine.probeLogits({ messages, follow });
    });
    afterAll(async () => engine?.close());

    it('a budget that holds the whole sequence gives logits identical to full KV', async () => {
      const probed = await engine.probeLogits({ messages, follow, policy: 'keydiff:budget=1.0' });
      expect(differingLogits(probed.logits, full.logits)).toBe(0);
    });

    it('a budget below the prompt evicts by key diversity into a context of the budget size', async () => {
      const { metrics } = await engine.runTurn(turn('keydiff:budget=256'), () => {}).result;
      expect(metrics.contextSize).toBe(256);
      expect(metrics.eviction).toMatchObject({ method: 'keydiff', budgetTokens: 256 });
      expect(metrics.eviction!.prefillRounds).toBeGreaterThan(0);
      const fullTurn = (await engine.runTurn(turn('full'), () => {}).result).metrics;
      expect(metrics.kvBytesSteady!).toBeLessThan(fullTurn.kvBytesSteady! / 4);
      // it ranks: the tokens kept are not StreamingLLM's (sinks and the latest tokens)
      const streaming = await engine.probeLogits({ messages, follow, policy: 'streaming:budget=256' });
      const keydiff = await engine.probeLogits({ messages, follow, policy: 'keydiff:budget=256' });
      expect(differingLogits(keydiff.logits, streaming.logits)).toBeGreaterThan(0);
    });
  });
});
