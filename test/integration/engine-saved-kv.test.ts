// A document opened again, on the real model: after a turn the engine saves the conversation's
// cache in the folder the app configured; a new engine process (a restart) asking another question
// about the same document loads it instead of reading the document, and its logits are exactly
// those of reading the whole prompt. A different policy never restores it; a damaged file is
// read around and forgotten; entries can be listed and deleted.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage, TurnRequest } from '../../src-common/engineTypes.js';
import { testModelPath } from '../helpers/testModel.js';
import { writeSyntheticModel } from '../helpers/syntheticModel.js';
import { differingLogits } from '../helpers/logits.js';
import { tokenize } from '../bench/fidelity.js';

// ~1,000 tokens of CPython's IDLE help with one inserted fact (test/fixtures/lazy-prose/README.md)
const DOCUMENT = readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 4400);
const ask = (question: string): ChatMessage[] => [{ role: 'user', content: `${DOCUMENT}\n\n${question}` }];
const FIRST = ask("What was the harbour master of Lindqvist's name?");
const SECOND = ask('What does the Zoom/Restore Height toggle do?');
const GIB = 1024 ** 3;

/** A new engine process on `folder` (what the app is after a restart), the running ones closed first. */
async function restartOn(engines: EngineClient[], folder: string, modelPath: string): Promise<EngineClient> {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  const engine = await EngineClient.start({ build: 'patched' });
  engines.push(engine);
  await engine.savedKv({ kind: 'configure', folder, budgetBytes: GIB });
  await engine.loadModel({ path: modelPath, contextSize: 4096 });
  return engine;
}

