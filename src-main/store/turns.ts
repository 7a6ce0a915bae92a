// A turn starts with two rows: the user's question and an empty assistant answer in 'streaming'.
// They are written in one transaction so the history never holds a question without its answer
// slot (or the reverse).
import type Database from 'better-sqlite3';
import { MessageRepository } from './messages.js';
import type { MessageRow } from '../../src-common/storeTypes.js';

export interface BeginTurnInput {
  sessionId: string;
  userContent: string;
  documentIds?: string[];
}

export interface BegunTurn {
  userMessage: MessageRow;
  assistantMessage: MessageRow;
}

export function beginTurn(db: Database.Database, input: BeginTurnInput): BegunTurn {
  const messages = new MessageRepository(db);
  return db.transaction(() => {
    const userMessage = messages.insert({
      sessionId: input.sessionId,
      role: 'user',
      content: input.userContent,
      documentIds: input.documentIds ?? [],
    });
    const assistantMessage = messages.insert({
      sessionId: input.sessionId,
      role: 'assistant',
      content: '',
      status: 'streaming',
    });
    return { userMessage, assistantMessage };
  })();
}
