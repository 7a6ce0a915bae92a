// A document dropped in the renderer arrives as bytes (a browser has no file paths). The documents
// module reads files, so the bytes go through a private temp file under the original name.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DocumentError, readDocument } from '../documents/index.js';
import type { Store } from '../store/index.js';
import type { DocumentSummary } from '../../src-common/contract.js';
import { documentTooLongMessage, maxDocumentBytes, maxDocumentChars, maxDocumentTokens } from './documentLimits.js';

export interface AttachInput {
  sessionId: string;
  name: string;
  bytes: Buffer;
}

/** File names are at most 255 bytes on common file systems; this leaves room for the temp folder. */
const MAX_NAME_BYTES = 200;
/** Invisible characters that reorder or hide text: "\u202Egnp.txt" would show as "txt.png". */
const BIDI_CONTROLS = /[\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** A name that is one plain file inside the temp folder, readable as shown, its extension kept. */
export function safeFileName(name: string): string {
  // control characters and path separators cannot be part of a file name on every platform
  const cleaned = Array.from(path.basename(name.replaceAll('\\', '/')).replace(BIDI_CONTROLS, ''), (ch) => {
    const code = ch.charCodeAt(0);
    return code < 32 || (code >= 0x7f && code < 0xa0) || ':*?"<>|'.includes(ch) ? '_' : ch;
  })
    .join('')
    .trim()
    .replace(/[. ]+$/, ''); // Windows drops trailing dots and spaces; '.' and '..' name folders
  if (!cleaned || /^\.+$/.test(cleaned)) return 'document.txt';
  return fitBytes(cleaned, MAX_NAME_BYTES);
}

/** Shortens the stem, never the extension, until the UTF-8 name fits. */
function fitBytes(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const extension = path.extname(name).slice(0, 16);
  let stem = Array.from(name.slice(0, name.length - path.extname(name).length));
  while (stem.length > 1 && Buffer.byteLength(stem.join('') + '…' + extension) > maxBytes) stem = stem.slice(0, -1);
  return `${stem.join('')}…${extension}`;
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
  const extracted = await readDocument(filePath, { maxChars: maxDocumentChars(maxTokens), maxBytes: maxDocumentBytes() });
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
