// Text-like files (prose, data, source code) read as they are.
import { DocumentError } from './errors.js';
import { decodeTextBytes } from './textDecoding.js';
import { normalizeExtractedText } from './textCleanup.js';
import type { FormatText } from './types.js';

export function extractPlainText(bytes: Uint8Array, fileName: string): FormatText {
  const decoded = decodeTextBytes(bytes);
  if (!decoded) throw binaryFileError(fileName);
  return { text: normalizeExtractedText(decoded.text), warnings: decoded.warnings };
}

export function binaryFileError(fileName: string): DocumentError {
  return new DocumentError(
    'UNSUPPORTED_TYPE',
    `"${fileName}" looks like a binary file, not text. Sift reads PDF, Word (.docx), HTML and text files.`,
  );
}
