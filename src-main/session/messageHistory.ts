// History edits the store's repositories do not offer (yet): dropping the tail of a conversation
// for regenerate and edit-and-resend, and opening a new streaming answer after an existing question.
import type { Store } from '../store/index.js';
import type { MessageRow } from '../../src-common/storeTypes.js';

/** Deletes the message and every later message of its session, in one transaction. */
export function truncateFrom(store: Store, message: MessageRow): void {
  const { db } = store;
  db.transaction(() => {
    const anchor = db.prepare('SELECT seq, created_at FROM messages WHERE id = ?').get(message.id) as
      | { seq: number; created_at: number }
      | undefined;
    if (!anchor) return;
    db.prepare(
      `DELETE FROM messages WHERE session_id = ?
       AND (created_at > ? OR (created_at = ? AND seq >= ?))`,
    ).run(message.sessionId, anchor.created_at, anchor.created_at, anchor.seq);
  })();
}

export function appendStreamingAnswer(store: Store, sessionId: string): MessageRow {
  return store.messages.append({ sessionId, role: 'assistant', content: '', status: 'streaming' });
}
