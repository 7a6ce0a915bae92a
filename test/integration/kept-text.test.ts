// The document heatmap's data on the real model (SmolLM2): after a turn whose evictor dropped
// tokens, the answer's metrics say which characters of each attached document the cache kept.
// StreamingLLM keeps the first few tokens and a recent window by position, so what it kept of a
// document followed by the question is exactly one stretch reaching the document's end: the
// mapping from kept tokens to characters is checked against that, and against the tokenizer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../src-main/app/backend.js';
import { testModelPath } from '../helpers/testModel.js';
import { tokenize } from '../bench/fidelity.js';

const PROSE = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 5200);

describe('what the cache kept of a document', () => {
  let dataDir: string;
  let backend: Backend;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-kept-'));
    backend = createBackend({ dataDir, shell: 'serve', version: 'test', contextSize: 2048 });
    await backend.models.load(testModelPath());
  });
  afterAll(async () => {
    await backend?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const ask = async (policy: string) => {
    const session = backend.sessions.create();
    backend.sessions.updateSettings(session.id, { temperature: 0, maxTokens: 2, policy });
    const document = await backend.sessions.attach(session.id, 'idle-help.txt', Buffer.from(PROSE));
    const started = await backend.sessions.send(session.id, 'What is this text about?', [document.id]);
    await backend.sessions.whenIdle();
    return { session, document, answer: backend.store.messages.require(started.assistantMessage.id) };
  };

  it('streaming: one stretch at the document end, as many tokens as the window kept there', async () => {
    const { session, document, answer } = await ask('streaming:budget=256');
    const kept = answer.metrics!.kept!;
    expect(kept.basis).toBe('evicted');
    expect(kept.promptTokens).toBe(answer.metrics!.promptTokens);
    expect(kept.keptTokens).toBeLessThan(300);
    expect(kept.messages).toBeUndefined();
    const [entry] = kept.documents!;
    expect(entry!.documentId).toBe(document.id);
    const text = backend.sessions.documentText(session.id, document.id).text;
    expect(entry!.chars).toBe(text.length);
    expect(entry!.ranges).toHaveLength(2);
    expect(entry!.ranges[1]).toBe(text.trimEnd().length);
    // the kept stretch is about as many tokens as the cache kept of the document (the rest of the
    // kept tokens are the sinks, the question and the chat template's)
    const { client } = backend.supervisor.requireReady();
    const stretch = await tokenize(client, text.slice(entry!.ranges[0]));
    expect(stretch.length).toBeGreaterThan(kept.keptTokens - 60);
    expect(stretch.length).toBeLessThan(kept.keptTokens);
  });

  it('vatp: kept passages spread over the document, none past its text', async () => {
    const { answer } = await ask('vatp:budget=256,pool=7');
    const [entry] = answer.metrics!.kept!.documents!;
    const ranges = entry!.ranges;
    expect(ranges.length).toBeGreaterThan(4);
    for (let i = 0; i < ranges.length; i += 2) {
      expect(ranges[i]!).toBeLessThan(ranges[i + 1]!);
      if (i > 0) expect(ranges[i]!).toBeGreaterThan(ranges[i - 1]!);
    }
    expect(ranges.at(-1)!).toBeLessThanOrEqual(entry!.chars);
    // kept passages before the recent window: the ranking kept some of the middle
    expect(ranges[0]!).toBeLessThan(entry!.chars / 2);
  });

  it("lazy: every character has a depth, the pruned ones' less than all the layers", async () => {
    const { answer } = await ask('lazy');
    const metrics = answer.metrics!;
    const kept = metrics.kept!;
    expect(kept.basis).toBe('computed');
    expect(kept.keptTokens).toBe(metrics.promptTokens - metrics.lazy!.pruned);
    const [entry] = kept.documents!;
    const { ranges, weights } = entry!;
    // one run of ranges over the whole text: every token stays in the cache, at some depth
    expect(ranges[0]).toBe(0);
    for (let i = 2; i < ranges.length; i += 2) expect(ranges[i]).toBe(ranges[i - 1]);
    expect(ranges.at(-1)).toBe(PROSE.trimEnd().length);
    expect(weights).toHaveLength(ranges.length / 2);
    // the depths are the schedule's: its prune points as a share of the layers, or all of them
    const layers = metrics.perLayer.length;
    const allowed = new Set([1, ...metrics.lazy!.pruneLayers.map((l) => l / layers)]);
    expect(weights!.every((w) => allowed.has(w))).toBe(true);
    expect(weights!.some((w) => w < 1)).toBe(true);
  });

  it('full: nothing dropped, nothing to map', async () => {
    const { answer } = await ask('full');
    expect(answer.metrics!.kept ?? null).toBeNull();
  });

  it("serves a document's text to its own chat only", async () => {
    const { session, document } = await ask('full');
    const other = backend.sessions.create();
    expect(backend.sessions.documentText(session.id, document.id).text).toBe(PROSE);
    const result = await backend.dispatch('documents.text', { sessionId: other.id, documentId: document.id });
    expect(result).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});
