// Schema history. Each migration runs once, in its own transaction, and bumps PRAGMA user_version,
// so a crash mid-migration leaves the previous version intact. Never edit a released migration:
// append a new one (see docs/STORE.md).
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export interface Migration {
  version: number;
  name: string;
  /**
   * Table rebuilds (SQLite's 12-step ALTER) need foreign keys off while they run; the runner turns
   * them off outside the transaction and checks them before committing.
   */
  disableForeignKeys?: boolean;
  up(db: Database.Database): void;
}

const coreSchema: Migration = {
  version: 1,
  name: 'core schema',
  up(db) {
    db.exec(`
      -- seq is an explicit INTEGER PRIMARY KEY because the full-text index refers to rows by rowid,
      -- and VACUUM may renumber implicit rowids. The public identifier is the UUID in id.
      CREATE TABLE sessions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER,
        model_path TEXT,
        settings TEXT NOT NULL CHECK (json_valid(settings))
      );
      CREATE INDEX sessions_live_by_updated ON sessions (updated_at DESC) WHERE deleted_at IS NULL;
      CREATE INDEX sessions_deleted_at ON sessions (deleted_at) WHERE deleted_at IS NOT NULL;

      CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        status TEXT NOT NULL
          CHECK (status IN ('streaming', 'complete', 'cancelled', 'error', 'interrupted')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        metrics TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
        error TEXT
      );
      -- seq breaks ties between messages written in the same millisecond (a turn's two rows).
      CREATE INDEX messages_by_session ON messages (session_id, created_at, seq);
      CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

      CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        mime TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        text TEXT NOT NULL,
        token_count INTEGER,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX documents_by_session ON documents (session_id, created_at);
      CREATE INDEX documents_by_hash ON documents (sha256);

      -- A join table rather than a JSON array of ids on the message: the foreign keys keep links
      -- valid (deleting a document or a message removes its links by cascade), and "which messages
      -- used this document" stays an indexed query.
      CREATE TABLE message_documents (
        message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        PRIMARY KEY (message_id, document_id)
      ) WITHOUT ROWID;
      CREATE INDEX message_documents_by_document ON message_documents (document_id);

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL CHECK (json_valid(value)),
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE model_profiles (
        model_hash TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        profile TEXT NOT NULL CHECK (json_valid(profile)),
        created_at INTEGER NOT NULL
      );
    `);
  },
};

const searchIndex: Migration = {
  version: 2,
  name: 'full-text search index',
  up(db) {
    // better-sqlite3 bundles SQLite with FTS5; a build without it keeps working through the LIKE
    // fallback in search.ts, which checks for these tables at query time.
    if (!isFts5Available(db)) return;
    db.exec(`
      CREATE VIRTUAL TABLE sessions_fts USING fts5 (
        title, content = 'sessions', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2'
      );
      CREATE VIRTUAL TABLE messages_fts USING fts5 (
        content, content = 'messages', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2'
      );

      CREATE TRIGGER sessions_fts_insert AFTER INSERT ON sessions BEGIN
        INSERT INTO sessions_fts (rowid, title) VALUES (new.seq, new.title);
      END;
      CREATE TRIGGER sessions_fts_delete AFTER DELETE ON sessions BEGIN
        INSERT INTO sessions_fts (sessions_fts, rowid, title) VALUES ('delete', old.seq, old.title);
      END;
      CREATE TRIGGER sessions_fts_update AFTER UPDATE OF title ON sessions BEGIN
        INSERT INTO sessions_fts (sessions_fts, rowid, title) VALUES ('delete', old.seq, old.title);
        INSERT INTO sessions_fts (rowid, title) VALUES (new.seq, new.title);
      END;

      CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
      END;
      CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
      END;
      CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
      END;

      INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild');
      INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    `);
  },
};

const streamingWriterProcess: Migration = {
  version: 3,
  name: 'process writing a streaming answer',
  up(db) {
    // Recovery marks an answer interrupted only when the process writing it is gone, so the CLI
    // and the app can open the same database while the other one is answering.
    db.exec('ALTER TABLE messages ADD COLUMN writer_pid INTEGER');
  },
};

