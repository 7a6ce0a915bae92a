// A document dropped in the renderer arrives as bytes (a browser has no file paths). The documents
// module reads files, so the bytes go through a private temp file under the original name.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DocumentError, readDocument } from '../documents/index.js';
import type { Store } from '../store/index.js';
import type { DocumentSummary } from '../../src-common/contract.js';
import { documentTooLongMessage, maxDocumentChars, maxDocumentTokens } from './documentLimits.js';

export interface AttachInput {
  sessionId: string;
  name: string;
  bytes: Buffer;
}

function safeFileName(name: string): string {
  // control characters and path separators cannot be part of a file name on every platform
  const base = Array.from(path.basename(name), (ch) => (ch.charCodeAt(0) < 32 || '\\/:*?"<>|'.includes(ch) ? '_' : ch))
    .join('')
    .trim();
  return base || 'document.txt';
}

export async function attachDocument(store: Store, input: AttachInput): Promise<DocumentSummary> {
  store.sessions.require(input.sessionId);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sift-attach-'));
  try {
    const filePath = path.join(dir, safeFileName(input.name));
    await writeFile(filePath, input.bytes, { mode: 0o600 });
    return await attachDocumentFile(store, input.sessionId, filePath);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Extracts a file's text and stores it with the session (once per distinct content). */
export async function attachDocumentFile(store: Store, sessionId: string, filePath: string): Promise<DocumentSummary> {
  store.sessions.require(sessionId);
  const maxTokens = maxDocumentTokens();
  // extraction stops at the limit, so a runaway file costs one read, not a tokenization; it runs
  // in a worker thread, so a parser's failure or appetite cannot take the app down
  const extracted = await readDocument(filePath, { maxChars: maxDocumentChars(maxTokens) });
  if (extracted.truncated) throw new DocumentError('TOO_LARGE', documentTooLongMessage(extracted.name, maxTokens));
  const existing = store.documents.findByHash(sessionId, extracted.sha256);
  const row =
    existing ??
    store.documents.add({
      sessionId,
      name: extracted.name,
      mime: extracted.mime,
      sizeBytes: extracted.sizeBytes,
      sha256: extracted.sha256,
      text: extracted.text,
    });
  const { text: _text, ...summary } = row;
  return summary;
}
