import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  StoreError,
  migrate,
  openStore,
  readSchemaVersion,
  type Migration,
  type Store,
} from '../../src-main/store/index.js';
import { searchSessionsLike } from '../../src-main/store/search.js';
import { createTempDirTracker, sampleMetrics } from '../fixtures/store/tempDirs.js';

const tempDirs = createTempDirTracker();
const openStores: Store[] = [];

function open(dataDir = tempDirs.make()): Store {
  const store = openStore({ dataDir });
  openStores.push(store);
  return store;
}

afterEach(() => {
  for (const store of openStores.splice(0)) store.close();
  tempDirs.removeAll();
});

function tableNames(db: Database.Database): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map(
    (row) => row.name,
  );
}

describe('opening and migrations', () => {
  it('creates the data directory and applies every migration to an empty database', () => {
    const dataDir = path.join(tempDirs.make(), 'nested', 'data');
    const store = open(dataDir);
    expect(store.filePath).toBe(path.join(dataDir, 'sift.db'));
    expect(store.migration).toEqual({
      fromVersion: 0,
      toVersion: LATEST_SCHEMA_VERSION,
      applied: MIGRATIONS.map((migration) => migration.name),
    });
    expect(readSchemaVersion(store.db)).toBe(LATEST_SCHEMA_VERSION);
    expect(tableNames(store.db)).toEqual(
      expect.arrayContaining([
        'documents',
        'message_documents',
        'messages',
        'messages_fts',
        'model_profiles',
        'sessions',
        'sessions_fts',
        'settings',
      ]),
    );
  });

  it('honours a custom file name', () => {
    const dataDir = tempDirs.make();
    const store = openStore({ dataDir, fileName: 'other.db' });
    openStores.push(store);
    expect(store.filePath).toBe(path.join(dataDir, 'other.db'));
  });

  it('reopens an up-to-date database without re-running migrations and keeps the data', () => {
    const dataDir = tempDirs.make();
    const first = openStore({ dataDir });
    const session = first.sessions.create({ title: 'Kept across restarts' });
    first.close();

    const second = open(dataDir);
    expect(second.migration).toEqual({
      fromVersion: LATEST_SCHEMA_VERSION,
      toVersion: LATEST_SCHEMA_VERSION,
      applied: [],
    });
    expect(second.sessions.get(session.id)?.title).toBe('Kept across restarts');
  });

  it('refuses a database written by a newer schema and leaves it untouched', () => {
    const dataDir = tempDirs.make();
    openStore({ dataDir }).close();
    const filePath = path.join(dataDir, 'sift.db');
    const raw = new Database(filePath);
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 5}`);
    raw.close();

    let caught: unknown;
    try {
      openStore({ dataDir });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StoreError);
    expect((caught as StoreError).code).toBe('SCHEMA_TOO_NEW');
    expect((caught as StoreError).message).toMatch(/newer version of Sift/);

    const check = new Database(filePath, { readonly: true });
    expect(readSchemaVersion(check)).toBe(LATEST_SCHEMA_VERSION + 5);
    check.close();
  });

  it('rolls back a failing migration completely, leaving the previous version', () => {
    const db = new Database(path.join(tempDirs.make(), 'partial.db'));
    const failing: Migration = {
      version: 2,
      name: 'half done',
      up(connection) {
        connection.exec('CREATE TABLE half_done (x INTEGER)');
        throw new Error('disk on fire');
      },
    };
    const first = MIGRATIONS[0];
    if (!first) throw new Error('no migrations');
    expect(() => migrate(db, [first, failing])).toThrow('disk on fire');
    expect(readSchemaVersion(db)).toBe(1);
    expect(tableNames(db)).toContain('sessions');
    expect(tableNames(db)).not.toContain('half_done');
    db.close();
  });

  it('rejects a migration list with a gap in its versions', () => {
    const db = new Database(':memory:');
    const skipped: Migration = { version: 3, name: 'skips 2', up() {} };
    expect(() => migrate(db, [...MIGRATIONS.slice(0, 1), skipped])).toThrow(/expected 2/);
    db.close();
  });

  it('runs with WAL, foreign keys, synchronous NORMAL and a busy timeout', () => {
    const store = open();
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // 1 = NORMAL
    expect(store.db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
  });

  it('indexes session listing and message listing', () => {
    const store = open();
    const sessionPlan = store.db
      .prepare(`EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE deleted_at IS NULL ORDER BY updated_at DESC`)
      .all() as { detail: string }[];
    expect(sessionPlan.map((step) => step.detail).join(' ')).toMatch(/sessions_live_by_updated/);
    const messagePlan = store.db
      .prepare(`EXPLAIN QUERY PLAN SELECT id FROM messages WHERE session_id = ? ORDER BY created_at, seq`)
      .all('x') as { detail: string }[];
    expect(messagePlan.map((step) => step.detail).join(' ')).toMatch(/messages_by_session/);
  });
});

describe('sessions', () => {
  it('creates sessions with defaults and lists live ones, most recently updated first', () => {
    const store = open();
    const older = store.sessions.create({ title: 'Older' });
    const newer = store.sessions.create({ title: '  Newer  ', settings: { temperature: 0 } });
    store.sessions.touch(older.id, older.updatedAt - 10_000);
    store.sessions.touch(newer.id, newer.updatedAt + 10_000);
    const untitled = store.sessions.create();

    expect(newer.title).toBe('Newer');
    expect(untitled.title).toBe('New chat');
    expect(store.sessions.get(newer.id)?.settings.temperature).toBe(0);
    expect(store.sessions.get(newer.id)?.settings.maxTokens).toBe(1024);
    expect(store.sessions.list().map((session) => session.id)).toEqual([newer.id, untitled.id, older.id]);
    expect(store.sessions.list({ limit: 1, offset: 1 }).map((session) => session.id)).toEqual([untitled.id]);
  });

  it('renames and updates settings, keeping unchanged settings', () => {
    const store = open();
    const session = store.sessions.create({ title: 'Draft', settings: { systemPrompt: 'Be brief.' } });
    expect(store.sessions.rename(session.id, 'Quarterly report').title).toBe('Quarterly report');
    const updated = store.sessions.updateSettings(session.id, { temperature: 0.9, policy: 'kv:type=q8_0' });
    expect(updated.settings).toMatchObject({ systemPrompt: 'Be brief.', temperature: 0.9, policy: 'kv:type=q8_0' });
    expect(store.sessions.get(session.id)?.settings).toEqual(updated.settings);
    expect(() => store.sessions.rename(session.id, '   ')).toThrow(StoreError);
    expect(() => store.sessions.rename('missing', 'x')).toThrow(/does not exist/);
  });

  it('soft-deletes, restores, and purges only sessions deleted long enough ago', () => {
    const store = open();
    const keep = store.sessions.create({ title: 'Keep' });
    const doomed = store.sessions.create({ title: 'Doomed' });
    store.messages.append({ sessionId: doomed.id, role: 'user', content: 'hello' });

    const deleted = store.sessions.softDelete(doomed.id);
    expect(deleted.deletedAt).not.toBeNull();
    expect(store.sessions.list().map((session) => session.id)).toEqual([keep.id]);
    expect(store.sessions.listDeleted().map((session) => session.id)).toEqual([doomed.id]);
    expect(store.messages.listBySession(doomed.id)).toHaveLength(1);

    expect(store.sessions.restore(doomed.id).deletedAt).toBeNull();
    expect(store.sessions.list().map((session) => session.id).sort()).toEqual([keep.id, doomed.id].sort());

    store.sessions.softDelete(doomed.id);
    expect(store.sessions.purgeDeleted(60 * 60 * 1000)).toBe(0);
    expect(store.sessions.get(doomed.id)).not.toBeNull();
    expect(store.sessions.purgeDeleted(0)).toBe(1);
    expect(store.sessions.get(doomed.id)).toBeNull();
    expect(store.messages.listBySession(doomed.id)).toEqual([]);
    expect(store.sessions.get(keep.id)).not.toBeNull();
  });

  it('cascades a session delete to its messages, documents and document links', () => {
    const store = open();
    const session = store.sessions.create();
    const document = store.documents.add({
      sessionId: session.id,
      name: 'a.txt',
      mime: 'text/plain',
      sizeBytes: 5,
      sha256: 'ab'.repeat(32),
      text: 'hello',
    });
    store.beginTurn({ sessionId: session.id, userContent: 'Summarize', documentIds: [document.id] }).writer.finish(null);
    const count = (table: string) =>
      (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect([count('messages'), count('documents'), count('message_documents')]).toEqual([2, 1, 1]);

    store.db.prepare('DELETE FROM sessions WHERE id = ?').run(session.id);
    expect([count('messages'), count('documents'), count('message_documents')]).toEqual([0, 0, 0]);
  });

  it('rejects messages for a session that does not exist (foreign keys enforced)', () => {
    const store = open();
    expect(() => store.messages.append({ sessionId: 'nope', role: 'user', content: 'x' })).toThrow(/does not exist/);
    expect(() =>
      store.db
        .prepare(
          `INSERT INTO messages (id, session_id, role, content, status, created_at, updated_at)
           VALUES ('m', 'nope', 'user', 'x', 'complete', 0, 0)`,
        )
        .run(),
    ).toThrow(/FOREIGN KEY/);
  });
});

describe('search', () => {
  function seed(store: Store) {
    const budget = store.sessions.create({ title: 'Budget review 2024' });
    store.messages.append({ sessionId: budget.id, role: 'user', content: 'What did marketing spend?' });
    const contract = store.sessions.create({ title: 'Lease questions' });
    store.messages.append({
      sessionId: contract.id,
      role: 'assistant',
      content: 'The tenant must give ninety days notice before terminating the lease.',
    });
    const deleted = store.sessions.create({ title: 'Budget draft (deleted)' });
    store.sessions.softDelete(deleted.id);
    return { budget, contract, deleted };
  }

  it('finds sessions by title words and word prefixes, ignoring case and deleted sessions', () => {
    const store = open();
    const { budget } = seed(store);
    expect(store.sessions.search('budget').map((session) => session.id)).toEqual([budget.id]);
    expect(store.sessions.search('BUDG').map((session) => session.id)).toEqual([budget.id]);
    expect(store.sessions.search('review 2024').map((session) => session.id)).toEqual([budget.id]);
  });

  it('finds sessions by message content', () => {
    const store = open();
    const { budget, contract } = seed(store);
    expect(store.sessions.search('ninety days notice').map((session) => session.id)).toEqual([contract.id]);
    expect(store.sessions.search('marketing').map((session) => session.id)).toEqual([budget.id]);
    expect(store.sessions.search('nonexistentword')).toEqual([]);
    expect(store.sessions.search('  ?!  ')).toEqual([]);
  });

  it('treats FTS syntax in the query as plain words', () => {
    const store = open();
    const { contract } = seed(store);
    expect(() => store.sessions.search('tenant" OR NEAR(')).not.toThrow();
    expect(store.sessions.search('tenant" OR NEAR(')).toEqual([]);
    expect(store.sessions.search('"tenant"').map((session) => session.id)).toEqual([contract.id]);
  });

  it('keeps the index in step with renames, streamed text and purges', () => {
    const store = open();
    const session = store.sessions.create({ title: 'Old name' });
    store.sessions.rename(session.id, 'Shiny name');
    expect(store.sessions.search('old')).toEqual([]);
    expect(store.sessions.search('shiny')).toHaveLength(1);

    const { writer } = store.beginTurn({ sessionId: session.id, userContent: 'q' });
    writer.append('photosynthesis explained');
    writer.finish(sampleMetrics);
    expect(store.sessions.search('photosynthesis').map((found) => found.id)).toEqual([session.id]);

    store.sessions.softDelete(session.id);
    store.sessions.purgeDeleted(0);
    expect(store.sessions.search('photosynthesis')).toEqual([]);
    expect(() => store.db.exec(`INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')`)).not.toThrow();
    expect(() => store.db.exec(`INSERT INTO sessions_fts (sessions_fts) VALUES ('integrity-check')`)).not.toThrow();
  });

  it('falls back to LIKE matching with the same results on seeded data', () => {
    const store = open();
    const { budget, contract } = seed(store);
    expect(searchSessionsLike(store.db, 'budget').map((session) => session.id)).toEqual([budget.id]);
    expect(searchSessionsLike(store.db, 'NINETY days').map((session) => session.id)).toEqual([contract.id]);
    expect(searchSessionsLike(store.db, '100%_')).toEqual([]);
  });
});

