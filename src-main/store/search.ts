// Session search over titles and message text: FTS5 when the index exists (migration 2), a LIKE
// scan otherwise. FTS matches sessions whose title, or one of whose messages, holds every word of
// the query as a word prefix; the LIKE fallback looks for every word as a substring anywhere in
// the session. Soft-deleted sessions never match. Results are most recently updated first.
import type Database from 'better-sqlite3';
import { SESSION_COLUMNS, toSessionRow, type RawSession } from './rowMapping.js';
import type { SessionRow } from '../../src-common/storeTypes.js';

export interface SearchOptions {
  limit?: number;
}

const DEFAULT_LIMIT = 50;

/** Words as FTS5's unicode61 tokenizer sees them: runs of letters, digits and combining marks. */
export function searchTerms(query: string): string[] {
  return query.match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
}

/**
 * Builds an FTS5 MATCH expression from free text. Each word is quoted (so user input can never
 * be read as FTS syntax such as NEAR, OR or column filters) and matched as a prefix.
 */
export function toFtsQuery(query: string): string | null {
  const terms = searchTerms(query);
  if (terms.length === 0) return null;
  return terms.map((term) => `"${term}"*`).join(' ');
}

export function hasFtsIndex(db: Database.Database): boolean {
  const row = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('sessions_fts', 'messages_fts')`)
    .all();
  return row.length === 2;
}

export function searchSessionsFts(
  db: Database.Database,
  query: string,
  { limit = DEFAULT_LIMIT }: SearchOptions = {},
): SessionRow[] {
  const match = toFtsQuery(query);
  if (match === null) return [];
  const rows = db
    .prepare(
      `SELECT ${SESSION_COLUMNS} FROM sessions s
       WHERE s.deleted_at IS NULL AND (
         s.seq IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH @match)
         OR s.id IN (
           SELECT m.session_id FROM messages_fts f JOIN messages m ON m.seq = f.rowid
           WHERE messages_fts MATCH @match
         )
       )
       ORDER BY s.updated_at DESC, s.seq DESC
       LIMIT @limit`,
    )
    .all({ match, limit }) as RawSession[];
  return rows.map(toSessionRow);
}

export function searchSessionsLike(
  db: Database.Database,
  query: string,
  { limit = DEFAULT_LIMIT }: SearchOptions = {},
): SessionRow[] {
  const terms = searchTerms(query);
  if (terms.length === 0) return [];
  const termClauses = terms.map(
    (_, index) => `(s.title LIKE @t${index} ESCAPE '\\' OR EXISTS (
        SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.content LIKE @t${index} ESCAPE '\\'))`,
  );
  const params: Record<string, string | number> = { limit };
  terms.forEach((term, index) => {
    params[`t${index}`] = `%${escapeLike(term)}%`;
  });
  const rows = db
    .prepare(
      `SELECT ${SESSION_COLUMNS} FROM sessions s
       WHERE s.deleted_at IS NULL AND ${termClauses.join(' AND ')}
       ORDER BY s.updated_at DESC, s.seq DESC
       LIMIT @limit`,
    )
    .all(params) as RawSession[];
  return rows.map(toSessionRow);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
