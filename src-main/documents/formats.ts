// Which extractor reads a file: magic bytes first (a PDF renamed .txt is still a PDF), then the
// extension, then a content sniff for unknown extensions.
import path from 'node:path';
import { DocumentError } from './errors.js';
import type { DocumentFormat } from './types.js';

export interface FormatChoice {
  format: DocumentFormat;
  mime: string;
}

const DOCX_MIME = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

const TEXT_MIMES: Record<string, string> = {
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.mdx': 'text/markdown',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.json': 'application/json',
  '.jsonl': 'application/jsonl',
  '.ndjson': 'application/jsonl',
  '.xml': 'application/xml',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
};

/** Read as UTF-8 text. Prose and data formats, then common source code. */
const TEXT_EXTENSIONS = new Set([
  '.txt', '.text', '.md', '.markdown', '.mdx', '.rst', '.adoc', '.org', '.tex', '.log',
  '.csv', '.tsv', '.json', '.jsonl', '.ndjson', '.xml', '.yaml', '.yml', '.toml', '.ini', '.cfg',
  '.conf', '.properties', '.env', '.srt', '.vtt', '.ipynb',
  '.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx', '.py', '.pyi', '.rb', '.go',
  '.rs', '.java', '.kt', '.kts', '.scala', '.swift', '.c', '.h', '.cc', '.cpp', '.cxx', '.hpp',
  '.hh', '.cs', '.fs', '.php', '.pl', '.pm', '.lua', '.r', '.jl', '.sh', '.bash', '.zsh',
  '.fish', '.ps1', '.bat', '.cmd', '.sql', '.css', '.scss', '.sass', '.less', '.vue', '.svelte',
  '.dart', '.ex', '.exs', '.erl', '.hs', '.ml', '.clj', '.el', '.vim', '.gradle', '.cmake',
  '.mk', '.proto', '.graphql', '.tf', '.nix', '.zig', '.m', '.mm', '.diff', '.patch',
]);

const HTML_EXTENSIONS = new Set(['.html', '.htm', '.xhtml']);

/** Formats people often try, with what to do instead. */
const UNSUPPORTED_HINTS: Record<string, string> = {
  '.doc': 'This is the old Word format; save it as .docx in Word or LibreOffice and add that.',
  '.rtf': 'Save it as .docx or plain text and add that.',
  '.odt': 'Save it as .docx in LibreOffice and add that.',
  '.pages': 'Export it from Pages as .docx or PDF and add that.',
  '.xls': 'Spreadsheets are not supported; export the sheet as CSV and add that.',
  '.xlsx': 'Spreadsheets are not supported; export the sheet as CSV and add that.',
  '.ods': 'Spreadsheets are not supported; export the sheet as CSV and add that.',
  '.ppt': 'Presentations are not supported; export the slides as PDF and add that.',
  '.pptx': 'Presentations are not supported; export the slides as PDF and add that.',
  '.epub': 'E-books are not supported; convert it to PDF or text first.',
};

const IMAGE_HINT = 'Images have no text layer; run them through OCR first and add the text.';

export function chooseFormat(filePath: string, bytes: Uint8Array): FormatChoice {
  const fileName = path.basename(filePath);
  const extension = path.extname(filePath).toLowerCase();

  if (hasPdfSignature(bytes)) return { format: 'pdf', mime: 'application/pdf' };
  if (startsWithBytes(bytes, [0x50, 0x4b, 0x03, 0x04])) return chooseZipFormat(fileName, extension, bytes);
  if (startsWithBytes(bytes, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
    // Office wraps password-protected .docx files in this (OLE) container.
    if (extension === '.docx') {
      throw new DocumentError(
        'ENCRYPTED',
        `"${fileName}" is a password-protected Word document. Save an unprotected copy and add that.`,
      );
    }
    throw unsupported(fileName, UNSUPPORTED_HINTS[extension] ?? UNSUPPORTED_HINTS['.doc'] ?? '');
  }
  if (isImage(bytes)) throw unsupported(fileName, IMAGE_HINT);

  if (extension === '.pdf') {
    throw new DocumentError('CORRUPT', `"${fileName}" is named .pdf but does not contain a PDF.`);
  }
  if (extension === '.docx') {
    throw new DocumentError('CORRUPT', `"${fileName}" is named .docx but is not a Word document.`);
  }
  const hint = UNSUPPORTED_HINTS[extension];
  if (hint) throw unsupported(fileName, hint);
  if (HTML_EXTENSIONS.has(extension)) return { format: 'html', mime: 'text/html' };
  if (TEXT_EXTENSIONS.has(extension)) return { format: 'text', mime: TEXT_MIMES[extension] ?? 'text/plain' };
  // Unknown or missing extension (README, Makefile, .xyz): let the content decide. The text
  // extractor still refuses binary content.
  if (looksLikeHtml(bytes)) return { format: 'html', mime: 'text/html' };
  return { format: 'text', mime: 'text/plain' };
}

function chooseZipFormat(fileName: string, extension: string, bytes: Uint8Array): FormatChoice {
  // Zip local headers store entry names in plain text, so a .docx shows its main part's name.
  if (extension === '.docx' || containsAscii(bytes, 'word/document.xml')) {
    return { format: 'docx', mime: DOCX_MIME };
  }
  throw unsupported(
    fileName,
    UNSUPPORTED_HINTS[extension] ?? 'It is a zip archive; extract it and add the documents inside.',
  );
}

/** The PDF spec allows junk before the header; readers look in the first kilobyte. */
function hasPdfSignature(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024));
  return head.includes('%PDF-', 0, 'latin1');
}

function isImage(bytes: Uint8Array): boolean {
  return (
    startsWithBytes(bytes, [0x89, 0x50, 0x4e, 0x47]) || // PNG
    startsWithBytes(bytes, [0xff, 0xd8, 0xff]) || // JPEG
    startsWithBytes(bytes, [0x47, 0x49, 0x46, 0x38]) || // GIF
    startsWithBytes(bytes, [0x49, 0x49, 0x2a, 0x00]) || // TIFF (little-endian)
    startsWithBytes(bytes, [0x4d, 0x4d, 0x00, 0x2a]) || // TIFF (big-endian)
    (containsAsciiAt(bytes, 'RIFF', 0) && containsAsciiAt(bytes, 'WEBP', 8))
  );
}

function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 512))
    .toString('utf8')
    .replace(/^\ufeff/, '')
    .trimStart()
    .toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html');
}

function unsupported(fileName: string, hint: string): DocumentError {
  return new DocumentError('UNSUPPORTED_TYPE', `Sift cannot read "${fileName}". ${hint}`);
}

function startsWithBytes(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

function containsAscii(bytes: Uint8Array, text: string): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).includes(text, 0, 'latin1');
}

function containsAsciiAt(bytes: Uint8Array, text: string, offset: number): boolean {
  return [...text].every((char, index) => bytes[offset + index] === char.charCodeAt(0));
}
