// The saved-cache store's bookkeeping: scopes, the longest shared prefix, superseding, the disk
// budget (least recently used first), an index that survives a restart and one that is damaged.
// The sequence here only writes a file of a given size: restoring real states into the model is
// engine-saved-kv.test.ts's job.
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import { SavedKvStore } from '../../src-engine/savedKvStore.js';

/** What the store calls on a sequence: its tokens, and saving its state to a file. */
function sequenceHolding(tokens: number[], stateBytes = 1000): LlamaContextSequence {
  return {
    contextTokens: tokens as Token[],
    saveStateToFile: async (file: string) => {
      await writeFile(file, Buffer.alloc(stateBytes));
      return { fileSize: stateBytes };
    },
  } as unknown as LlamaContextSequence;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const about = { label: 'doc.pdf', policy: 'full', model: 'm', build: 'b' };
const whole = { minShared: 1, wholeOnly: false };

describe('SavedKvStore', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'sift-saved-kv-unit-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  async function configured(budget = 1_000_000): Promise<SavedKvStore> {
    const store = new SavedKvStore(path.join(folder, 'temporary'));
    await store.configure(folder, budget);
    return store;
  }

  it('finds the longest shared prefix in the same scope only', async () => {
    const store = await configured();
    await store.save('A', sequenceHolding(range(0, 100)), about);
    await store.save('A', sequenceHolding([...range(0, 50), ...range(500, 560)]), about);
    await store.save('B', sequenceHolding(range(0, 200)), about);
    const match = await store.find('A', [...range(0, 80), 999] as Token[], whole);
    expect(match?.sharedTokens).toBe(80);
    expect(match?.entry.tokens).toBe(100);
    expect(await store.find('C', range(0, 80) as Token[], whole)).toBeNull();
    expect(await store.find('A', range(0, 80) as Token[], { minShared: 90, wholeOnly: false })).toBeNull();
    // a cache that cannot erase a tail (windowed layers) matches only when the prompt extends it whole
    expect(await store.find('A', range(0, 80) as Token[], { minShared: 1, wholeOnly: true })).toBeNull();
    expect((await store.find('A', range(0, 120) as Token[], { minShared: 1, wholeOnly: true }))?.sharedTokens).toBe(100);
  });

  it('replaces an entry the new save extends (a conversation saved again)', async () => {
    const store = await configured();
    const first = (await store.save('A', sequenceHolding(range(0, 100)), about))!;
    const longer = (await store.save('A', sequenceHolding(range(0, 150)), about))!;
    expect(store.list().map((e) => e.id)).toEqual([longer.id]);
    expect(existsSync(path.join(folder, `${first.id}.state`))).toBe(false);
  });

  it('keeps the folder within its budget, least recently used first', async () => {
    const store = await configured(2_500);
    const a = (await store.save('A', sequenceHolding(range(0, 10), 1000), about))!;
    const b = (await store.save('A', sequenceHolding(range(100, 110), 1000), about))!;
    // bytes count the state and the token list (4 bytes a token)
    expect(a.bytes).toBe(1040);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.restore({ loadStateFromFile: async () => undefined, nextTokenIndex: 10, eraseContextTokenRanges: async () => undefined } as unknown as LlamaContextSequence, { entry: store.list().find((e) => e.id === a.id)!, sharedTokens: 10 });
    const c = (await store.save('A', sequenceHolding(range(200, 210), 1000), about))!;
    // b was used least recently
    expect(store.list().map((e) => e.id).sort()).toEqual([a.id, c.id].sort());
    expect(existsSync(path.join(folder, `${b.id}.state`))).toBe(false);
    expect(store.storedBytes).toBeLessThanOrEqual(2_500);
    await store.setBudget(0);
    expect(store.list()).toEqual([]);
    expect(readdirSync(folder).filter((f) => f !== 'index.json')).toEqual([]);
    // and nothing more is written
    expect(await store.save('A', sequenceHolding(range(300, 310), 10), about)).toBeNull();
    expect(readdirSync(folder).filter((f) => f !== 'index.json')).toEqual([]);
  });

  it('reads what an earlier run saved, and forgets entries whose files are gone', async () => {
    const store = await configured();
    const kept = (await store.save('A', sequenceHolding(range(0, 100)), about))!;
    const lost = (await store.save('B', sequenceHolding(range(0, 100)), about))!;
    rmSync(path.join(folder, `${lost.id}.state`));
    const reopened = await configured();
    expect(reopened.list().map((e) => e.id)).toEqual([kept.id]);
    expect((await reopened.find('A', range(0, 100) as Token[], whole))?.sharedTokens).toBe(100);
  });

  it('starts empty from a damaged index, and never follows an id that is not its own', async () => {
    writeFileSync(path.join(folder, 'index.json'), '{ not json');
    expect((await configured()).list()).toEqual([]);
    writeFileSync(path.join(folder, 'evil.state'), 'x');
    writeFileSync(path.join(folder, 'index.json'), JSON.stringify({ version: 1, entries: [{ id: '../evil', scope: 'A', bytes: 1, usedAt: 0 }] }));
    expect((await configured()).list()).toEqual([]);
  });

  it('deletes old files no entry names (another process replaced the index), never recent ones', async () => {
    const store = await configured();
    const kept = (await store.save('A', sequenceHolding(range(0, 10)), about))!;
    const old = path.join(folder, '00000000-0000-4000-8000-000000000000.state');
    const recent = path.join(folder, '11111111-1111-4111-8111-111111111111.state');
    writeFileSync(old, 'x');
    writeFileSync(recent, 'x');
    const hoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(old, hoursAgo, hoursAgo);
    await configured();
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(path.join(folder, `${kept.id}.state`))).toBe(true);
  });

  it('deletes one entry, or all', async () => {
    const store = await configured();
    const a = (await store.save('A', sequenceHolding(range(0, 10)), about))!;
    const b = (await store.save('B', sequenceHolding(range(0, 10)), about))!;
    await store.remove(a.id);
    expect(store.list().map((e) => e.id)).toEqual([b.id]);
    await store.remove();
    expect(store.list()).toEqual([]);
    expect(store.storedBytes).toBe(0);
  });

  it('without a folder keeps the last two prompts in a temporary one, deleted on close', async () => {
    const temporary = path.join(folder, 'temporary');
    const store = new SavedKvStore(temporary);
    for (const start of [0, 100, 200]) await store.save('A', sequenceHolding(range(start, start + 10)), about);
    expect(store.list()).toHaveLength(2);
    expect(store.folder).toBeNull();
    await store.close();
    expect(existsSync(temporary)).toBe(false);
  });
});
