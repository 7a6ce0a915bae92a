import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { hasFtsIndex, searchSessionsFts, searchSessionsLike, type SearchOptions } from './search.js';
import { DEFAULT_SESSION_SETTINGS, DEFAULT_SESSION_TITLE } from './sessionDefaults.js';
import { SESSION_COLUMNS, toSessionRow, type RawSession } from './rowMapping.js';
import type { SessionRow, SessionSettings } from '../../src-common/storeTypes.js';

export interface CreateSessionInput {
  title?: string;
  modelPath?: string | null;
  settings?: Partial<SessionSettings>;
}

export interface ListSessionsOptions {
  limit?: number;
  offset?: number;
}

export class SessionRepository {
  private readonly useFts: boolean;

  constructor(private readonly db: Database.Database) {
    this.useFts = hasFtsIndex(db);
  }

  create(input: CreateSessionInput = {}): SessionRow {
    const now = Date.now();
    const row: SessionRow = {
      id: randomUUID(),
      title: input.title?.trim() || DEFAULT_SESSION_TITLE,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      modelPath: input.modelPath ?? null,
      settings: { ...DEFAULT_SESSION_SETTINGS, ...input.settings },
    };
    this.db
      .prepare(
        `INSERT INTO sessions (id, title, created_at, updated_at, deleted_at, model_path, settings)
         VALUES (?, ?, ?, ?, NULL, ?, ?)`,
      )
      .run(row.id, row.title, now, now, row.modelPath, JSON.stringify(row.settings));
    return row;
  }

  /** Returns soft-deleted sessions too (deletedAt set), so an undo can show what it restores. */
  get(id: string): SessionRow | null {
    const raw = this.db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = ?`).get(id) as
      | RawSession
      | undefined;
    return raw ? toSessionRow(raw) : null;
  }

  /** Live sessions, most recently updated first. */
  list({ limit = -1, offset = 0 }: ListSessionsOptions = {}): SessionRow[] {
    const rows = this.db
      .prepare(
        `SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.deleted_at IS NULL
         ORDER BY s.updated_at DESC, s.seq DESC LIMIT ? OFFSET ?`,
      )
      .all(limit, offset) as RawSession[];
    return rows.map(toSessionRow);
  }

  /** Soft-deleted sessions still inside their undo window, most recently deleted first. */
  listDeleted(): SessionRow[] {
    const rows = this.db
      .prepare(
        `SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.deleted_at IS NOT NULL
         ORDER BY s.deleted_at DESC`,
      )
      .all() as RawSession[];
    return rows.map(toSessionRow);
  }

  rename(id: string, title: string): SessionRow {
    const trimmed = title.trim();
    if (!trimmed) throw new StoreError('INVALID', 'A session title cannot be empty.');
    this.updateOrThrow(id, 'title = ?, updated_at = ?', [trimmed, Date.now()]);
    return this.require(id);
  }

  updateSettings(id: string, changes: Partial<SessionSettings>): SessionRow {
    const merged = { ...this.require(id).settings, ...changes };
    this.updateOrThrow(id, 'settings = ?, updated_at = ?', [JSON.stringify(merged), Date.now()]);
    return this.require(id);
  }

  setModelPath(id: string, modelPath: string | null): SessionRow {
    this.updateOrThrow(id, 'model_path = ?, updated_at = ?', [modelPath, Date.now()]);
    return this.require(id);
  }

  /** Marks the session updated (new message, finished answer) so it sorts first. */
  touch(id: string, at: number = Date.now()): void {
    this.db.prepare('UPDATE sessions SET updated_at = max(updated_at, ?) WHERE id = ?').run(at, id);
  }

  /** Hides the session; its rows stay until purgeDeleted, so restore can undo this. */
  softDelete(id: string): SessionRow {
    this.updateOrThrow(id, 'deleted_at = coalesce(deleted_at, ?)', [Date.now()]);
    return this.require(id);
  }

  restore(id: string): SessionRow {
    this.updateOrThrow(id, 'deleted_at = NULL', []);
    return this.require(id);
  }

  /**
   * Permanently deletes sessions soft-deleted at least olderThanMs ago, with their messages and
   * documents (ON DELETE CASCADE). Returns how many sessions were removed.
   */
  purgeDeleted(olderThanMs: number): number {
    const cutoff = Date.now() - olderThanMs;
    return this.db
      .prepare('DELETE FROM sessions WHERE deleted_at IS NOT NULL AND deleted_at <= ?')
      .run(cutoff).changes;
  }

  /**
   * Deletes the session if it holds no message, with any documents attached to it (a CLI ask that
   * failed before its question was stored). Returns whether it was deleted.
   */
  deleteIfEmpty(id: string): boolean {
    return (
      this.db
        .prepare('DELETE FROM sessions WHERE id = ? AND NOT EXISTS (SELECT 1 FROM messages WHERE session_id = ?)')
        .run(id, id).changes > 0
    );
  }

  search(query: string, options?: SearchOptions): SessionRow[] {
    return this.useFts
      ? searchSessionsFts(this.db, query, options)
      : searchSessionsLike(this.db, query, options);
  }

  require(id: string): SessionRow {
    const row = this.get(id);
    if (!row) throw new StoreError('NOT_FOUND', `Session ${id} does not exist.`);
    return row;
  }

  private updateOrThrow(id: string, assignments: string, values: unknown[]): void {
    const { changes } = this.db
      .prepare(`UPDATE sessions SET ${assignments} WHERE id = ?`)
      .run(...values, id);
    if (changes === 0) throw new StoreError('NOT_FOUND', `Session ${id} does not exist.`);
  }
}
