// Public surface of the documents module.
export { extractDocument, DEFAULT_MAX_BYTES, DEFAULT_MAX_CHARS } from './extract.js';
export { readDocument, DEFAULT_READER_LIMITS, type ReaderLimits } from './documentReader.js';
export { DocumentError } from './errors.js';
export type { DocumentErrorCode } from './errors.js';
export type { ExtractedDocument, ExtractOptions, DocumentFormat } from './types.js';
export { htmlToText, htmlDocumentToText } from './html.js';
export { pageHeading } from './pdf.js';