describe('a document opened again is restored from the cache saved on disk', () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'sift-saved-kv-test-'));
  const engines: EngineClient[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const restart = () => restartOn(engines, folder, testModelPath());

  async function turn(engine: EngineClient, policy: string, messages: ChatMessage[], extra: Partial<TurnRequest> = {}) {
    const request: TurnRequest = { messages, sampling: { temperature: 0, topP: 1, maxTokens: 8 }, policy, cacheLabel: 'idle-help.txt', ...extra };
    const { metrics } = await engine.runTurn(request, () => {}).result;
    return metrics;
  }

  it('full: another question after a restart loads the document instead of reading it; the logits equal a whole read exactly', async () => {
    let engine = await restart();
    await engine.savedKv({ kind: 'remove' });
    const first = await turn(engine, 'full', FIRST);
    // listing waits for the save the turn started while idle
    const saved = await engine.savedKv({ kind: 'list' });
    expect(saved.entries).toHaveLength(1);
    expect(saved.entries[0]).toMatchObject({ label: 'idle-help.txt', policy: 'full', build: engine.build.id });
    expect(saved.entries[0]!.tokens).toBeGreaterThan(first.promptTokens);
    expect(saved.totalBytes).toBe(saved.entries[0]!.bytes);
    expect(saved.folder).toBe(folder);

    engine = await restart();
    expect((await engine.savedKv({ kind: 'list' })).entries.map((e) => e.id)).toEqual([saved.entries[0]!.id]);
    const preview = await engine.planTurn({ messages: SECOND, sampling: { temperature: 0, topP: 1, maxTokens: 8 }, policy: 'full' });
    expect(preview.cacheSource).toBe('disk');
    const second = await turn(engine, 'full', SECOND);
    const restored = second.conversation!.restored!;
    // the document and the template's head came from disk: only the new question was read
    expect(restored.tokens).toBe(preview.cachedTokens);
    expect(restored.tokens).toBeGreaterThan(first.promptTokens - 30);
    expect(second.conversation!.reusedTokens).toBe(restored.tokens);
    expect(second.prefillTokens).toBe(second.promptTokens - restored.tokens);
    expect(second.prefillTokens).toBeLessThan(30);

    // a fresh engine again, forced through a continuation: restored, then read whole
    engine = await restart();
    const follow = (await tokenize(engine, 'The toggle switches the window between normal size and full height.')).slice(0, 8);
    const fromDisk = await engine.probeLogits({ messages: SECOND, follow, policy: 'full', cachePrompt: true });
    const whole = await engine.probeLogits({ messages: SECOND, follow, policy: 'full' });
    expect(fromDisk.logits.length).toBe(follow.length + 1);
    // both read in batches (ggml's batched results do not depend on how tokens are grouped)
    expect(differingLogits(fromDisk.logits, whole.logits)).toBe(0);
  });

  it('another policy never restores it; deleting empties the folder', async () => {
    const engine = await restart();
    expect((await engine.savedKv({ kind: 'list' })).entries.length).toBeGreaterThan(0);
    const other = await turn(engine, 'kv:type=q8_0', SECOND);
    expect(other.conversation!.restored ?? null).toBeNull();
    expect(other.conversation!.reusedTokens).toBe(0);
    const listed = await engine.savedKv({ kind: 'list' });
    // the q8_0 cache is saved beside the full one, each in its own scope
    expect(listed.entries.map((e) => e.policy).sort()).toEqual(['full', 'kv:type=q8_0']);
    const emptied = await engine.savedKv({ kind: 'remove' });
    expect(emptied).toMatchObject({ entries: [], totalBytes: 0 });
    expect(readdirSync(folder).filter((f) => f !== 'index.json')).toEqual([]);
  });

  it('lazy+simlayerkv: the first read\'s cache, saved once revived, is restored after a restart, and the conversation then moves into the trimmed layers', async () => {
    const policy = 'lazy+simlayerkv:layers=12/16/20,window=256';
    let engine = await restart();
    const first = await turn(engine, policy, FIRST);
    expect(first.lazy!.pruned).toBeGreaterThan(0);
    expect((await engine.savedKv({ kind: 'list' })).entries.filter((e) => e.policy === policy)).toHaveLength(1);
    engine = await restart();
    const preview = await engine.planTurn({ messages: SECOND, sampling: { temperature: 0, topP: 1, maxTokens: 8 }, policy });
    expect(preview.cacheSource).toBe('disk');
    const second = await turn(engine, policy, SECOND);
    // restored whole (revived before it was saved), so nothing is pruned or revived; then it moves
    expect(second.conversation!.restored!.tokens).toBe(preview.cachedTokens);
    expect(second.lazy).toBeNull();
    expect(second.conversation!.next).toBe('whole');
    expect(second.conversation!.nextReason).toMatch(/then moved into the trimmed layers' cache/);
    const third = await turn(engine, policy, [...SECOND, { role: 'assistant', content: 'It resizes the window.' }, { role: 'user', content: 'And the harbour master?' }]);
    expect(third.conversation!.moved).toMatchObject({ trimmedLayers: 3 });
    expect(third.prefillTokens).toBeLessThan(40);
    await engine.savedKv({ kind: 'remove' });
  });

  it('a damaged saved file is read around, and forgotten', async () => {
    let engine = await restart();
    await turn(engine, 'full', FIRST);
    const [entry] = (await engine.savedKv({ kind: 'list' })).entries;
    writeFileSync(path.join(folder, `${entry!.id}.state`), 'not a llama.cpp state file');
    engine = await restart();
    const second = await turn(engine, 'full', SECOND);
    expect(second.conversation!.restored ?? null).toBeNull();
    expect(second.prefillTokens).toBe(second.promptTokens);
    // said, not silent
    expect(second.notice).toMatch(/^The cache saved for idle-help\.txt could not be loaded \(.+\); it was deleted and the prompt read again\.$/);
    expect((await engine.savedKv({ kind: 'list' })).entries.map((e) => e.id)).not.toContain(entry!.id);
  });

  it('SimLayerKV (windowed layers): the document is saved when the prefill reaches it; another question restores it, logits equal a whole read exactly', async () => {
    const policy = 'simlayerkv:layers=12/16/20,window=256';
    let engine = await restart();
    await engine.savedKv({ kind: 'remove' });
    const first = await turn(engine, policy, FIRST);
    const saved = first.conversation!.saved!;
    // the prompt's tokens before the question: the chat template's head and the document
    expect(saved.tokens).toBeGreaterThan(first.promptTokens - 40);
    expect(saved.tokens).toBeLessThan(first.promptTokens - 5);
    const [entry] = (await engine.savedKv({ kind: 'list' })).entries;
    expect(entry).toMatchObject({ policy, tokens: saved.tokens });

    engine = await restart();
    const second = await turn(engine, policy, SECOND);
    expect(second.conversation!.restored!.tokens).toBe(saved.tokens);
    expect(second.prefillTokens).toBe(second.promptTokens - saved.tokens);
    engine = await restart();
    const follow = (await tokenize(engine, 'The toggle switches the window between normal size and full height.')).slice(0, 8);
    const fromDisk = await engine.probeLogits({ messages: SECOND, follow, policy, cachePrompt: true });
    const whole = await engine.probeLogits({ messages: SECOND, follow, policy });
    expect(differingLogits(fromDisk.logits, whole.logits)).toBe(0);
  });

  it('lazy: saved once the pruned tokens are revived while idle; the next engine restores it', async () => {
    let engine = await restart();
    await engine.savedKv({ kind: 'remove' });
    const first = await turn(engine, 'lazy', FIRST);
    expect(first.lazy!.pruned).toBeGreaterThan(0);
    expect(first.conversation!.next).toBe('reviving');
    const [entry] = (await engine.savedKv({ kind: 'list' })).entries;
    // revival erased the answer (decoded with pruned tokens hidden): the prompt alone is saved
    expect(entry).toMatchObject({ policy: 'lazy', tokens: first.promptTokens });
    engine = await restart();
    const second = await turn(engine, 'lazy', SECOND);
    expect(second.conversation!.restored!.tokens).toBeGreaterThan(first.promptTokens - 30);
    // read plainly after the restored prefix: no lazy prefill of a few tokens
    expect(second.lazy).toBeNull();
  });
});

