// Cancelling a long prefill gives its memory back (issue 18): the engine's resident memory, read
// from /proc, after a cancel is what it was before the turn (plus what the context already held),
// repeated cancels do not add up, and a stage's full-size context is freed with the turn.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { TurnRequest } from '../../src-common/engineTypes.js';
import { testModelPath } from '../helpers/testModel.js';

const MiB = 1024 * 1024;
const DOCUMENT = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 5_000);

/** Anonymous resident memory: the KV cache and compute buffers, not the mmapped weights (which the kernel may drop and reread). */
function rssBytes(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('RssAnon:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

const request = (policy: string): TurnRequest => ({
  messages: [{ role: 'user', content: `${DOCUMENT}\n\nWhat does the Zoom/Restore Height toggle do?` }],
  sampling: { temperature: 0, topP: 1, maxTokens: 4 },
  policy,
  cachePrompt: false,
});

describe.runIf(process.platform === 'linux')('cancel during prefill', () => {
  let engine: EngineClient;
  let pid: number;
  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    pid = engine.pid!;
    await engine.loadModel({ path: testModelPath() });
  });
  afterAll(async () => engine?.close());

  /** Starts the turn, cancels it once the first batch of the prompt is read; the peak memory seen meanwhile. */
  async function cancelMidPrefill(policy: string): Promise<{ peak: number; after: number; total: number }> {
    let peak = rssBytes(pid);
    let total = 0;
    let cancelled = false;
    const running = engine.runTurn(request(policy), (event) => {
      if (event.type !== 'progress') return;
      total = event.total;
      peak = Math.max(peak, rssBytes(pid));
      if (!cancelled && event.done > 0) {
        cancelled = true;
        void engine.cancel(running.turnId);
      }
    });
    const outcome = await running.result;
    expect(outcome.stopReason).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { peak, after: rssBytes(pid), total };
  }

  it('full: repeated cancels leave the engine where the first one did', async () => {
    const before = rssBytes(pid);
    const first = await cancelMidPrefill('full');
    const rounds = [first, await cancelMidPrefill('full'), await cancelMidPrefill('full')];
    for (const round of rounds) expect(round.after).toBeLessThanOrEqual(round.peak);
    console.log(`full: before ${(before / MiB).toFixed(0)} MiB; ${rounds.map((r) => `peak ${(r.peak / MiB).toFixed(0)} → after ${(r.after / MiB).toFixed(0)}`).join('; ')} MiB (${first.total} prompt tokens)`);
    expect(first.total).toBeGreaterThan(1000);
    expect(rounds[2]!.after - first.after).toBeLessThan(16 * MiB);
  });

  it('when=prompt: the full-size context of the stage is freed with the cancelled turn', async () => {
    const before = rssBytes(pid);
    const rounds = [await cancelMidPrefill('snapkv:budget=0.2,when=prompt'), await cancelMidPrefill('snapkv:budget=0.2,when=prompt')];
    console.log(`when=prompt: before ${(before / MiB).toFixed(0)} MiB; ${rounds.map((r) => `peak ${(r.peak / MiB).toFixed(0)} → after ${(r.after / MiB).toFixed(0)}`).join('; ')} MiB`);
    for (const round of rounds) expect(round.after).toBeLessThan(round.peak);
    expect(rounds[1]!.after - rounds[0]!.after).toBeLessThan(16 * MiB);
  });
});
