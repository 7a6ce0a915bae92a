// Stop inside the ubatch in flight (sift_abort_scope, llama-sift-prefill.cpp): while a lazy prefill
// or a revival runs, the context's abort callback reads the cancel flag and ggml's CPU backend polls
// it between graph nodes, so a stop ends the work part-way through a ubatch instead of after it.
// On the real model:
// - a prefill whose first segment is one ubatch, cancelled while that ubatch runs, rejects with no
//   ubatch counted done (checked between ubatches only, the ubatch finished and counted first);
// - a revival cancelled while it runs rejects, rather than reporting the aborted graph as tokens;
// - afterwards the same context decodes as usual (the callback is gone, though the flag stays set)
//   and gives the logits a fresh context gives, bit for bit.
import type { ControlledEvaluateInputItem, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlama } from '../../src-engine/loadLlama.js';
import {
  cancelPrefill,
  clearNativeSequence,
  lazyPrefill,
  readPrefillProgress,
  resetLazyState,
  revivePruned,
  type LazySchedule,
} from '../../src-engine/siftNative.js';
import { differingLogits, logitsRow } from '../helpers/logits.js';
import { passkeyDocument } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const guards = { nSink: 4, nRecent: 16, obsWindow: 8, pool: 15, scoreFrom: 3 };
/** One long first segment (24 of SmolLM2's 30 layers), run as one ubatch. */
const longFirstSegment: LazySchedule = { pruneLayers: [24], keep: [0.5], ...guards };
/** Much left to revive, in three segments. */
const deepPruning: LazySchedule = { pruneLayers: [4, 12, 20], keep: [0.5, 0.3, 0.2], ...guards, keepMasked: true };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('stopping a lazy prefill or a revival', () => {
  let llama: Llama;
  let model: LlamaModel;
  let tokens: Token[];
  const opened: LlamaContext[] = [];

  async function freshSequence(): Promise<LlamaContextSequence> {
    // a batch as large as the prompt: each segment is a single ubatch
    const context = await model.createContext({ contextSize: 1024, batchSize: 1024, threads: 2, flashAttention: false });
    opened.push(context);
    resetLazyState(llama, context);
    return context.getSequence();
  }

  /** The last prompt token's logits from node-llama-cpp's own decode of the prompt. */
  async function plainLogits(sequence: LlamaContextSequence): Promise<Float32Array> {
    const items: ControlledEvaluateInputItem[] = tokens.map((token, i) => (i === tokens.length - 1 ? [token, { generateNext: { logits: true } }] : token));
    const outputs = await sequence.controlledEvaluate(items);
    const map = outputs.at(-1)?.next?.logits;
    if (!map) throw new Error('no logits');
    return logitsRow(map);
  }

  beforeAll(async () => {
    ({ llama } = await loadLlama('patched'));
    model = await llama.loadModel({ modelPath: testModelPath() });
    tokens = model.tokenize(passkeyDocument(800, 0.5, '58213'));
  });

  afterAll(async () => {
    for (const context of opened) await context.dispose();
    await model?.dispose();
  });

  it('ends a prefill inside the ubatch it is running, and the context decodes as before afterwards', async () => {
    const sequence = await freshSequence();
    const whole = await lazyPrefill(llama, sequence, tokens, longFirstSegment);
    const firstSegmentMs = whole.segments[0]!.ms;
    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);

    const running = lazyPrefill(llama, sequence, tokens, longFirstSegment);
    // a third of the way into the first segment's only ubatch
    await sleep(firstSegmentMs / 3);
    cancelPrefill(llama, sequence.context);
    const cancelledAt = performance.now();
    await expect(running).rejects.toThrow(/lazy prefill cancelled/);
    const stoppedAfterMs = performance.now() - cancelledAt;
    console.info(`[lazy-cancel] first segment ${firstSegmentMs.toFixed(0)} ms; stopped ${stoppedAfterMs.toFixed(0)} ms after the cancel`);
    // no ubatch counted done: the one in flight stopped part-way
    expect(readPrefillProgress(llama, sequence.context)).toBe(0);

    // the cancel flag stays set until the next lazy prefill, yet a plain decode is not aborted
    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);
    const after = await plainLogits(sequence);
    const reference = await plainLogits(await freshSequence());
    expect(differingLogits([after], [reference])).toBe(0);
  });

  it('ends a revival part-way, as a failure rather than a count of revived tokens', async () => {
    const sequence = await freshSequence();
    await lazyPrefill(llama, sequence, tokens, deepPruning);
    const whole = await revivePruned(llama, sequence);
    expect(whole.revived).toBeGreaterThan(tokens.length / 2);
    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);

    await lazyPrefill(llama, sequence, tokens, deepPruning);
    const running = revivePruned(llama, sequence);
    // early, so a faster second run cannot finish first (a cancel before it starts stops it too)
    await sleep(whole.ms / 10);
    cancelPrefill(llama, sequence.context);
    await expect(running).rejects.toThrow(/reviving the pruned tokens failed/);

    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);
    const after = await plainLogits(sequence);
    const reference = await plainLogits(await freshSequence());
    expect(differingLogits([after], [reference])).toBe(0);
  });
});
