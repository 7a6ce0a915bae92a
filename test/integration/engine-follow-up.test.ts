// Follow-up questions on the real model: the engine keeps the conversation's cache between turns
// and evaluates only what a follow-up adds, when the policy's cache is whole; a follow-up answers
// as reading the whole conversation again does. Lazy prefill's pruned tokens are revived while
// idle; an evictor's follow-up goes on from the tokens its budget kept (or, with followup=reread,
// reads again), and says which.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage, TurnMetrics, TurnRequest } from '../../src-common/engineTypes.js';
import { testModelPath } from '../helpers/testModel.js';
import { compareDistributions } from '../bench/divergence.js';
import { differingLogits } from '../helpers/logits.js';
import { tokenize } from '../bench/fidelity.js';
import { describeTurn } from '../../src-common/turnSummary.js';

// ~1,000 tokens of CPython's IDLE help with one inserted fact (test/fixtures/lazy-prose/README.md)
const DOCUMENT = readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 4400);
const FIRST: ChatMessage[] = [{ role: 'user', content: `${DOCUMENT}\n\nWhat was the harbour master of Lindqvist's name?` }];
const FOLLOW_UP = 'What does the Zoom/Restore Height toggle do?';

function conversation(answer: string): ChatMessage[] {
  return [...FIRST, { role: 'assistant', content: answer }, { role: 'user', content: FOLLOW_UP }];
}

