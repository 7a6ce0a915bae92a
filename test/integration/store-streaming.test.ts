import { afterEach, describe, expect, it } from 'vitest';
import { StoreError, openStore, type Store } from '../../src-main/store/index.js';
import { createTempDirTracker, sampleMetrics } from '../fixtures/store/tempDirs.js';

const tempDirs = createTempDirTracker();
const openStores: Store[] = [];

function open(dataDir = tempDirs.make(), recoverInterrupted = true): Store {
  const store = openStore({ dataDir, recoverInterrupted });
  openStores.push(store);
  return store;
}

afterEach(() => {
  for (const store of openStores.splice(0)) store.close();
  tempDirs.removeAll();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What another process reading the database would see right now. */
function persistedContent(store: Store, messageId: string): string {
  return (store.db.prepare('SELECT content FROM messages WHERE id = ?').get(messageId) as { content: string }).content;
}

describe('StreamingMessageWriter', () => {
  it('buffers appends and flushes them at most once per interval', async () => {
    const store = open();
    const session = store.sessions.create();
    const { assistantMessage, writer } = store.beginTurn(
      { sessionId: session.id, userContent: 'q' },
      { flushIntervalMs: 300 },
    );

    writer.append('Hello');
    expect(persistedContent(store, assistantMessage.id)).toBe(''); // nothing written synchronously
    await sleep(40);
    expect(persistedContent(store, assistantMessage.id)).toBe('Hello'); // first flush comes promptly

    writer.append(', ');
    writer.append('world');
    await sleep(40);
    expect(persistedContent(store, assistantMessage.id)).toBe('Hello'); // still inside the interval
    expect(writer.text).toBe('Hello, world');
    await sleep(350);
    expect(persistedContent(store, assistantMessage.id)).toBe('Hello, world');
    expect(store.messages.get(assistantMessage.id)?.status).toBe('streaming');
    writer.finish(null);
  });

  it('counts flushes: many appends over time produce few writes', async () => {
    const store = open();
    const session = store.sessions.create();
    const { assistantMessage, writer } = store.beginTurn(
      { sessionId: session.id, userContent: 'q' },
      { flushIntervalMs: 100 },
    );
    let updates = 0;
    let lastSeen = '';
    const started = Date.now();
    for (let index = 0; index < 30; index += 1) {
      writer.append(`t${index} `);
      await sleep(10);
      const current = persistedContent(store, assistantMessage.id);
      if (current !== lastSeen) {
        updates += 1;
        lastSeen = current;
      }
    }
    const elapsed = Date.now() - started;
    // One flush at the start, then at most one per 100 ms (plus one of slack for timer jitter).
    expect(updates).toBeGreaterThanOrEqual(2);
    expect(updates).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);
    expect(updates).toBeLessThan(30);
    const finished = writer.finish(null);
    expect(finished.content).toBe(Array.from({ length: 30 }, (_, index) => `t${index} `).join(''));
  });

  it('finish writes the remaining text, metrics and status, and marks the session updated', () => {
    const store = open();
    const session = store.sessions.create();
    const { writer } = store.beginTurn({ sessionId: session.id, userContent: 'q' }, { flushIntervalMs: 60_000 });
    store.db.prepare('UPDATE sessions SET updated_at = 0 WHERE id = ?').run(session.id);
    writer.append('The answer ');
    writer.append('is 42.');
    const finished = writer.finish(sampleMetrics);
    expect(finished).toMatchObject({ content: 'The answer is 42.', status: 'complete', metrics: sampleMetrics, error: null });
    expect(store.messages.get(finished.id)).toEqual(finished);
    expect(store.sessions.get(session.id)?.updatedAt).toBe(finished.updatedAt);
    expect(writer.isClosed).toBe(true);
    expect(() => writer.append('more')).toThrow(StoreError);
    expect(() => writer.finish(null)).toThrow(/already finished/);
  });

  it('records a cancelled answer with its partial text', () => {
    const store = open();
    const session = store.sessions.create();
    const { writer } = store.beginTurn({ sessionId: session.id, userContent: 'q' });
    writer.append('Partial');
    expect(writer.finish(sampleMetrics, 'cancelled')).toMatchObject({ status: 'cancelled', content: 'Partial' });
  });

  it('fail keeps the streamed text and stores the error message', async () => {
    const store = open();
    const session = store.sessions.create();
    const { writer } = store.beginTurn({ sessionId: session.id, userContent: 'q' }, { flushIntervalMs: 20 });
    writer.append('Half an ans');
    await sleep(50);
    writer.append('wer');
    const failed = writer.fail(new Error('Engine crashed'));
    expect(failed).toMatchObject({ status: 'error', error: 'Engine crashed', content: 'Half an answer', metrics: null });
  });

  it('refuses to write to a message that is not streaming', () => {
    const store = open();
    const session = store.sessions.create();
    const done = store.messages.append({ sessionId: session.id, role: 'assistant', content: 'x' });
    expect(() => store.createStreamingWriter(done.id)).toThrow(/not streaming/);
    expect(() => store.createStreamingWriter('missing')).toThrow(/does not exist/);
  });

  it('a writer can continue a streaming message created separately', () => {
    const store = open();
    const session = store.sessions.create();
    const placeholder = store.messages.append({ sessionId: session.id, role: 'assistant', content: 'Re', status: 'streaming' });
    const writer = store.createStreamingWriter(placeholder.id);
    writer.append('generated');
    expect(writer.finish(null).content).toBe('Regenerated');
  });
});

describe('recoverInterrupted', () => {
  it('marks answers left streaming as interrupted, keeping their partial text', () => {
    const dataDir = tempDirs.make();
    const crashed = openStore({ dataDir });
    const session = crashed.sessions.create({ title: 'Crashed' });
    const { assistantMessage, writer } = crashed.beginTurn({ sessionId: session.id, userContent: 'q' });
    writer.append('Partial answer');
    writer.flush();
    const finished = crashed.beginTurn({ sessionId: session.id, userContent: 'q2' }).writer.finish(null);
    crashed.close(); // as if the process died: the first answer is still 'streaming' on disk

    const reopened = open(dataDir);
    expect(reopened.recovered.map((message) => message.id)).toEqual([assistantMessage.id]);
    expect(reopened.recovered[0]).toMatchObject({ status: 'interrupted', content: 'Partial answer' });
    expect(reopened.messages.get(assistantMessage.id)?.status).toBe('interrupted');
    expect(reopened.messages.get(finished.id)?.status).toBe('complete');
    expect(reopened.recoverInterrupted()).toEqual([]);
  });

  it('can be deferred, and a live writer stops once its message was recovered', () => {
    const dataDir = tempDirs.make();
    const store = open(dataDir, false);
    const session = store.sessions.create();
    const { writer } = store.beginTurn({ sessionId: session.id, userContent: 'q' });
    expect(store.recovered).toEqual([]);
    writer.append('abc');
    expect(store.recoverInterrupted()).toHaveLength(1);
    let caught: unknown;
    try {
      writer.finish(null);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StoreError);
    expect((caught as StoreError).code).toBe('WRITER_CLOSED');
    expect(writer.isClosed).toBe(true);
  });
});
