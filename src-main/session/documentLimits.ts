// How long a document Sift accepts, decided before it is stored or tokenized: tokenizing a
// runaway file takes a minute and a gigabyte before any check on tokens could refuse it.

/**
 * 256k tokens: about four 100-page PDFs, and hours of prefill on a laptop CPU. Longer text is
 * almost always a mistake (a log, a dump) rather than something to ask questions about.
 */
export const DEFAULT_MAX_DOCUMENT_TOKENS = 262_144;

/** English prose runs about 4 characters a token in the tokenizers of small local models. */
export const CHARS_PER_TOKEN_ESTIMATE = 4;

/** The limit in force: SIFT_MAX_DOCUMENT_TOKENS when it is a positive integer, else the default. */
export function maxDocumentTokens(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['SIFT_MAX_DOCUMENT_TOKENS'];
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_MAX_DOCUMENT_TOKENS;
}

/** Largest file read, checked by size before reading: SIFT_MAX_DOCUMENT_MB when a positive integer, else 64 MiB. */
export function maxDocumentBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['SIFT_MAX_DOCUMENT_MB'];
  const value = raw === undefined ? NaN : Number(raw);
  return (Number.isInteger(value) && value > 0 ? value : 64) * 1024 * 1024;
}

/** Characters to extract at most: past this the document is refused, not cut. */
export function maxDocumentChars(maxTokens: number): number {
  return maxTokens * CHARS_PER_TOKEN_ESTIMATE;
}

export function documentTooLongMessage(name: string, maxTokens: number): string {
  return (
    `"${name}" is longer than about ${maxTokens.toLocaleString('en-US')} tokens (more than ` +
    `${maxDocumentChars(maxTokens).toLocaleString('en-US')} characters of text), the longest document Sift reads. ` +
    'Split it into parts, or raise the limit with SIFT_MAX_DOCUMENT_TOKENS.'
  );
}
