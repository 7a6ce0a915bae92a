// PDF text via pdf.js (legacy build: the one meant for Node). Each page's text is prefixed with a
// "--- Page N ---" line so answers can cite pages.
import { getDocument, InvalidPDFException } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { DocumentError } from './errors.js';
import { joinTextItems, type PositionedText } from './pdfTextLayout.js';
import { normalizeExtractedText } from './textCleanup.js';
import type { FormatText } from './types.js';

export const pageHeading = (pageNumber: number): string => `--- Page ${pageNumber} ---`;

/** Kept in place of an empty page so page numbers in the text stay meaningful. */
export const EMPTY_PAGE_NOTE = '[no extractable text on this page]';

export async function extractPdf(bytes: Uint8Array, fileName: string, maxChars: number): Promise<FormatText> {
  const loadingTask = getDocument({
    // pdf.js may detach the buffer it is given, so it gets its own copy.
    data: new Uint8Array(bytes),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
  });
  try {
    const pdf = await loadingTask.promise.catch((error: unknown) => {
      throw toDocumentError(error, fileName);
    });
    const pageTexts: string[] = [];
    const warnings: string[] = [];
    const pagesWithoutText: number[] = [];
    let length = 0;
    for (let pageNumber = 1; pageNumber <= pdf.numPages; pageNumber += 1) {
      if (length > maxChars) {
        warnings.push(`Stopped reading at page ${pageNumber - 1} of ${pdf.numPages}: the text limit was reached.`);
        break;
      }
      const text = await readPageText(pdf, pageNumber).catch(() => {
        warnings.push(`Page ${pageNumber} could not be read and was skipped.`);
        return '';
      });
      if (text === '') pagesWithoutText.push(pageNumber);
      const section = `${pageHeading(pageNumber)}\n${text || EMPTY_PAGE_NOTE}`;
      pageTexts.push(section);
      length += section.length + 2;
    }
    if (pagesWithoutText.length === pdf.numPages) {
      throw new DocumentError(
        'EMPTY_DOCUMENT',
        `"${fileName}" has no text that can be extracted: its ${pagesAre(pdf.numPages)} probably ` +
          'scanned images. Run it through OCR (for example ocrmypdf) and add the result.',
      );
    }
    if (pagesWithoutText.length > 0) {
      warnings.push(
        `${pagesWithoutText.length === 1 ? 'Page' : 'Pages'} ${pagesWithoutText.join(', ')} ` +
          'had no extractable text (possibly scanned images); their content is missing.',
      );
    }
    return { text: pageTexts.join('\n\n'), pageCount: pdf.numPages, warnings };
  } finally {
    await loadingTask.destroy();
  }
}

async function readPageText(
  pdf: Awaited<ReturnType<typeof getDocument>['promise']>,
  pageNumber: number,
): Promise<string> {
  const page = await pdf.getPage(pageNumber);
  try {
    const content = await page.getTextContent();
    const items = content.items.filter((item): item is PositionedText & typeof item => 'str' in item);
    return normalizeExtractedText(joinTextItems(items));
  } finally {
    page.cleanup();
  }
}

function toDocumentError(error: unknown, fileName: string): DocumentError {
  if (error instanceof Error && error.name === 'PasswordException') {
    return new DocumentError(
      'ENCRYPTED',
      `"${fileName}" is password-protected. Open it in a PDF reader, save an unprotected copy, and add that.`,
      { cause: error },
    );
  }
  const detail = error instanceof InvalidPDFException ? '' : ` (${error instanceof Error ? error.message : String(error)})`;
  return new DocumentError(
    'CORRUPT',
    `"${fileName}" could not be read as a PDF: the file is damaged or incomplete${detail}.`,
    { cause: error },
  );
}

function pagesAre(count: number): string {
  return count === 1 ? 'single page is' : `${count} pages are`;
}