describe('a sliding-window model (gemma3 graph on SmolLM2 weights, a 128-token window)', () => {
  let folder: string;
  let modelPath: string;
  const engines: EngineClient[] = [];
  beforeAll(async () => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'sift-saved-kv-swa-'));
    modelPath = path.join(folder, 'gemma3.gguf');
    await writeSyntheticModel(modelPath, 'gemma3', testModelPath());
  });
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const restart = () => restartOn(engines, path.join(folder, 'saved-kv'), modelPath);

  it('saves the document where the question starts (the window cannot be cut back later), and another question restores it', async () => {
    let engine = await restart();
    const request = (messages: ChatMessage[]): TurnRequest => ({ messages, sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'full', cacheLabel: 'idle-help.txt' });
    const first = (await engine.runTurn(request(FIRST), () => {}).result).metrics;
    expect(first.conversation!.saved!.tokens).toBeGreaterThan(first.promptTokens - 40);
    engine = await restart();
    const second = (await engine.runTurn(request(SECOND), () => {}).result).metrics;
    expect(second.conversation!.restored!.tokens).toBe(first.conversation!.saved!.tokens);
    expect(second.prefillTokens).toBe(second.promptTokens - second.conversation!.restored!.tokens);
    engine = await restart();
    const follow = (await tokenize(engine, 'The toggle switches the window between normal size and full height.')).slice(0, 8);
    const fromDisk = await engine.probeLogits({ messages: SECOND, follow, policy: 'full', cachePrompt: true });
    const whole = await engine.probeLogits({ messages: SECOND, follow, policy: 'full' });
    expect(differingLogits(fromDisk.logits, whole.logits)).toBe(0);
  });
});

