// Extraction failures with a stable code for the app and a message written for the user.
export type DocumentErrorCode =
  | 'FILE_NOT_FOUND'
  | 'UNREADABLE'
  | 'TOO_LARGE'
  | 'UNSUPPORTED_TYPE'
  /** The file opened but holds no text (e.g. a scanned PDF, which needs OCR). */
  | 'EMPTY_DOCUMENT'
  | 'CORRUPT'
  | 'ENCRYPTED';

export class DocumentError extends Error {
  constructor(
    readonly code: DocumentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DocumentError';
  }
}
