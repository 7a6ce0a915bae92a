// `lazy` as a chat-turn policy: llama.cpp prefills lazily, Sift samples the first token, revives
// the pruned tokens from the aux cache, and node-llama-cpp generates the rest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { TurnRequest } from '../../src-common/engineTypes.js';
import { tokenize } from '../bench/fidelity.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const task = passkeyPrompt(1900, 0.3, '40736');
function request(policy: string, maxTokens = 16): TurnRequest {
  return {
    messages: [{ role: 'user', content: `${task.document}\n\n${task.question}` }],
    sampling: { temperature: 0, topP: 1, maxTokens },
    policy,
    // every turn prefills its prompt lazily: none reuses the last one's cache
    cachePrompt: false,
  };
}

describe('lazy chat turns on the patched build', () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 4096 });
  });
  afterAll(async () => engine?.close());

  it('answers the pass key with the default schedule and scoring, reviving every pruned token', async () => {
    const { answer, metrics, stopReason } = await engine.runTurn(request('lazy:revive=on'), () => {}).result;
    expect(answer).toContain(task.passkey);
    const lazy = metrics.lazy!;
    expect(lazy.pruneLayers).toEqual([8, 20, 24]);
    expect(lazy).toMatchObject({ keep: [0.7, 0.6, 0.5], pool: 15, scoreFrom: 3 });
    expect(lazy.pruned).toBeGreaterThan(metrics.promptTokens * 0.45);
    expect(lazy.revived).toBe(lazy.pruned);
    expect(lazy.reviveMs).toBeGreaterThan(0);
    // the prefill computed the schedule, and revival left a full cache behind
    expect(metrics.perLayer[0]!.computed).toBe(metrics.promptTokens);
    expect(metrics.perLayer[25]!.computed).toBe(Math.ceil(0.5 * metrics.promptTokens));
    const evaluated = metrics.promptTokens + metrics.generatedTokens - (stopReason === 'maxTokens' ? 1 : 0);
    expect(metrics.perLayer.every((l) => l.cells === evaluated)).toBe(true);
  });

  it('with keep 1.0 at its prune points, writes the same greedy answer as a full prefill', async () => {
    const full = await engine.runTurn(request('full', 24), () => {}).result;
    const lazy = await engine.runTurn(request('lazy:at=6/18,keep=1/1', 24), () => {}).result;
    expect(lazy.metrics.lazy!.pruned).toBe(0);
    expect(lazy.answer).toBe(full.answer);
  });

  it('with revival off, keeps pruned tokens out of the answer and says none were revived', async () => {
    // revival is off by default
    const { metrics } = await engine.runTurn(request('lazy', 4), () => {}).result;
    expect(metrics.lazy!.revived).toBe(0);
    expect(metrics.lazy!.pruned).toBeGreaterThan(0);
    expect(metrics.generatedTokens).toBeGreaterThan(0);
  });

  it('ranks by the question and the template tail (window=question, the default), and never prunes them', async () => {
    // the default window
    const { answer, metrics } = await engine.runTurn(request('lazy', 12), () => {}).result;
    const questionTokens = (await tokenize(engine, task.question)).length;
    const lazy = metrics.lazy!;
    // the question, the blank line before it and the assistant header after it
    expect(lazy.obsWindow).toBeGreaterThanOrEqual(questionTokens + 2);
    expect(lazy.obsWindow).toBeLessThanOrEqual(questionTokens + 10);
    expect(metrics.perLayer[29]!.computed).toBeGreaterThanOrEqual(lazy.obsWindow);
    expect(answer).toContain(task.passkey);
    const plain = await engine.runTurn(request('lazy:window=8', 1), () => {}).result;
    expect(plain.metrics.lazy!.obsWindow).toBe(8);
  });

  it('reports prefill progress often and stops promptly when cancelled', async () => {
    const progress: Array<{ at: number; done: number }> = [];
    const running = engine.runTurn(request('lazy:at=4/12/20,keep=1/1/1', 8), (event) => {
      if (event.type === 'progress') progress.push({ at: performance.now(), done: event.done });
    });
    // let it run a while, then stop it in the middle of the prefill
    while (!progress.some((p) => p.done > 0)) await new Promise((r) => setTimeout(r, 50));
    const first = progress.find((p) => p.done > 0)!;
    await new Promise((r) => setTimeout(r, 1000));
    const cancelledAt = performance.now();
    await engine.cancel(running.turnId);
    const { stopReason, answer } = await running.result;
    const stoppedAfterMs = performance.now() - cancelledAt;

    expect(stopReason).toBe('cancelled');
    expect(answer).toBe('');
    // polled ten times a second: at least five reports in the second before the cancel
    expect(progress.filter((p) => p.at >= first.at && p.at <= cancelledAt).length).toBeGreaterThanOrEqual(5);
    const dones = progress.map((p) => p.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
    // one ubatch of ~2,100 tokens' prefill at most
    expect(stoppedAfterMs).toBeLessThan(5000);

    const after = await engine.runTurn(request('full', 12), () => {}).result;
    expect(after.answer).toContain(task.passkey);
  });

  it('leaves the next full turn unaffected by the last lazy one', async () => {
    const before = await engine.runTurn(request('full', 12), () => {}).result;
    await engine.runTurn(request('lazy:revive=off', 4), () => {}).result;
    const after = await engine.runTurn(request('full', 12), () => {}).result;
    expect(after.answer).toBe(before.answer);
  });
});

describe('lazy on the stock build', () => {
  it('runs a full prefill and says why', async () => {
    const stock = await EngineClient.start({ build: 'stock' });
    try {
      await stock.loadModel({ path: testModelPath(), contextSize: 1024 });
      const { metrics } = await stock.runTurn(
        { messages: [{ role: 'user', content: 'Name a color.' }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'lazy' },
        () => {},
      ).result;
      expect(metrics.lazy).toBeNull();
      expect(metrics.notice).toContain('patched build');
    } finally {
      await stock.close();
    }
  });
});
