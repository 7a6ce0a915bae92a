// Persists an assistant answer while it streams. Tokens are buffered and written at most once per
// flush interval, so a process killed mid-answer loses at most the last interval of text, without
// a write per token.
import type Database from 'better-sqlite3';
import type { TurnMetrics } from '../../src-common/engineTypes.js';
import { StoreError } from './errors.js';
import { MessageRepository } from './messages.js';
import type { MessageRow, MessageStatus } from '../../src-common/storeTypes.js';

export interface StreamingWriterOptions {
  /** Longest time appended text may wait in memory before it is written. Default 1000 ms. */
  flushIntervalMs?: number;
}

export type FinishedStatus = Extract<MessageStatus, 'complete' | 'cancelled'>;

export const DEFAULT_FLUSH_INTERVAL_MS = 1000;

export class StreamingMessageWriter {
  private readonly messages: MessageRepository;
  private readonly flushIntervalMs: number;
  private pending = '';
  private written = '';
  private lastFlushAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** A failed background flush; surfaced on the next append so the caller can fail the turn. */
  private backgroundError: unknown = null;

  constructor(
    private readonly db: Database.Database,
    readonly messageId: string,
    options: StreamingWriterOptions = {},
  ) {
    this.messages = new MessageRepository(db);
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    const message = this.messages.require(messageId);
    if (message.status !== 'streaming') {
      throw new StoreError('WRITER_CLOSED', `Message ${messageId} is ${message.status}, not streaming.`);
    }
    this.written = message.content;
  }

  /** Everything appended so far, written or still buffered. */
  get text(): string {
    return this.written + this.pending;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  append(text: string): void {
    this.assertOpen();
    if (this.backgroundError !== null) {
      const error = this.backgroundError;
      this.backgroundError = null;
      throw error;
    }
    if (text === '') return;
    this.pending += text;
    this.scheduleFlush();
  }

  /** Writes buffered text now (e.g. before a graceful shutdown). */
  flush(): void {
    this.assertOpen();
    this.cancelTimer();
    if (this.pending === '') return;
    const chunk = this.pending;
    const now = Date.now();
    const { changes } = this.db.transaction(() =>
      this.db
        .prepare(
          `UPDATE messages SET content = content || ?, updated_at = ? WHERE id = ? AND status = 'streaming'`,
        )
        .run(chunk, now, this.messageId),
    )();
    if (changes === 0) this.closeBecauseNoLongerStreaming();
    this.written += chunk;
    this.pending = '';
    this.lastFlushAt = now;
  }

  /** Writes the rest of the text with the turn's metrics and a final status. */
  finish(metrics: TurnMetrics | null, status: FinishedStatus = 'complete'): MessageRow {
    return this.close(status, metrics, null);
  }

  /** Keeps the text streamed so far and records why the answer stopped. */
  fail(error: unknown): MessageRow {
    const message = error instanceof Error ? error.message : String(error);
    return this.close('error', null, message || 'Unknown error');
  }

  private close(status: MessageStatus, metrics: TurnMetrics | null, error: string | null): MessageRow {
    this.assertOpen();
    this.cancelTimer();
    const chunk = this.pending;
    const now = Date.now();
    const updated = this.db.transaction(() => {
      const { changes } = this.db
        .prepare(
          `UPDATE messages SET content = content || ?, status = ?, metrics = ?, error = ?, updated_at = ?
           WHERE id = ? AND status = 'streaming'`,
        )
        .run(chunk, status, metrics ? JSON.stringify(metrics) : null, error, now, this.messageId);
      if (changes === 0) return false;
      this.db
        .prepare(
          `UPDATE sessions SET updated_at = max(updated_at, ?)
           WHERE id = (SELECT session_id FROM messages WHERE id = ?)`,
        )
        .run(now, this.messageId);
      return true;
    })();
    if (!updated) this.closeBecauseNoLongerStreaming();
    this.closed = true;
    this.written += chunk;
    this.pending = '';
    return this.messages.require(this.messageId);
  }

  private scheduleFlush(): void {
    if (this.timer !== null) return;
    const delay = Math.max(0, this.lastFlushAt + this.flushIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      try {
        this.flush();
      } catch (error) {
        this.backgroundError = error;
      }
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new StoreError('WRITER_CLOSED', `The answer ${this.messageId} was already finished.`);
    }
  }

  /** Another process (or recoverInterrupted) finalized the message; stop writing to it. */
  private closeBecauseNoLongerStreaming(): never {
    this.closed = true;
    this.cancelTimer();
    throw new StoreError(
      'WRITER_CLOSED',
      `Message ${this.messageId} is no longer streaming (deleted or marked interrupted).`,
    );
  }
}