describe('messages, documents and turns', () => {
  it('begins a turn with a user message and a streaming placeholder in one transaction', () => {
    const store = open();
    const session = store.sessions.create();
    const document = store.documents.add({
      sessionId: session.id,
      name: 'report.pdf',
      mime: 'application/pdf',
      sizeBytes: 1234,
      sha256: 'cd'.repeat(32),
      text: 'Revenue grew 12%.',
      tokenCount: 6,
    });
    const turn = store.beginTurn({ sessionId: session.id, userContent: 'How much did revenue grow?', documentIds: [document.id] });
    expect(turn.userMessage).toMatchObject({ role: 'user', status: 'complete', documentIds: [document.id] });
    expect(turn.assistantMessage).toMatchObject({ role: 'assistant', status: 'streaming', content: '' });
    expect(store.messages.listBySession(session.id).map((message) => message.id)).toEqual([
      turn.userMessage.id,
      turn.assistantMessage.id,
    ]);
    turn.writer.finish(null);
  });

  it('writes nothing when any part of a turn fails', () => {
    const store = open();
    const session = store.sessions.create();
    const other = store.sessions.create();
    const foreign = store.documents.add({
      sessionId: other.id,
      name: 'x.txt',
      mime: 'text/plain',
      sizeBytes: 1,
      sha256: 'ef'.repeat(32),
      text: 'x',
    });
    expect(() =>
      store.beginTurn({ sessionId: session.id, userContent: 'q', documentIds: [foreign.id] }),
    ).toThrow(/does not belong/);
    expect(store.messages.listBySession(session.id)).toEqual([]);
  });

  it('appends, reads and updates message status', () => {
    const store = open();
    const session = store.sessions.create();
    const message = store.messages.append({
      sessionId: session.id,
      role: 'assistant',
      content: 'Answer',
      metrics: sampleMetrics,
    });
    expect(store.messages.get(message.id)).toEqual(message);
    expect(message.metrics).toEqual(sampleMetrics);
    const failed = store.messages.updateStatus(message.id, 'error', 'Model crashed');
    expect(failed).toMatchObject({ status: 'error', error: 'Model crashed', content: 'Answer' });
    expect(store.messages.get('missing')).toBeNull();
    expect(() => store.messages.updateStatus('missing', 'complete')).toThrow(StoreError);
  });

  it('stores documents per session with their text, hash and token count', () => {
    const store = open();
    const session = store.sessions.create();
    const first = store.documents.add({
      sessionId: session.id,
      name: 'a.md',
      mime: 'text/markdown',
      sizeBytes: 10,
      sha256: '01'.repeat(32),
      text: '# A',
    });
    const second = store.documents.add({
      sessionId: session.id,
      name: 'b.md',
      mime: 'text/markdown',
      sizeBytes: 20,
      sha256: '02'.repeat(32),
      text: '# B',
    });
    store.documents.setTokenCount(first.id, 3);
    expect(store.documents.get(first.id)).toEqual({ ...first, tokenCount: 3 });
    expect(store.documents.listBySession(session.id).map((document) => document.name)).toEqual(['a.md', 'b.md']);
    expect(store.documents.findByHash(session.id, '02'.repeat(32))?.id).toBe(second.id);
    expect(store.documents.findByHash(session.id, '03'.repeat(32))).toBeNull();
    expect(() =>
      store.documents.add({ sessionId: 'missing', name: 'x', mime: 'text/plain', sizeBytes: 0, sha256: '', text: '' }),
    ).toThrow(/does not exist/);
  });
});

