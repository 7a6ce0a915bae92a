// lazy+evictor on the real model: the prompt is prefilled lazily at full size, the first token
// shown from that prefill, one eviction round drops the pruned tokens and keeps the budget's
// best, and the turn goes on in a context of the budget's size. Invariants: at the no-op settings
// (keep 1.0, a budget that holds the prompt) the logits equal full KV's exactly; under a real
// schedule and budget no pruned token survives the round and the steady KV is the budget's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { TurnEvent, TurnRequest } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { differingLogits } from '../helpers/logits.js';

const task = passkeyPrompt(1200, 0.4, '58203');
const messages = [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }];
const follow = [504, 1345, 1792, 314];

function turn(policy: string, maxTokens = 16): TurnRequest {
  return { messages, sampling: { temperature: 0, topP: 1, maxTokens }, policy };
}


describe('lazy prefill followed by eviction on the patched build', () => {
  let engine: EngineClient;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 4096 });
  });
  afterAll(async () => engine?.close());

  it.each(['lazy:at=6/18,keep=1/1+vatp:budget=1.0', 'lazy:at=6/18,keep=1/1+snapkv:budget=1.0'])(
    '%s: no pruning and a budget that holds the prompt give logits identical to full KV',
    async (policy) => {
      const full = await engine.probeLogits({ messages, follow });
      const probed = await engine.probeLogits({ messages, follow, policy });
      expect(probed.logits).toHaveLength(follow.length + 1);
      expect(differingLogits(probed.logits, full.logits)).toBe(0);
    },
  );

  it('the same no-op combination writes the same greedy answer as full KV, in a context of the budget', async () => {
    const full = await engine.runTurn(turn('full', 24), () => {}).result;
    const combined = await engine.runTurn(turn('lazy:at=6/18,keep=1/1+vatp:budget=1.0', 24), () => {}).result;
    expect(combined.metrics.lazy!.pruned).toBe(0);
    expect(combined.metrics.eviction).toMatchObject({ afterLazy: true, evicted: 0 });
    expect(combined.answer).toBe(full.answer);
  });

  it('lazy+vatp: pruned tokens are evicted first, the turn answers in the budget context, and every token is streamed once', async () => {
    const events: TurnEvent[] = [];
    const { answer, metrics } = await engine.runTurn(turn('lazy+vatp:budget=0.3,pool=7'), (e) => events.push(e)).result;
    const lazy = metrics.lazy!;
    const eviction = metrics.eviction!;
    expect(lazy.pruned).toBeGreaterThan(metrics.promptTokens * 0.4);
    expect(eviction.afterLazy).toBe(true);
    // the round evicted at least the pruned tokens and kept no more than the budget allows
    expect(eviction.evicted).toBeGreaterThanOrEqual(lazy.pruned);
    expect(eviction.keptTokens).toBeLessThanOrEqual(eviction.budgetTokens);
    expect(metrics.contextSize).toBe(eviction.budgetTokens);
    expect(metrics.contextSize).toBeLessThan(metrics.promptTokens);
    // full-size KV for the lazy prefill, the budget's after the move
    expect(metrics.kvBytesSteady!).toBeLessThan(metrics.kvBytesPeak! / 2);
    expect(metrics.ttftMs).toBeGreaterThan(0);
    expect(metrics.generatedTokens).toBeGreaterThan(0);
    // ranked on the cache's own cells (a gathered segment's observation indices are not), the key survives
    expect(answer).toContain(task.passkey);
    // the first token is shown from the lazy prefill, the rest after the move: each exactly once
    const streamed = events.flatMap((e) => (e.type === 'token' ? [e.text] : [])).join('');
    expect(streamed).toBe(answer);
  });

  it('lazy+vatp keeps the same tokens whatever the context held before (a full turn on the same prompt)', async () => {
    // the pruned tokens' deeper cells are never written by a lazy prefill; a reused context holds
    // the previous turn's values there, a fresh one zeros, and the ranking must read neither
    const policy = 'lazy+vatp:budget=0.3,chunk=sentence';
    const before = (await engine.runTurn(turn(policy), () => {}).result).metrics.kept;
    await engine.runTurn(turn('full'), () => {}).result;
    const after = (await engine.runTurn(turn(policy), () => {}).result).metrics.kept;
    expect(before?.basis).toBe('evicted');
    expect(after?.keptTokens).toBe(before?.keptTokens);
    expect(after?.messages).toEqual(before?.messages);
  });

  it('refuses what cannot follow a lazy prefill, with the reason', async () => {
    await expect(engine.runTurn(turn('lazy+h2o:budget=0.3'), () => {}).result).rejects.toThrow(/h2o ranks by attention summed over every query/);
    await expect(engine.runTurn(turn('lazy+vatp:budget=0.3,when=stream'), () => {}).result).rejects.toThrow(/when=stream does not combine with lazy/);
  });
});
