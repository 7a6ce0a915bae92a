export interface ExtractedDocument {
  /** File name without its folder, as shown to the user. */
  name: string;
  mime: string;
  sizeBytes: number;
  /** Hex sha256 of the file's bytes, to recognize the same file attached twice. */
  sha256: string;
  text: string;
  /** PDFs only. */
  pageCount?: number;
  /** Things the user may want to know: skipped pages, replaced characters, truncation. */
  warnings: string[];
  /** The text was cut at maxChars (a caller with a hard limit refuses such a document). */
  truncated: boolean;
}

export interface ExtractOptions {
  /** Largest file accepted, checked before reading. Default 64 MiB. */
  maxBytes?: number;
  /** Longer text is cut to this many characters, with a warning. Default 8,000,000. */
  maxChars?: number;
}

/** What a format module hands back to the dispatcher. */
export interface FormatText {
  text: string;
  pageCount?: number;
  warnings: string[];
}

export type DocumentFormat = 'pdf' | 'docx' | 'html' | 'text';
