// The live indicators' readings on the real model (SmolLM2): each progress event while a prompt is
// read carries tokens per layer, KV bytes in use and the free memory; a lazy prefill's chart
// follows its schedule and ends at what each layer computed; trimmed layers and a streaming
// budget show as smaller bars.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LiveCacheReading, TurnRequest } from '../../src-common/engineTypes.js';
import { testModelPath } from '../helpers/testModel.js';

// ~1,300 tokens of real prose: three batches of 512
const PROSE = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 5200);

function request(policy: string): TurnRequest {
  return { messages: [{ role: 'user', content: `${PROSE}\n\nWhat is this text about?` }], sampling: { temperature: 0, topP: 1, maxTokens: 2 }, policy, cachePrompt: false };
}

async function readings(engine: EngineClient, policy: string) {
  const live: LiveCacheReading[] = [];
  const { metrics } = await engine.runTurn(request(policy), (event) => {
    if (event.type === 'progress' && event.live) live.push(event.live);
  }).result;
  const charts = live.filter((r) => r.layers).map((r) => r.layers!);
  return { metrics, live, charts };
}

describe('live readings while a prompt is read', () => {
  let engine: EngineClient;
  let layers: number;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    layers = (await engine.loadModel({ path: testModelPath(), contextSize: 2048 })).layers;
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('full: every layer fills batch by batch, with the KV in use and the free RAM', async () => {
    const { metrics, live, charts } = await readings(engine, 'full');
    expect(charts.length).toBeGreaterThanOrEqual(3);
    for (const chart of charts) {
      expect(chart).toHaveLength(layers);
      expect(new Set(chart).size).toBe(1);
    }
    const filled = charts.map((chart) => chart[0]!);
    expect(filled).toEqual([...filled].sort((a, b) => a - b));
    expect(filled.some((n) => n > 0 && n < metrics.promptTokens)).toBe(true);
    // at the first token the whole prompt is in the cache
    expect(filled.at(-1)).toBe(metrics.promptTokens);
    const bytes = live.filter((r) => r.kvBytesUsed !== undefined);
    expect(bytes.at(-1)!.kvBytesUsed).toBeGreaterThan(bytes[0]!.kvBytesUsed!);
    expect(bytes.at(-1)!.kvBytesAllocated).toBe(metrics.kvBytesAllocated);
    expect(live.every((r) => r.free?.where === 'RAM' && r.free.bytes > 0)).toBe(true);
  });

  it("lazy: deeper layers compute fewer tokens, and the chart ends at each layer's computed count", async () => {
    const { metrics, charts } = await readings(engine, 'lazy');
    const last = charts.at(-1)!;
    expect(last).toEqual(metrics.perLayer.map((l) => l.computed));
    expect(last[layers - 1]).toBeLessThan(last[0]!);
    // every reading, mid-prefill or final, is one the schedule allows: never more tokens deeper
    for (const chart of charts) for (let l = 1; l < chart.length; l++) expect(chart[l]).toBeLessThanOrEqual(chart[l - 1]!);
  });

  it('simlayerkv: trimmed layers hold their window, the others the prompt', async () => {
    const { metrics, charts } = await readings(engine, 'simlayerkv:layers=2/5/8,window=64');
    const last = charts.at(-1)!;
    const trimmed = metrics.perLayer.filter((l) => l.trimmed).map((l) => l.layer);
    expect(trimmed).toEqual([2, 5, 8]);
    for (const layer of trimmed) expect(last[layer]).toBeLessThan(last[0]!);
    expect(last[0]).toBe(metrics.promptTokens);
  });

  it('a streaming evictor: no layer ever holds more than the budget', async () => {
    const { metrics, charts } = await readings(engine, 'vatp:budget=256,pool=7');
    expect(metrics.contextSize).toBe(256);
    expect(charts.length).toBeGreaterThanOrEqual(3);
    expect(charts.every((chart) => chart.every((cells) => cells <= 256))).toBe(true);
  });
});
