// Word documents via mammoth's raw-text mode: paragraphs become blank-line separated text.
// A document may name files and URLs outside itself (linked images, subdocuments); none is ever
// read or fetched (mammoth refuses external files unless externalFileAccess is set, which its
// raw-text path never does; documents.test.ts checks it), so a .docx reaches no disk or network.
import mammoth from 'mammoth';
import { DocumentError } from './errors.js';
import { normalizeExtractedText } from './textCleanup.js';
import type { FormatText } from './types.js';

const MAX_WARNINGS = 5;

export async function extractDocx(bytes: Buffer, fileName: string): Promise<FormatText> {
  let result: Awaited<ReturnType<typeof mammoth.extractRawText>>;
  try {
    result = await mammoth.extractRawText({ buffer: bytes });
  } catch (error) {
    // mammoth walks the XML tree recursively: a hostile nesting depth ends in a stack overflow
    if (error instanceof RangeError) {
      throw new DocumentError(
        'CORRUPT',
        `"${fileName}" could not be read: its structure is nested too deeply to read safely. Save it again from Word, or export it as PDF.`,
        { cause: error },
      );
    }
    throw new DocumentError(
      'CORRUPT',
      `"${fileName}" could not be read as a Word document: the file is damaged or not really a .docx.`,
      { cause: error },
    );
  }
  const messages = [...new Set(result.messages.map((message) => message.message))];
  const warnings = messages.slice(0, MAX_WARNINGS);
  if (messages.length > MAX_WARNINGS) warnings.push(`…and ${messages.length - MAX_WARNINGS} more conversion notes.`);
  return { text: normalizeExtractedText(result.value), warnings };
}
