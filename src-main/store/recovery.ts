// After a crash, answers that were streaming have no process writing them any more. They keep
// their partial text and become 'interrupted' so the UI can offer to regenerate them. An answer
// whose writer (the app, serve or a CLI ask on the same database) is still running is left alone.
import type Database from 'better-sqlite3';
import { MessageRepository } from './messages.js';
import type { MessageRow } from '../../src-common/storeTypes.js';

/** Whether a process with this id runs (EPERM: it runs, as another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether nothing can still be writing an answer recorded with this writer. Rows from before the
 * writer was recorded have none; this process's own id can only be a reused id of a dead one,
 * since a store marks stranded answers before it starts any of its own.
 */
function writerIsGone(writerPid: number | null): boolean {
  return writerPid === null || writerPid === process.pid || !isProcessAlive(writerPid);
}

export function recoverInterruptedMessages(db: Database.Database): MessageRow[] {
  const messages = new MessageRepository(db);
  return db.transaction(() => {
    const streaming = db.prepare(`SELECT id, writer_pid AS writerPid FROM messages WHERE status = 'streaming' ORDER BY seq`).all() as Array<{
      id: string;
      writerPid: number | null;
    }>;
    const stranded = streaming.filter((message) => writerIsGone(message.writerPid));
    const now = Date.now();
    const markInterrupted = db.prepare(
      `UPDATE messages SET status = 'interrupted', updated_at = ? WHERE id = ? AND status = 'streaming'`,
    );
    for (const message of stranded) markInterrupted.run(now, message.id);
    return stranded.map((message) => messages.require(message.id));
  })();
}
