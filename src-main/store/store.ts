// The store facade: one SQLite connection and the repositories built on it.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { resolveDataDir } from './dataDir.js';
import { openDatabase } from './database.js';
import { DocumentRepository } from './documents.js';
import { StoreError } from './errors.js';
import { MessageRepository } from './messages.js';
import type { MigrationResult } from './migrations.js';
import { ModelProfileRepository } from './modelProfiles.js';
import { PrefillSampleRepository } from './prefillSamples.js';
import { recoverInterruptedMessages } from './recovery.js';
import { sessionToJson, sessionToMarkdown, type ExportOptions, type SessionSnapshot } from './sessionExport.js';
import { SessionRepository } from './sessions.js';
import { SettingsRepository } from './settings.js';
import { StreamingMessageWriter, type StreamingWriterOptions } from './streamingWriter.js';
import { beginTurn, type BeginTurnInput, type BegunTurn } from './turns.js';
import type { MessageRow } from '../../src-common/storeTypes.js';

export const DEFAULT_DB_FILE_NAME = 'sift.db';

export interface OpenStoreOptions {
  /** Defaults to resolveDataDir(): SIFT_DATA_DIR, else the platform's app-data folder. */
  dataDir?: string;
  fileName?: string;
  /**
   * Mark answers left 'streaming' by a process that is gone as 'interrupted' while opening
   * (default true). Answers another live process is writing are left alone.
   */
  recoverInterrupted?: boolean;
}

export interface StreamingTurn extends BegunTurn {
  writer: StreamingMessageWriter;
}

export type ExportFormat = 'markdown' | 'json';

export interface Store {
  readonly dataDir: string;
  readonly filePath: string;
  /** The raw connection, for diagnostics and tests; app code goes through the repositories. */
  readonly db: Database.Database;
  readonly migration: MigrationResult;
  /** Messages recovered while opening (empty when recoverInterrupted was false). */
  readonly recovered: MessageRow[];
  readonly sessions: SessionRepository;
  readonly messages: MessageRepository;
  readonly documents: DocumentRepository;
  readonly settings: SettingsRepository;
  readonly modelProfiles: ModelProfileRepository;
  readonly prefillSamples: PrefillSampleRepository;
  /** Writes the user message and a 'streaming' assistant placeholder atomically. */
  beginTurn(input: BeginTurnInput, writerOptions?: StreamingWriterOptions): StreamingTurn;
  /** A writer for an existing assistant message in 'streaming' status (e.g. a regeneration). */
  createStreamingWriter(messageId: string, options?: StreamingWriterOptions): StreamingMessageWriter;
  recoverInterrupted(): MessageRow[];
  snapshot(sessionId: string): SessionSnapshot;
  exportSession(sessionId: string, format: ExportFormat, options?: ExportOptions): string;
  close(): void;
}

export function openStore(options: OpenStoreOptions = {}): Store {
  const dataDir = resolveDataDir(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const filePath = path.join(dataDir, options.fileName ?? DEFAULT_DB_FILE_NAME);
  const { db, migration } = openDatabase(filePath);

  const sessions = new SessionRepository(db);
  const messages = new MessageRepository(db);
  const documents = new DocumentRepository(db);

  const snapshot = (sessionId: string): SessionSnapshot => ({
    session: sessions.require(sessionId),
    messages: messages.listBySession(sessionId),
    documents: documents.listBySession(sessionId),
  });

  const recoverInterrupted = (): MessageRow[] => recoverInterruptedMessages(db);

  return {
    dataDir,
    filePath,
    db,
    migration,
    recovered: options.recoverInterrupted === false ? [] : recoverInterrupted(),
    sessions,
    messages,
    documents,
    settings: new SettingsRepository(db),
    modelProfiles: new ModelProfileRepository(db),
    prefillSamples: new PrefillSampleRepository(db),
    beginTurn(input, writerOptions) {
      const turn = beginTurn(db, input);
      return { ...turn, writer: new StreamingMessageWriter(db, turn.assistantMessage.id, writerOptions) };
    },
    createStreamingWriter(messageId, writerOptions) {
      return new StreamingMessageWriter(db, messageId, writerOptions);
    },
    recoverInterrupted,
    snapshot,
    exportSession(sessionId, format, exportOptions) {
      const data = snapshot(sessionId);
      switch (format) {
        case 'markdown':
          return sessionToMarkdown(data, exportOptions);
        case 'json':
          return sessionToJson(data, exportOptions);
        default:
          throw new StoreError('INVALID', `Unknown export format: ${String(format)}`);
      }
    },
    close() {
      if (db.open) db.close();
    },
  };
}