describe('settings and model profiles', () => {
  it('returns the default until a value is set, and round-trips JSON values', () => {
    const store = open();
    expect(store.settings.get('theme', 'system')).toBe('system');
    store.settings.set('theme', 'dark');
    store.settings.set('recentFolders', ['/a', '/b']);
    expect(store.settings.get('theme', 'system')).toBe('dark');
    expect(store.settings.get<string[]>('recentFolders', [])).toEqual(['/a', '/b']);
    store.settings.delete('theme');
    expect(store.settings.get('theme', 'system')).toBe('system');
    expect(() => store.settings.set('bad', undefined)).toThrow(StoreError);
  });

  it('falls back to the default when a stored value fails the schema', () => {
    const store = open();
    const fontSize = z.number().int().min(8).max(40);
    store.settings.set('fontSize', 'huge');
    expect(store.settings.get('fontSize', 14, fontSize)).toBe(14);
    store.settings.set('fontSize', 18);
    expect(store.settings.get('fontSize', 14, fontSize)).toBe(18);
  });

  it('puts and replaces model profiles by hash', () => {
    const store = open();
    expect(store.modelProfiles.get('hash-1')).toBeNull();
    store.modelProfiles.put({ modelHash: 'hash-1', path: '/m/a.gguf', name: 'A', profile: { tps: 10 } });
    const replaced = store.modelProfiles.put({
      modelHash: 'hash-1',
      path: '/moved/a.gguf',
      name: 'A',
      profile: { tps: 12, layers: [1, 2] },
    });
    expect(store.modelProfiles.get('hash-1')).toEqual(replaced);
    expect(store.modelProfiles.get('hash-1')?.path).toBe('/moved/a.gguf');
    expect(store.modelProfiles.list()).toHaveLength(1);
  });
});

describe('export through the store', () => {
  it('exports a stored session as Markdown and JSON', () => {
    const store = open();
    const session = store.sessions.create({ title: 'Export me' });
    const { writer } = store.beginTurn({ sessionId: session.id, userContent: 'Question?' });
    writer.append('Answer.');
    writer.finish(sampleMetrics);

    const markdown = store.exportSession(session.id, 'markdown', { exportedAt: 0 });
    expect(markdown).toContain('# Export me');
    expect(markdown).toMatch(/## You\n\nQuestion\?/);
    expect(markdown).toMatch(/## Sift\n\nAnswer\./);

    const json = JSON.parse(store.exportSession(session.id, 'json', { exportedAt: 0 })) as {
      session: { id: string };
      messages: { content: string }[];
    };
    expect(json.session.id).toBe(session.id);
    expect(json.messages.map((message) => message.content)).toEqual(['Question?', 'Answer.']);
    expect(() => store.exportSession('missing', 'json')).toThrow(/does not exist/);
  });
});
