import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { TurnMetrics } from '../../src-common/engineTypes.js';
import { StoreError } from './errors.js';
import { MESSAGE_COLUMNS, toMessageRow, type RawMessage } from './rowMapping.js';
import type { MessageRow, MessageStatus } from '../../src-common/storeTypes.js';

export interface AppendMessageInput {
  sessionId: string;
  role: MessageRow['role'];
  content: string;
  /** Defaults to 'complete'; an assistant answer about to stream starts as 'streaming'. */
  status?: MessageStatus;
  metrics?: TurnMetrics | null;
  error?: string | null;
  /** Documents of the same session attached to this message, in display order. */
  documentIds?: string[];
}

export class MessageRepository {
  constructor(private readonly db: Database.Database) {}

  /** Inserts the message and its document links atomically, and marks the session updated. */
  append(input: AppendMessageInput): MessageRow {
    return this.db.transaction(() => this.insert(input))();
  }

  get(id: string): MessageRow | null {
    const raw = this.db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?`).get(id) as
      | RawMessage
      | undefined;
    return raw ? toMessageRow(raw) : null;
  }

  require(id: string): MessageRow {
    const row = this.get(id);
    if (!row) throw new StoreError('NOT_FOUND', `Message ${id} does not exist.`);
    return row;
  }

  /** Oldest first: the order the conversation happened. */
  listBySession(sessionId: string): MessageRow[] {
    const rows = this.db
      .prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.session_id = ?
         ORDER BY m.created_at, m.seq`,
      )
      .all(sessionId) as RawMessage[];
    return rows.map(toMessageRow);
  }

  updateStatus(id: string, status: MessageStatus, error: string | null = null): MessageRow {
    const { changes } = this.db
      .prepare('UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE id = ?')
      .run(status, error, Date.now(), id);
    if (changes === 0) throw new StoreError('NOT_FOUND', `Message ${id} does not exist.`);
    return this.require(id);
  }

  /** Must run inside a transaction (append and beginTurn provide one). */
  insert(input: AppendMessageInput): MessageRow {
    const documentIds = input.documentIds ?? [];
    this.assertDocumentsBelongToSession(input.sessionId, documentIds);
    const now = Date.now();
    const id = randomUUID();
    const status = input.status ?? 'complete';
    const result = this.db
      .prepare(
        `INSERT INTO messages (id, session_id, role, content, status, created_at, updated_at, metrics, error, writer_pid)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)`,
      )
      .run(
        id,
        input.sessionId,
        input.role,
        input.content,
        status,
        now,
        now,
        input.metrics ? JSON.stringify(input.metrics) : null,
        input.error ?? null,
        // the process that will stream this answer; recovery leaves it alone while that one lives
        status === 'streaming' ? process.pid : null,
        input.sessionId,
      );
    if (result.changes === 0) {
      throw new StoreError('NOT_FOUND', `Session ${input.sessionId} does not exist.`);
    }
    const link = this.db.prepare(
      'INSERT INTO message_documents (message_id, document_id, position) VALUES (?, ?, ?)',
    );
    documentIds.forEach((documentId, position) => link.run(id, documentId, position));
    this.db.prepare('UPDATE sessions SET updated_at = max(updated_at, ?) WHERE id = ?').run(now, input.sessionId);
    return this.require(id);
  }

  private assertDocumentsBelongToSession(sessionId: string, documentIds: string[]): void {
    if (new Set(documentIds).size !== documentIds.length) {
      throw new StoreError('INVALID', 'A document is attached to the same message twice.');
    }
    const owned = this.db.prepare('SELECT 1 FROM documents WHERE id = ? AND session_id = ?');
    for (const documentId of documentIds) {
      if (!owned.get(documentId, sessionId)) {
        throw new StoreError('INVALID', `Document ${documentId} does not belong to session ${sessionId}.`);
      }
    }
  }
}
