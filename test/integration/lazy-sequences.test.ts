// Lazy prefill in a context with several sequences (llama-sift-segment-kv.cpp, per-sequence masks). node-llama-cpp gives
// each sequence a KV stream of its own, so the prefill must read the cells of its sequence's
// stream, and the cells it did not compute stay masked for that sequence alone. On the real model:
// - keep 1.0 on the second sequence while the first holds another document: the last logits equal
//   a full prefill of the same tokens on the second sequence of an identical context, bit for bit;
// - a pruned prefill of the second sequence equals the same prefill in a context of its own;
// - a pruned prefill of the second sequence (its holes kept masked) leaves the first sequence's
//   next logits bit-identical, whether the first was prefilled fully or lazily itself.
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlama } from '../../src-engine/loadLlama.js';
import { adoptNativeTokens, lazyPrefill, readLastLogits, resetLazyState, type LazySchedule } from '../../src-engine/siftNative.js';
import { logitsRow } from '../helpers/logits.js';
import { passkeyDocument } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const guards = { nSink: 4, nRecent: 16, obsWindow: 8, pool: 15, scoreFrom: 3 };
const noPruning: LazySchedule = { pruneLayers: [8, 16, 24], keep: [1, 1, 1], ...guards };
const pruning: LazySchedule = { pruneLayers: [4, 8, 16], keep: [0.35, 0.2, 0.1], ...guards, keepMasked: true };

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('lazy prefill with several sequences in one context', () => {
  let llama: Llama;
  let model: LlamaModel;
  let first: Token[];
  let second: Token[];
  /** A token to evaluate next on the first sequence. */
  let probe: Token;
  const opened: LlamaContext[] = [];

  async function twoSequences(): Promise<[LlamaContextSequence, LlamaContextSequence]> {
    const context = await model.createContext({ contextSize: 2048, sequences: 2, batchSize: 512, threads: 2, flashAttention: false });
    opened.push(context);
    resetLazyState(llama, context);
    return [context.getSequence(), context.getSequence()];
  }

  /** The logits after evaluating `token` next on a sequence whose tokens node-llama-cpp knows. */
  async function nextLogits(sequence: LlamaContextSequence, token: Token): Promise<Float32Array> {
    const [output] = await sequence.controlledEvaluate([[token, { generateNext: { logits: true } }]]);
    const map = output?.next?.logits;
    if (!map) throw new Error('no logits');
    return logitsRow(map);
  }

  beforeAll(async () => {
    ({ llama } = await loadLlama('patched'));
    model = await llama.loadModel({ modelPath: testModelPath() });
    // two documents of different lengths, so their cells and positions never line up
    first = model.tokenize(passkeyDocument(700, 0.3, '40917'));
    second = model.tokenize(passkeyDocument(1000, 0.6, '61807'));
    probe = model.tokenize(' The')[0]!;
  });

  afterAll(async () => {
    for (const context of opened) await context.dispose();
    await model?.dispose();
    await llama?.dispose();
  });

  it('with keep 1.0 on the second sequence, gives the logits of a full prefill of it, bit for bit', async () => {
    const [a1, b1] = await twoSequences();
    await a1.evaluateWithoutGeneratingNewTokens(first);
    await b1.evaluateWithoutGeneratingNewTokens(second.slice(0, -1));
    const full = await nextLogits(b1, second.at(-1)!);

    const [a2, b2] = await twoSequences();
    await a2.evaluateWithoutGeneratingNewTokens(first);
    const stats = await lazyPrefill(llama, b2, second, noPruning);
    expect(stats.pruned).toBe(0);
    expect(stats.segments.map((s) => s.firstLayer)).toEqual([0, 8, 16, 24]);
    expect(bytesEqual(readLastLogits(llama, b2.context), full)).toBe(true);
  });

  it('prunes the second sequence exactly as it prunes a sequence in a context of its own', async () => {
    const alone = await model.createContext({ contextSize: 2048, batchSize: 512, threads: 2, flashAttention: false });
    opened.push(alone);
    resetLazyState(llama, alone);
    const reference = await lazyPrefill(llama, alone.getSequence(), second, pruning);
    const referenceLogits = readLastLogits(llama, alone);

    const [a, b] = await twoSequences();
    await a.evaluateWithoutGeneratingNewTokens(first);
    const stats = await lazyPrefill(llama, b, second, pruning);
    expect(stats.computed).toEqual(reference.computed);
    expect(stats.keys).toEqual(reference.keys);
    expect(bytesEqual(readLastLogits(llama, b.context), referenceLogits)).toBe(true);
  });

  it("leaves the other sequence's next logits unchanged when one is pruned", async () => {
    // reference: the first sequence alone, fully prefilled
    const [a1] = await twoSequences();
    await a1.evaluateWithoutGeneratingNewTokens(first);
    const alone = await nextLogits(a1, probe);

    // the same, with a pruned lazy prefill of the second sequence in between
    const [a2, b2] = await twoSequences();
    await a2.evaluateWithoutGeneratingNewTokens(first);
    const stats = await lazyPrefill(llama, b2, second, pruning);
    expect(stats.pruned).toBeGreaterThan(second.length * 0.8);
    adoptNativeTokens(b2, second);
    expect(bytesEqual(await nextLogits(a2, probe), alone)).toBe(true);
  });

  it("keeps each sequence's pruned cells masked for that sequence, whichever was prefilled last", async () => {
    // reference: the first sequence prefilled lazily (its holes masked), then the next token
    const [a1] = await twoSequences();
    await lazyPrefill(llama, a1, first, pruning);
    adoptNativeTokens(a1, first);
    const alone = await nextLogits(a1, probe);

    // the same, with the second sequence prefilled lazily after it: its holes are its own
    const [a2, b2] = await twoSequences();
    await lazyPrefill(llama, a2, first, pruning);
    adoptNativeTokens(a2, first);
    await lazyPrefill(llama, b2, second, pruning);
    adoptNativeTokens(b2, second);
    expect(bytesEqual(await nextLogits(a2, probe), alone)).toBe(true);
    // and the second one decodes too
    expect((await nextLogits(b2, probe)).some((v) => Number.isFinite(v))).toBe(true);
  });
});