describe('follow-up questions reuse the cache the last turn left', () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 4096 });
  });
  afterAll(async () => engine?.close());

  async function turn(policy: string, messages: ChatMessage[], extra: Partial<TurnRequest> = {}) {
    const request: TurnRequest = { messages, sampling: { temperature: 0, topP: 1, maxTokens: 16 }, policy, ...extra };
    const { answer, metrics } = await engine.runTurn(request, () => {}).result;
    return { answer, metrics, conversation: metrics.conversation! };
  }

  function expectOnlyNewTokens(first: TurnMetrics, followUp: TurnMetrics): void {
    // the whole first prompt is still in the cache: only its answer and the new question are read
    expect(followUp.conversation!.reusedTokens).toBeGreaterThanOrEqual(first.promptTokens);
    expect(followUp.prefillTokens).toBe(followUp.promptTokens - followUp.conversation!.reusedTokens);
    expect(followUp.prefillTokens).toBeLessThan(60);
  }

  it('kv:type=q8_0: the follow-up reads only its new tokens', async () => {
    const first = await turn('kv:type=q8_0', FIRST);
    expect(first.conversation).toMatchObject({ reusedTokens: 0, next: 'whole', nextReason: null });
    const followUp = await turn('kv:type=q8_0', conversation(first.answer));
    expectOnlyNewTokens(first.metrics, followUp.metrics);
  });

  for (const policy of ['full', 'simlayerkv:layers=12/16/20,window=256']) {
    it(`${policy}: the follow-up reads only its new tokens; forced through its answer, it agrees with a whole re-read`, async () => {
      const first = await turn(policy, FIRST);
      expect(first.conversation).toMatchObject({ reusedTokens: 0, next: 'whole', nextReason: null });
      const messages = conversation(first.answer);
      const followUp = await turn(policy, messages);
      expectOnlyNewTokens(first.metrics, followUp.metrics);
      // (tokenizing runs a probe on a fresh sequence, so before the cache is set up again)
      const follow = (await tokenize(engine, followUp.answer)).slice(0, 8);
      // the first question again (the same greedy turn leaves the same cache), then the follow-up's
      // answer forced after it, and forced after the whole conversation read again
      await turn(policy, FIRST, { cachePrompt: false });
      const reused = await engine.probeLogits({ messages, follow, policy, cachePrompt: true });
      const reread = await engine.probeLogits({ messages, follow, policy });
      // not bit-identical: the cache holds the first answer's tokens as decoded one at a time, and
      // the re-read computes them in one batch; ggml's single-token path rounds differently (its
      // batched results do not depend on the batch size: 512 vs 128 measured bit-identical here)
      const measure = compareDistributions(reread.logits, reused.logits, follow.length + 1);
      expect(measure.top1Agreement).toBe(1);
      expect(measure.meanKl).toBeLessThan(0.01);
    });
  }

  it('full: asking the same question again reuses all of it but its last token, and answers alike', async () => {
    const fresh = await turn('full', FIRST, { cachePrompt: false });
    const again = await turn('full', FIRST);
    expect(again.conversation.reusedTokens).toBe(again.metrics.promptTokens - 1);
    expect(again.metrics.prefillTokens).toBe(1);
    // the prompt was read in the same batches both times: the same cache, the same answer
    expect(again.answer).toBe(fresh.answer);
  });

  it('full: an edited earlier answer keeps the shared prefix and reads the rest again', async () => {
    const first = await turn('full', FIRST);
    const edited = conversation('Her name was Ada Lovelace, and she kept the harbour.');
    const followUp = await turn('full', edited);
    // the first prompt is shared; the edited answer and everything after it are evaluated
    expect(followUp.conversation.reusedTokens).toBeGreaterThanOrEqual(first.metrics.promptTokens);
    expect(followUp.conversation.reusedTokens).toBeLessThan(followUp.metrics.promptTokens - 20);
    expect(followUp.metrics.prefillTokens).toBe(followUp.metrics.promptTokens - followUp.conversation.reusedTokens);
  });

  it('another policy, or cachePrompt=false, reads the conversation from the start', async () => {
    const first = await turn('full', FIRST);
    const other = await turn('kv:type=f16', conversation(first.answer));
    expect(other.conversation.reusedTokens).toBe(0);
    const again = await turn('kv:type=f16', FIRST, { cachePrompt: false });
    expect(again.conversation.reusedTokens).toBe(0);
  });

  it('vatp: the follow-up goes on from the tokens the budget kept, reading only its new ones, the cache within the budget; the turn says so', async () => {
    const first = await turn('vatp:budget=256', FIRST);
    expect(first.metrics.eviction!.evicted).toBeGreaterThan(first.metrics.promptTokens - 256);
    expect(first.conversation).toMatchObject({ reusedTokens: 0, next: 'kept' });
    expect(first.conversation.nextReason).toMatch(/VATP kept only the budget's tokens.*the next question goes on from them/);
    const followUp = await turn('vatp:budget=256', conversation(first.answer));
    const continued = followUp.conversation.continued!;
    // everything the first turn read is covered by what it kept; only the new tokens are read
    expect(continued.covered).toBeGreaterThanOrEqual(first.metrics.promptTokens);
    expect(continued.tokens).toBeLessThan(256);
    expectOnlyNewTokens(first.metrics, followUp.metrics);
    expect(followUp.metrics.contextSize).toBe(256);
    expect(followUp.metrics.kvBytesPeak).toBe(first.metrics.kvBytesPeak);
    expect(followUp.conversation.next).toBe('kept');
    // the cache was nearly full after the first answer: the first round ranked by the last turn's
    // scores to make room for the question read ahead, then by the question
    expect(followUp.metrics.eviction!.rounds).toBeGreaterThan(0);
    expect(describeTurn(followUp.metrics).find((f) => f.key === 'conversation')!.value).toMatch(/went on from the \d+ tokens the cache kept of the conversation's first [\d,]+/);
    // followup=reread: the conversation read whole again, selecting for the new question from all of it
    const reread = await turn('vatp:budget=256,followup=reread', FIRST);
    expect(reread.conversation).toMatchObject({ next: 'none', nextReason: expect.stringMatching(/reads the conversation again \(followup=reread\)/) });
    const again = await turn('vatp:budget=256,followup=reread', conversation(reread.answer));
    expect(again.conversation).toMatchObject({ reusedTokens: 0, continued: null });
  });

  it('vatp with a budget that holds the conversation evicts nothing: its follow-up, forced through an answer, is bit-identical to full\'s', async () => {
    const follow = await tokenize(engine, 'The Zoom/Restore Height toggle switches the window between normal size and full height.');
    // the follow-up's prompt holds the first answer as generated: a cache that goes on from the
    // first turn holds its tokens as decoded one at a time, which a re-read would compute in one
    // batch, rounding differently (see above); so equal logits mean both went on from their caches
    const logitsAfter = async (policy: string) => {
      const first = await turn(policy, FIRST, { cachePrompt: false });
      const probe = await engine.probeLogits({ messages: conversation(first.answer), follow, policy, cachePrompt: true });
      return { first, probe };
    };
    const full = await logitsAfter('full');
    const vatp = await logitsAfter('vatp:budget=4096');
    expect(vatp.first.metrics.eviction!.evicted).toBe(0);
    expect(vatp.first.answer).toBe(full.first.answer);
    expect(vatp.probe.logits.length).toBe(follow.length + 1);
    expect(differingLogits(full.probe.logits, vatp.probe.logits)).toBe(0);
  });

  it('lazy+simlayerkv: read lazily at full size; once revived, the conversation moves into the trimmed layers, where the follow-up reads only its new tokens', async () => {
    const policy = 'lazy+simlayerkv:layers=12/16/20,window=256';
    const first = await turn(policy, FIRST);
    expect(first.metrics.lazy!.pruned).toBeGreaterThan(0);
    expect(first.metrics.perLayer.some((layer) => layer.trimmed)).toBe(false);
    expect(first.conversation).toMatchObject({ next: 'reviving', nextReason: expect.stringMatching(/moved into the trimmed layers' cache \(3 layers keep 4 first and 256 recent/) });
    const messages = conversation(first.answer);
    const followUp = await turn(policy, messages);
    const moved = followUp.conversation.moved!;
    expect(moved).toMatchObject({ tokens: first.metrics.promptTokens, trimmedLayers: 3 });
    expect(moved.toBytes).toBeLessThan(moved.fromBytes);
    expect(followUp.metrics.kvBytesAllocated).toBe(moved.toBytes);
    expect(followUp.conversation.revived).toMatchObject({ tokens: first.metrics.lazy!.pruned });
    expect(followUp.metrics.lazy).toBeNull();
    expectOnlyNewTokens(first.metrics, followUp.metrics);
    expect(followUp.metrics.perLayer.filter((layer) => layer.trimmed).map((layer) => layer.layer)).toEqual([12, 16, 20]);
    expect(describeTurn(followUp.metrics).find((f) => f.key === 'conversation')!.value).toMatch(/moved into the trimmed layers' cache \(3 layers; [\d.]+ MiB → [\d.]+ MiB/);
    // the follow-up's answer forced after the moved cache, and after the whole conversation read
    // again (a first read: lazily, untrimmed): the trimmed layers' window changes little here
    const follow = (await tokenize(engine, followUp.answer)).slice(0, 8);
    await turn(policy, FIRST, { cachePrompt: false });
    const viaMove = await engine.probeLogits({ messages, follow, policy, cachePrompt: true });
    const reread = await engine.probeLogits({ messages, follow, policy });
    const measure = compareDistributions(reread.logits, viaMove.logits, follow.length + 1);
    console.log(`lazy+simlayerkv follow-up via the moved cache vs a lazy re-read: top-1 ${measure.top1Agreement}, mean KL ${measure.meanKl}`);
    expect(measure.top1Agreement).toBeGreaterThanOrEqual(0.75);
    expect(measure.meanKl).toBeLessThan(0.05);
  });

  it('lazy+simlayerkv at its no-op settings (keep 1, a window covering the conversation): the follow-up through the moved cache is bit-identical to lazy alone\'s', async () => {
    const lazyAlone = 'lazy:at=6/18,keep=1/1';
    const combined = `${lazyAlone}+simlayerkv:layers=12/16/20,window=2048`;
    const first = await turn(lazyAlone, FIRST);
    const messages = conversation(first.answer);
    const follow = (await tokenize(engine, 'It switches the window between its normal size and the full screen height.')).slice(0, 8);
    const combinedFirst = await turn(combined, FIRST);
    expect(combinedFirst.answer).toBe(first.answer);
    expect(combinedFirst.metrics.lazy!.pruned).toBe(0);
    // the path: the follow-up answers in the trimmed context the conversation moved into
    const followUp = await turn(combined, messages);
    expect(followUp.conversation.moved).toMatchObject({ trimmedLayers: 3 });
    expect(followUp.conversation.reusedTokens).toBeGreaterThanOrEqual(first.metrics.promptTokens);
    expect(followUp.answer).toBe((await turn(lazyAlone, messages)).answer);
    // the logits: the same follow-up forced after each cache, set up again by the same first turn
    await turn(lazyAlone, FIRST, { cachePrompt: false });
    const alone = await engine.probeLogits({ messages, follow, policy: lazyAlone, cachePrompt: true });
    await turn(combined, FIRST, { cachePrompt: false });
    const viaMove = await engine.probeLogits({ messages, follow, policy: combined, cachePrompt: true });
    expect(viaMove.logits).toHaveLength(follow.length + 1);
    expect(differingLogits(viaMove.logits, alone.logits)).toBe(0);
  });

  it('lazy+simlayerkv+vatp: the lazy prefill runs untrimmed, and the kept tokens move into the budget with the layers trimmed', async () => {
    const { metrics, answer } = await turn('lazy+simlayerkv:layers=12/16/20,window=256+vatp:budget=512,pool=7', FIRST);
    expect(metrics.lazy!.pruned).toBeGreaterThan(0);
    expect(metrics.eviction!.evicted).toBeGreaterThan(0);
    expect(metrics.perLayer.filter((layer) => layer.trimmed).map((layer) => layer.layer)).toEqual([12, 16, 20]);
    expect(answer.length).toBeGreaterThan(0);
  });

  it('lazy: revives the pruned tokens while idle, leaving exactly the cache revival right after the prefill leaves', async () => {
    const follow = await tokenize(engine, 'The harbour master was Elsbeth Marrow.');
    const first = await turn('lazy', FIRST);
    const pruned = first.metrics.lazy!.pruned;
    expect(pruned).toBeGreaterThan(0);
    expect(first.conversation.next).toBe('reviving');
    const followUp = await turn('lazy', conversation(first.answer));
    expect(followUp.conversation.revived).toMatchObject({ tokens: pruned });
    expect(followUp.conversation.revived!.waitedMs).toBeGreaterThanOrEqual(0);
    // read plainly after the whole cache: no second lazy prefill; the first answer, decoded with
    // the pruned tokens hidden, was erased and is read again
    expect(followUp.metrics.lazy).toBeNull();
    expect(followUp.conversation.reusedTokens).toBe(first.metrics.promptTokens);
    expect(followUp.conversation.next).toBe('whole');
    // the same prompt revived in the background, and revived before decoding (revive=on): a
    // continuation forced after either cache (its last prompt token read again) is bit-identical
    await turn('lazy', FIRST, { cachePrompt: false });
    const idle = await engine.probeLogits({ messages: FIRST, follow, policy: 'lazy', cachePrompt: true });
    const atOnce = await turn('lazy:revive=on', FIRST);
    expect(atOnce.metrics.lazy!.revived).toBe(pruned);
    expect(atOnce.conversation.next).toBe('whole');
    const revivedAtOnce = await engine.probeLogits({ messages: FIRST, follow, policy: 'lazy:revive=on', cachePrompt: true });
    expect(idle.logits.length).toBe(follow.length + 1);
    expect(differingLogits(idle.logits, revivedAtOnce.logits)).toBe(0);
  });
  it('lazy: a turn on another document stops the idle revival instead of waiting for it, and drops the kept cache', async () => {
    const first = await turn('lazy', FIRST);
    expect(first.conversation.next).toBe('reviving');
    const other: ChatMessage[] = [{ role: 'user', content: `${DOCUMENT.slice(2000)}\n\nWhat does the Zoom/Restore Height toggle do?` }];
    const elsewhere = await turn('full', other);
    // nothing was waited for: the revival was stopped, so no revival is reported to this turn
    expect(elsewhere.conversation.revived).toBeNull();
    expect(elsewhere.answer.length).toBeGreaterThan(0);
    // the first conversation's cache was dropped with its stopped revival: it is read again, whole
    const again = await turn('lazy', conversation(first.answer));
    expect(again.conversation.reusedTokens).toBe(0);
    expect(again.metrics.lazy!.pruned).toBeGreaterThan(0);
  });
});
