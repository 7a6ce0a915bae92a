import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { toDocumentRow, type RawDocument } from './rowMapping.js';
import type { DocumentRow } from '../../src-common/storeTypes.js';

export type AddDocumentInput = Omit<DocumentRow, 'id' | 'createdAt' | 'tokenCount'> & {
  tokenCount?: number | null;
};

const DOCUMENT_COLUMNS = 'id, session_id, name, mime, size_bytes, sha256, text, token_count, created_at';

export class DocumentRepository {
  constructor(private readonly db: Database.Database) {}

  add(input: AddDocumentInput): DocumentRow {
    const row: DocumentRow = {
      id: randomUUID(),
      sessionId: input.sessionId,
      name: input.name,
      mime: input.mime,
      sizeBytes: input.sizeBytes,
      sha256: input.sha256,
      text: input.text,
      tokenCount: input.tokenCount ?? null,
      createdAt: Date.now(),
    };
    this.db.transaction(() => {
      const { changes } = this.db
        .prepare(
          `INSERT INTO documents (${DOCUMENT_COLUMNS})
           SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)`,
        )
        .run(
          row.id,
          row.sessionId,
          row.name,
          row.mime,
          row.sizeBytes,
          row.sha256,
          row.text,
          row.tokenCount,
          row.createdAt,
          row.sessionId,
        );
      if (changes === 0) throw new StoreError('NOT_FOUND', `Session ${row.sessionId} does not exist.`);
      this.db
        .prepare('UPDATE sessions SET updated_at = max(updated_at, ?) WHERE id = ?')
        .run(row.createdAt, row.sessionId);
    })();
    return row;
  }

  get(id: string): DocumentRow | null {
    const raw = this.db.prepare(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id = ?`).get(id) as
      | RawDocument
      | undefined;
    return raw ? toDocumentRow(raw) : null;
  }

  /** In the order they were added. */
  listBySession(sessionId: string): DocumentRow[] {
    const rows = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE session_id = ? ORDER BY created_at, rowid`)
      .all(sessionId) as RawDocument[];
    return rows.map(toDocumentRow);
  }

  /** The same file already attached to this session, to avoid storing its text twice. */
  findByHash(sessionId: string, sha256: string): DocumentRow | null {
    const raw = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE session_id = ? AND sha256 = ? LIMIT 1`)
      .get(sessionId, sha256) as RawDocument | undefined;
    return raw ? toDocumentRow(raw) : null;
  }

  /** Token counts depend on the model's tokenizer, so they arrive after the text. */
  setTokenCount(id: string, tokenCount: number | null): void {
    const { changes } = this.db.prepare('UPDATE documents SET token_count = ? WHERE id = ?').run(tokenCount, id);
    if (changes === 0) throw new StoreError('NOT_FOUND', `Document ${id} does not exist.`);
  }
}
