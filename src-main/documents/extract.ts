// Entry point: a file on disk to text ready for question answering, or a DocumentError that says
// what went wrong in words a user can act on.
import { formatBytes } from '../../src-common/format.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { extractDocx } from './docx.js';
import { DocumentError } from './errors.js';
import { chooseFormat } from './formats.js';
import { extractHtml } from './html.js';
import { extractPdf } from './pdf.js';
import { extractPlainText } from './plainText.js';
import { truncateText } from './textCleanup.js';
import type { DocumentFormat, ExtractedDocument, ExtractOptions, FormatText } from './types.js';

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** About two million tokens: more than any local model's context, so it only stops runaway files. */
export const DEFAULT_MAX_CHARS = 8_000_000;

export async function extractDocument(filePath: string, options: ExtractOptions = {}): Promise<ExtractedDocument> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  const name = path.basename(filePath);

  const sizeBytes = await statFileSize(filePath, name);
  if (sizeBytes > maxBytes) {
    throw new DocumentError(
      'TOO_LARGE',
      `"${name}" is ${formatBytes(sizeBytes)}; the largest file Sift reads is ${formatBytes(maxBytes)} ` +
        '(SIFT_MAX_DOCUMENT_MB raises it).',
    );
  }
  if (sizeBytes === 0) throw new DocumentError('EMPTY_DOCUMENT', `"${name}" is empty.`);

  const bytes = await readFileBytes(filePath, name);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { format, mime } = chooseFormat(filePath, bytes);
  const extracted = await extractByFormat(format, bytes, name, maxChars);

  if (extracted.text.trim() === '') {
    throw new DocumentError('EMPTY_DOCUMENT', `"${name}" contains no text.`);
  }
  const warnings = [...extracted.warnings];
  const { text, truncated } = truncateText(extracted.text, maxChars);
  if (truncated) {
    warnings.push(`Only the first ${maxChars.toLocaleString('en-US')} characters were kept; the rest of the document was cut.`);
  }
  return {
    name,
    mime,
    sizeBytes,
    sha256,
    text,
    ...(extracted.pageCount === undefined ? {} : { pageCount: extracted.pageCount }),
    warnings,
    truncated,
  };
}

function extractByFormat(format: DocumentFormat, bytes: Buffer, name: string, maxChars: number): Promise<FormatText> {
  switch (format) {
    case 'pdf':
      return extractPdf(bytes, name, maxChars);
    case 'docx':
      return extractDocx(bytes, name);
    case 'html':
      return Promise.resolve(extractHtml(bytes, name));
    case 'text':
      return Promise.resolve(extractPlainText(bytes, name));
  }
}

/** Size comes from stat, before reading, so an oversized file is refused without loading it. */
async function statFileSize(filePath: string, name: string): Promise<number> {
  let stats;
  try {
    stats = await fs.stat(filePath);
  } catch (error) {
    throw fileSystemError(error, filePath, name);
  }
  if (stats.isDirectory()) throw new DocumentError('UNREADABLE', `"${name}" is a folder, not a file.`);
  if (!stats.isFile()) throw new DocumentError('UNREADABLE', `"${name}" is not a regular file.`);
  return stats.size;
}

async function readFileBytes(filePath: string, name: string): Promise<Buffer> {
  try {
    return await fs.readFile(filePath);
  } catch (error) {
    throw fileSystemError(error, filePath, name);
  }
}

function fileSystemError(error: unknown, filePath: string, name: string): DocumentError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new DocumentError('FILE_NOT_FOUND', `"${filePath}" does not exist (it may have been moved or deleted).`, {
      cause: error,
    });
  }
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'Sift does not have permission to read it'
      : code === 'EISDIR'
        ? 'it is a folder'
        : `the system reported ${code ?? 'an error'}`;
  return new DocumentError('UNREADABLE', `"${name}" could not be read: ${reason}.`, { cause: error });
}