const prefillSamples: Migration = {
  version: 4,
  name: 'prefill timings per model and build',
  up(db) {
    // Plain prefills measured on this machine: the expected time to first token of a next turn
    // is its arithmetic at their rate (src-common/policy/expectedTtft.ts). Keyed by the model's
    // fingerprint (size and first and last MiB: cheap for the CLI to compute) and the engine build.
    db.exec(`
      CREATE TABLE prefill_samples (
        seq INTEGER PRIMARY KEY,
        model_fingerprint TEXT NOT NULL,
        build_id TEXT NOT NULL,
        cpu_variant TEXT,
        tokens INTEGER NOT NULL CHECK (tokens > 0),
        cached_tokens INTEGER NOT NULL CHECK (cached_tokens >= 0 AND cached_tokens < tokens),
        ttft_ms REAL NOT NULL CHECK (ttft_ms > 0),
        created_at INTEGER NOT NULL
      );
      CREATE INDEX prefill_samples_by_model ON prefill_samples (model_fingerprint, build_id, seq);
    `);
  },
};

/**
 * How the model was loaded when a prefill was timed (CPU or GPU, threads, flash attention): a rate
 * of 2 threads says nothing of 8, nor the CPU's of a GPU's. Samples from before it have none and
 * no longer count.
 */
const prefillLoadKey: Migration = {
  version: 5,
  name: 'prefill timings per load settings',
  up(db) {
    db.exec(`
      ALTER TABLE prefill_samples ADD COLUMN load_key TEXT;
      DROP INDEX prefill_samples_by_model;
      CREATE INDEX prefill_samples_by_model ON prefill_samples (model_fingerprint, build_id, load_key, seq);
    `);
  },
};

export const MIGRATIONS: readonly Migration[] = [coreSchema, searchIndex, streamingWriterProcess, prefillSamples, prefillLoadKey];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

export interface MigrationResult {
  fromVersion: number;
  toVersion: number;
  applied: string[];
}

export function readSchemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): MigrationResult {
  assertContiguous(migrations);
  const latest = migrations.length;
  const fromVersion = readSchemaVersion(db);
  if (fromVersion > latest) {
    throw new StoreError(
      'SCHEMA_TOO_NEW',
      `This database was written by a newer version of Sift (schema version ${fromVersion}); ` +
        `this version understands up to ${latest}. Update Sift to open it. Your data was not changed.`,
    );
  }
  const applied: string[] = [];
  for (const migration of migrations.slice(fromVersion)) {
    applyMigration(db, migration);
    applied.push(migration.name);
  }
  return { fromVersion, toVersion: readSchemaVersion(db), applied };
}

function applyMigration(db: Database.Database, migration: Migration): void {
  const run = db.transaction(() => {
    migration.up(db);
    if (migration.disableForeignKeys) assertNoForeignKeyViolations(db, migration);
    db.pragma(`user_version = ${migration.version}`);
  });
  if (!migration.disableForeignKeys) {
    run();
    return;
  }
  // foreign_keys cannot change inside a transaction, so it is toggled around it.
  db.pragma('foreign_keys = OFF');
  try {
    run();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

function assertNoForeignKeyViolations(db: Database.Database, migration: Migration): void {
  const violations = db.pragma('foreign_key_check') as unknown[];
  if (violations.length > 0) {
    throw new Error(
      `Migration ${migration.version} (${migration.name}) left ${violations.length} foreign key violations`,
    );
  }
}

function assertContiguous(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(
        `Migration "${migration.name}" has version ${migration.version}, expected ${index + 1}`,
      );
    }
  });
}

export function isFts5Available(db: Database.Database): boolean {
  // Probing beats reading compile options: FTS5 may also arrive as a loaded extension.
  try {
    db.exec('CREATE VIRTUAL TABLE temp.sift_fts5_probe USING fts5 (x); DROP TABLE temp.sift_fts5_probe;');
    return true;
  } catch {
    return false;
  }
}
