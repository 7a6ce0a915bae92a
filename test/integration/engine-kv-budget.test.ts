// SimLayerKV and KV eviction on the real model. The invariants: at their no-op settings (a budget
// that holds the whole sequence; trimmed layers whose window covers it; delta above 1) the logits equal
// full KV's exactly; under a real budget the cache is allocated small, evicted tokens leave their
// cells (so nothing attends them), generation runs past the budget without the cache growing, and
// the bytes the backend allocated match the per-layer statistics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LogitsProbeResult } from '../../src-engine/forcedLogits.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import type { TurnRequest } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { differingLogits } from '../helpers/logits.js';

const task = passkeyPrompt(400, 0.5, '42917');
const messages = [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }];
// teacher-forced after the prompt, so decode steps are compared too
const follow = [504, 1345, 1792, 314];
const LAYERS = 30;

function turn(policy: string, maxTokens = 8, layerProfile: LayerProfile | null = null): TurnRequest {
  return { messages, sampling: { temperature: 0, topP: 1, maxTokens }, policy, layerProfile };
}


describe('KV budgets and trimmed layers on the patched build', () => {
  let engine: EngineClient;
  let full: LogitsProbeResult;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 2048 });
    full = await engine.probeLogits({ messages, follow });
  });
  afterAll(async () => engine?.close());

  it.each(['vatp:budget=1.0', 'vatp:budget=1.0,when=prompt', 'vatp:budget=1.0,chunk=sentence,heads=max', 'h2o:budget=2000', 'snapkv:budget=1.0', 'snapkv:budget=1.0,heads=share', 'streaming:budget=1.0'])(
    '%s: a budget that holds the whole sequence gives logits identical to full KV',
    async (policy) => {
      const probed = await engine.probeLogits({ messages, follow, policy });
      expect(probed.logits).toHaveLength(follow.length + 1);
      expect(differingLogits(probed.logits, full.logits)).toBe(0);
    },
  );

  it('SimLayerKV: trimmed layers whose window covers the sequence give identical logits', async () => {
    expect(full.promptTokens.length + follow.length).toBeLessThan(1024);
    const probed = await engine.probeLogits({ messages, follow, policy: 'simlayerkv:layers=1/2/3/20,window=1024' });
    expect(differingLogits(probed.logits, full.logits)).toBe(0);
  });

  it('SimLayerKV: delta above 1 trims no layer and gives identical logits', async () => {
    const profile: LayerProfile = { scores: Array.from({ length: LAYERS }, (_, l) => (l % 2 ? 0.99 : 0.5)), delta: 0.9, trimmedLayers: [], sink: 4, window: 64 };
    profile.trimmedLayers = profile.scores.flatMap((s, l) => (s > profile.delta ? [l] : []));
    const probed = await engine.probeLogits({ messages, follow, policy: 'simlayerkv:delta=1.5', layerProfile: profile });
    expect(differingLogits(probed.logits, full.logits)).toBe(0);
    const { metrics } = await engine.runTurn(turn('simlayerkv:delta=1.5', 2, profile), () => {}).result;
    expect(metrics.perLayer.some((l) => l.trimmed)).toBe(false);
    expect(metrics.notice).toBeNull();
  });

  it('SimLayerKV: trimmed layers hold a small ring, allocated small, and answers still come', async () => {
    const fullTurn = await engine.runTurn(turn('full', 24), () => {}).result;
    const { metrics, answer } = await engine.runTurn(turn('simlayerkv:layers=2/5/8/11,window=64', 24), () => {}).result;
    expect(answer.length).toBeGreaterThan(0);
    const lazy = metrics.perLayer.filter((l) => l.trimmed);
    expect(lazy.map((l) => l.layer)).toEqual([2, 5, 8, 11]);
    const fullLayerBytes = fullTurn.metrics.perLayer[0]!.bytes;
    for (const layer of lazy) {
      expect(layer.window).toBe(64);
      expect(layer.sink).toBe(4);
      // sinks + window + one ubatch, padded to 256 cells: far less than the 2048-cell context
      expect(layer.bytes).toBeLessThanOrEqual(fullLayerBytes / 2);
      expect(layer.cells).toBeLessThanOrEqual(4 + 64 + 512 + 256);
    }
    // the backend's own accounting matches the statistics, and is the physical saving
    expect(metrics.kvBytesSteady).toBe(metrics.kvBytesAllocated);
    expect(metrics.kvBytesPeak).toBe(metrics.kvBytesSteady);
    expect(metrics.kvBytesAllocated!).toBeLessThan(fullTurn.metrics.kvBytesAllocated!);
    expect(fullTurn.metrics.kvBytesSteady).toBe(fullTurn.metrics.kvBytesAllocated);
  });

  it.each(['prefill', 'decode'])('SimLayerKV rule=%s: delta above 1, or a window covering the sequence, gives identical logits', async (rule) => {
    // no layer lazy: the sequence stays in the untrimmed context
    const none = await engine.probeLogits({ messages, follow, policy: `simlayerkv:rule=${rule},delta=1.5` });
    expect(differingLogits(none.logits, full.logits)).toBe(0);
    // every layer lazy, but the window holds everything: the move into the trimmed context is exact
    const all = await engine.probeLogits({ messages, follow, policy: `simlayerkv:rule=${rule},delta=0.01,window=1024` });
    expect(differingLogits(all.logits, full.logits)).toBe(0);
    const fullTurn = await engine.runTurn(turn('full', 8), () => {}).result;
    const { metrics, answer } = await engine.runTurn(turn(`simlayerkv:rule=${rule},delta=0.01,window=1024`, 8), () => {}).result;
    expect(answer).toBe(fullTurn.answer);
    expect(metrics.simLayerKvDecision?.trimmedLayers).toHaveLength(LAYERS);
  });

  it.each(['prefill', 'decode'])('SimLayerKV rule=%s: decides per prompt, then keeps only sinks + window in trimmed layers', async (rule) => {
    const { metrics, answer } = await engine.runTurn(turn(`simlayerkv:rule=${rule},delta=0.5,window=64`, 12), () => {}).result;
    const decision = metrics.simLayerKvDecision!;
    expect(decision).toMatchObject({ rule, delta: 0.5 });
    expect(decision.scores).toHaveLength(LAYERS);
    expect(decision.trimmedLayers).toEqual(decision.scores.flatMap((score, layer) => (score > 0.5 ? [layer] : [])));
    expect(decision.trimmedLayers.length).toBeGreaterThan(0);
    expect(decision.trimmedLayers.length).toBeLessThan(LAYERS);
    expect(metrics.perLayer.filter((l) => l.trimmed).map((l) => l.layer)).toEqual(decision.trimmedLayers);
    const evaluated = metrics.promptTokens + metrics.generatedTokens - 1;
    for (const layer of metrics.perLayer) {
      if (!layer.trimmed) {
        expect(layer.cells).toBe(evaluated);
        continue;
      }
      // trimmed layers: moved with the 4 sinks and the last 64 positions only; tokens decoded after
      // the move take free cells of the ring (positions that left the window stay masked)
      expect(layer.cells).toBeGreaterThanOrEqual(4 + 64);
      expect(layer.cells).toBeLessThanOrEqual(4 + 64 + metrics.generatedTokens);
    }
    expect(metrics.kvBytesSteady!).toBeLessThan(metrics.kvBytesPeak!);
    expect(metrics.ttftMs).toBeGreaterThan(0);
    expect(answer.length).toBeGreaterThan(0);
  });

  it('SimLayerKV rule=prefill with an evictor: no layer lazy and a budget that holds the sequence give identical logits', async () => {
    const probed = await engine.probeLogits({ messages, follow, policy: 'simlayerkv:rule=prefill,delta=1.5+vatp:budget=1.0' });
    expect(differingLogits(probed.logits, full.logits)).toBe(0);
  });

  it('SimLayerKV rule=prefill with an evictor: decides the layers, evicts once with the question in view, trims the kept tokens', async () => {
    const { metrics, answer } = await engine.runTurn(turn('simlayerkv:rule=prefill,delta=0.5,window=64+vatp:budget=256', 12), () => {}).result;
    const decision = metrics.simLayerKvDecision!;
    expect(decision.trimmedLayers.length).toBeGreaterThan(0);
    expect(decision.trimmedLayers.length).toBeLessThan(LAYERS);
    expect(metrics.contextSize).toBe(256);
    expect(metrics.eviction).toMatchObject({ rounds: 1, prefillRounds: 1, budgetTokens: 256 });
    const held = metrics.promptTokens + metrics.generatedTokens - 1 - metrics.eviction!.evicted;
    for (const layer of metrics.perLayer) {
      if (!layer.trimmed) expect(layer.cells).toBe(held);
      // the kept tokens' 4 sinks and last 64, then the answer's tokens in the ring
      else expect(layer.cells).toBeLessThanOrEqual(4 + 64 + metrics.generatedTokens);
    }
    expect(metrics.perLayer.filter((l) => l.trimmed).map((l) => l.layer)).toEqual(decision.trimmedLayers);
    // a 256-cell budget leaves trimmed layers no smaller (their 4 + 64 + a 32-token batch pad to
    // 256 cells): the allocation is what the cost model predicts from the decided layers
    const budgetOnly = await engine.runTurn(turn('vatp:budget=256,when=prompt', 12), () => {}).result;
    expect(metrics.kvBytesSteady).toBe(metrics.kvPredicted?.steadyKvBytes);
    expect(metrics.kvPredicted?.exact).toBe(true);
    expect(metrics.kvBytesPeak).toBe(budgetOnly.metrics.kvBytesPeak);
    expect(answer.length).toBeGreaterThan(0);
  });

  it.each(['vatp:budget=256', 'vatp:budget=256,score=acc', 'h2o:budget=256', 'snapkv:budget=256', 'streaming:budget=256'])(
    '%s: a budget below the prompt evicts during the prefill into a context of the budget size',
    async (policy) => {
      const { metrics, stopReason } = await engine.runTurn(turn(policy, 4), () => {}).result;
      const eviction = metrics.eviction!;
      expect(metrics.contextSize).toBe(256);
      expect(eviction.budgetTokens).toBe(256);
      expect(eviction.prefillRounds).toBeGreaterThan(0);
      // evicted tokens hold no cell: every layer's cells are the tokens kept, within the budget
      const evaluated = metrics.promptTokens + metrics.generatedTokens - (stopReason === 'maxTokens' ? 1 : 0);
      const held = evaluated - eviction.evicted;
      expect(metrics.perLayer.every((l) => l.cells === held)).toBe(true);
      expect(held).toBeLessThan(256);
      expect(metrics.kvBytesPeak).toBe(metrics.kvBytesAllocated);
      expect(metrics.kvBytesSteady).toBe(metrics.kvBytesAllocated);
      expect(metrics.kvBytesAllocated).toBe(metrics.perLayer[0]!.bytes * LAYERS);
    },
  );

  it('chunk=16 keeps whole runs of the conversation: the kept text comes in fewer, longer pieces than token by token', async () => {
    const keptPieces = async (policy: string) => {
      const { metrics } = await engine.runTurn(turn(policy, 4), () => {}).result;
      expect(metrics.eviction!.evicted).toBeGreaterThan(0);
      const ranges = metrics.kept!.messages!.find((m) => m.index === 0)!.ranges;
      const lengths = [];
      for (let i = 0; i < ranges.length; i += 2) lengths.push(ranges[i + 1]! - ranges[i]!);
      return { pieces: lengths.length, chars: lengths.reduce((a, b) => a + b, 0) };
    };
    const tokens = await keptPieces('vatp:budget=256,when=prompt');
    const runs = await keptPieces('vatp:budget=256,when=prompt,chunk=16');
    // the same budget holds about as much text, in at most a third as many pieces
    expect(runs.chars).toBeGreaterThan(tokens.chars * 0.5);
    expect(runs.pieces * 3).toBeLessThanOrEqual(tokens.pieces);
  });

  it('chunk=sentence keeps whole sentences: the pieces kept between the sinks and the recent window begin and end at sentence ends', async () => {
    const { metrics } = await engine.runTurn(turn('vatp:budget=256,when=prompt,chunk=sentence', 4), () => {}).result;
    expect(metrics.eviction!.evicted).toBeGreaterThan(0);
    const content = messages[0]!.content;
    const ranges = metrics.kept!.messages!.find((m) => m.index === 0)!.ranges;
    const pieces: string[][] = [];
    for (let i = 0; i < ranges.length; i += 2) pieces.push([content.slice(0, ranges[i]!), content.slice(ranges[i]!, ranges[i + 1]!)]);
    // the first piece holds the sinks, the last the recent window: neither is chosen by sentence
    const chosen = pieces.slice(1, -1);
    expect(chosen.length).toBeGreaterThan(2);
    const ended = (text: string) => /[.!?\n]\s*$/.test(text);
    const sentenceAt = (offset: number) => (content.slice(0, offset).match(/[.!?\n]/g) ?? []).length;
    // a misaligned piece is cut inside one sentence: where it starts, or else where it ends
    const cutSentences = new Set(
      chosen
        .filter(([before, piece]) => !ended(before!) || !ended(piece!))
        .map(([before, piece]) => (ended(before!) ? sentenceAt(before!.length + piece!.length) : sentenceAt(before!.length))),
    );
    // at most the one sentence that no longer fitted whole, which gave its most important tokens
    // (they need not be contiguous: "The sky" and "blue." kept, "is" not, are two pieces of it)
    expect(cutSentences.size).toBeLessThanOrEqual(1);
  });

  it('heads=max ranks by the largest head score, heads=share by the largest share: each keeps another set, the pass key among it', async () => {
    const keptRanges = async (policy: string) => {
      const { metrics, answer } = await engine.runTurn(turn(policy, 12), () => {}).result;
      expect(metrics.eviction!.evicted).toBeGreaterThan(0);
      return { answer, ranges: metrics.kept!.messages!.find((m) => m.index === 0)!.ranges };
    };
    const summed = await keptRanges('vatp:budget=256,when=prompt');
    const largest = await keptRanges('vatp:budget=256,when=prompt,heads=max');
    expect(largest.ranges).not.toEqual(summed.ranges);
    expect(largest.answer).toContain(task.passkey);
    // heads=share: each slot scaled to its share of the middle first, so value-norm scale differs
    const shared = await keptRanges('vatp:budget=256,when=prompt,heads=share');
    expect(shared.ranges).not.toEqual(largest.ranges);
    expect(shared.answer).toContain(task.passkey);
  });

  it('when=prompt: chooses with the question in view, then holds only the budget (peak full, steady small)', async () => {
    const fullTurn = await engine.runTurn(turn('full', 12), () => {}).result;
    const { metrics, answer } = await engine.runTurn(turn('vatp:budget=256,when=prompt', 12), () => {}).result;
    expect(fullTurn.answer).toContain(task.passkey);
    expect(answer).toContain(task.passkey);
    expect(metrics.contextSize).toBe(256);
    expect(metrics.eviction).toMatchObject({ rounds: 1, prefillRounds: 1 });
    expect(metrics.kvBytesSteady).toBe(metrics.kvBytesAllocated);
    expect(metrics.kvBytesPeak).toBe(fullTurn.metrics.kvBytesSteady);
    expect(metrics.kvBytesSteady! * 4).toBeLessThan(metrics.kvBytesPeak!);
  });

  it('reuse=disk: a follow-up restores the stored full KV, evaluates only its new tokens and selects again', async () => {
    const policy = 'vatp:budget=256,when=prompt,reuse=disk';
    const first = await engine.runTurn(turn(policy, 12), () => {}).result;
    expect(first.metrics.eviction?.reuse).toMatchObject({ reusedTokens: 0 });
    expect(first.metrics.eviction?.reuse?.storedBytes).toBeGreaterThan(0);
    const followUp = [...messages, { role: 'assistant' as const, content: first.answer }, { role: 'user' as const, content: 'Say the pass key once more.' }];
    const second = await engine.runTurn({ messages: followUp, sampling: { temperature: 0, topP: 1, maxTokens: 12 }, policy }, () => {}).result;
    const reused = second.metrics.eviction?.reuse?.reusedTokens ?? 0;
    // everything but the new turn and the last window of queries (32) comes from disk
    expect(reused).toBeGreaterThan(first.metrics.promptTokens - 40);
    expect(second.metrics.prefillTokens).toBe(second.metrics.promptTokens - reused);
    expect(second.metrics.contextSize).toBe(256);
    // the restored tokens' K/V are the ones a fresh prefill computes: the selection and the
    // logits after it are those of prefilling the whole conversation again
    const restored = await engine.probeLogits({ messages: followUp, follow, policy, cachePrompt: true });
    const fresh = await engine.probeLogits({ messages: followUp, follow, policy: 'vatp:budget=256,when=prompt' });
    expect(differingLogits(restored.logits, fresh.logits)).toBe(0);
  });

  it('generates past the budget without the cache growing (Sift evicts; node-llama-cpp never shifts)', async () => {
    // 120 forced tokens after a ~470-token prompt, in a 256-cell cache: decode-time rounds too
    const long = Array.from({ length: 120 }, (_, i) => follow[i % follow.length]!);
    const probed = await engine.probeLogits({ messages, follow: long, policy: 'vatp:budget=256' });
    expect(probed.logits).toHaveLength(long.length + 1);
    expect(probed.logits.every((row) => row.every(Number.isFinite))).toBe(true);
    // the probe says what the budget kept, as a turn does (test:gpu compares two backends' choices by it)
    expect(probed.kept).toMatchObject({ basis: 'evicted', promptTokens: probed.promptTokens.length });
    expect(probed.kept!.keptTokens).toBeLessThan(probed.promptTokens.length);
  });
});
