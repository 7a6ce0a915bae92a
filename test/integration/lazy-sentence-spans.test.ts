// Sentence spans in lazy prefill's selection (lazy:span, llama-sift-prune-score.cpp): at a prune
// point a sentence is ranked by its best token, so it is kept or pruned whole; only the sentence at
// the budget's edge can be split. On the real model and real prose (test/fixtures/lazy-prose):
// - with span on, every sentence but at most one per prune point is pruned entirely or not at all;
// - with span off (each token ranked alone), the same schedule splits many sentences;
// - at keep 1 with span on, nothing is pruned and the logits equal a plain decode's bit for bit.
import { readFileSync } from 'node:fs';
import type { ControlledEvaluateInputItem, Llama, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlama } from '../../src-engine/loadLlama.js';
import { clearNativeSequence, lazyPrefill, readLastLogits, resetLazyState, type LazySchedule } from '../../src-engine/siftNative.js';
import { differingLogits, logitsRow } from '../helpers/logits.js';
import { testModelPath } from '../helpers/testModel.js';

const SPAN_MAX = 48;
const guards = { nSink: 4, nRecent: 16, obsWindow: 16, pool: 1, scoreFrom: 3 };
const onePoint: LazySchedule = { pruneLayers: [8], keep: [0.5], ...guards };

/** The native rule restated: a sentence ends after . ! ? (before closing quotes or brackets), a line break, or SPAN_MAX tokens. */
function sentenceIds(pieces: string[]): number[] {
  const ids: number[] = [];
  let id = 0;
  let length = 0;
  for (const piece of pieces) {
    ids.push(id);
    length++;
    if (length >= SPAN_MAX || piece.includes('\n') || /[.!?]["')\] \t]*$/.test(piece)) {
      id++;
      length = 0;
    }
  }
  return ids;
}

/** Sentences whose tokens were neither all pruned nor all kept. */
function splitSentences(ids: number[], pruned: Set<number>): number {
  const counts = new Map<number, { pruned: number; total: number }>();
  ids.forEach((id, i) => {
    const c = counts.get(id) ?? { pruned: 0, total: 0 };
    c.total++;
    if (pruned.has(i)) c.pruned++;
    counts.set(id, c);
  });
  return [...counts.values()].filter((c) => c.pruned > 0 && c.pruned < c.total).length;
}

describe('lazy prefill ranking whole sentences', () => {
  let llama: Llama;
  let model: LlamaModel;
  let tokens: Token[];
  let sequence: LlamaContextSequence;

  beforeAll(async () => {
    ({ llama } = await loadLlama('patched'));
    model = await llama.loadModel({ modelPath: testModelPath() });
    const prose = readFileSync(new URL('../fixtures/lazy-prose/idle-history.txt', import.meta.url), 'utf8').slice(0, 2400);
    tokens = model.tokenize(`${prose}\n\nWho wrote the first version of IDLE?`);
    const context = await model.createContext({ contextSize: 1024, batchSize: 1024, threads: 2, flashAttention: false });
    resetLazyState(llama, context);
    sequence = context.getSequence();
  });

  afterAll(async () => {
    await sequence?.context.dispose();
    await model?.dispose();
  });

  async function prunedPositions(schedule: LazySchedule): Promise<Set<number>> {
    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);
    const stats = await lazyPrefill(llama, sequence, tokens, schedule);
    expect(stats.pruned).toBeGreaterThan(tokens.length / 3);
    return new Set(stats.prunedAt!.positions);
  }

  it('prunes whole sentences, splitting at most the one at the budget edge', async () => {
    const ids = sentenceIds(tokens.map((t) => model.detokenize([t], true)));
    const sentences = new Set(ids).size;
    expect(sentences).toBeGreaterThan(15);
    const withSpans = splitSentences(ids, await prunedPositions({ ...onePoint, span: SPAN_MAX }));
    const alone = splitSentences(ids, await prunedPositions(onePoint));
    console.info(`[lazy-spans] ${tokens.length} tokens, ${sentences} sentences; split: ${withSpans} with spans, ${alone} ranked alone`);
    expect(withSpans).toBeLessThanOrEqual(1);
    expect(alone).toBeGreaterThan(5);
  });

  it('at keep 1 prunes nothing and gives a plain decode\'s logits bit for bit', async () => {
    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);
    const stats = await lazyPrefill(llama, sequence, tokens, { ...guards, pruneLayers: [8, 16], keep: [1, 1], span: SPAN_MAX });
    expect(stats.pruned).toBe(0);
    const lazy = readLastLogits(llama, sequence.context);
    clearNativeSequence(sequence);
    resetLazyState(llama, sequence.context);
    const items: ControlledEvaluateInputItem[] = tokens.map((token, i) => (i === tokens.length - 1 ? [token, { generateNext: { logits: true } }] : token));
    const map = (await sequence.controlledEvaluate(items)).at(-1)?.next?.logits;
    if (!map) throw new Error('no logits');
    expect(differingLogits([lazy], [logitsRow(map)])).toBe(0);
  });
});
