// After a crash, answers that were streaming have no process writing them any more. They keep
// their partial text and become 'interrupted' so the UI can offer to regenerate them.
import type Database from 'better-sqlite3';
import { MessageRepository } from './messages.js';
import type { MessageRow } from './types.js';

export function recoverInterruptedMessages(db: Database.Database): MessageRow[] {
  const messages = new MessageRepository(db);
  return db.transaction(() => {
    const stranded = messages.listStreaming();
    const now = Date.now();
    const markInterrupted = db.prepare(
      `UPDATE messages SET status = 'interrupted', updated_at = ? WHERE id = ? AND status = 'streaming'`,
    );
    for (const message of stranded) markInterrupted.run(now, message.id);
    return stranded.map((message) => messages.require(message.id));
  })();
}
