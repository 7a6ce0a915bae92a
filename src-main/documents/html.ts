// HTML to readable text without a DOM: drop what never renders as text (scripts, styles,
// comments, the head), turn block elements into line breaks, keep <pre> whitespace, and decode
// entities only after tags are gone so "&lt;b&gt;" stays text.
import { decodeHtmlEntities } from './htmlEntities.js';
import { binaryFileError } from './plainText.js';
import { normalizeExtractedText } from './textCleanup.js';
import { decodeTextBytes } from './textDecoding.js';
import type { FormatText } from './types.js';

/** Elements whose content is never body text (the title is read separately). */
const HIDDEN_ELEMENTS = ['title', 'script', 'style', 'noscript', 'template', 'svg', 'math', 'iframe', 'object', 'canvas', 'select'];

/** Elements that start a new paragraph. */
const PARAGRAPH_ELEMENTS = new Set([
  'p', 'div', 'section', 'article', 'main', 'aside', 'header', 'footer', 'nav', 'blockquote',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'dl', 'table', 'figure', 'figcaption',
  'form', 'fieldset', 'address', 'details', 'summary', 'pre', 'hr',
]);

/** Elements that start a new line. */
const LINE_ELEMENTS = new Set(['br', 'tr', 'dt', 'dd', 'caption', 'option', 'legend']);

const TAG_PATTERN = /<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

export function extractHtml(bytes: Uint8Array, fileName: string): FormatText {
  const decoded = decodeTextBytes(bytes);
  if (!decoded) throw binaryFileError(fileName);
  return { text: htmlDocumentToText(decoded.text), warnings: decoded.warnings };
}

/** The page's text, led by its <title> unless the page already starts with it. */
export function htmlDocumentToText(html: string): string {
  const title = extractTitle(html);
  const body = htmlToText(html);
  const text = title && !body.startsWith(title) ? `${title}\n\n${body}` : body;
  return normalizeExtractedText(text);
}

export function htmlToText(html: string): string {
  const visible = removeInvisibleParts(html);
  const output = new TextOutput();
  let preDepth = 0;
  let lastIndex = 0;
  for (const match of visible.matchAll(TAG_PATTERN)) {
    output.addText(visible.slice(lastIndex, match.index), preDepth > 0);
    lastIndex = match.index + match[0].length;
    const closing = match[1] === '/';
    const tag = (match[2] ?? '').toLowerCase();
    if (tag === 'pre') preDepth = Math.max(0, preDepth + (closing ? -1 : 1));
    handleTag(output, tag, closing);
  }
  output.addText(visible.slice(lastIndex), preDepth > 0);
  return output.toString();
}

function handleTag(output: TextOutput, tag: string, closing: boolean): void {
  if (PARAGRAPH_ELEMENTS.has(tag)) output.breakLines(2);
  else if (LINE_ELEMENTS.has(tag)) output.breakLines(1);
  else if (tag === 'li' && !closing) output.startListItem();
  else if (tag === 'li') output.breakLines(1);
  else if ((tag === 'td' || tag === 'th') && closing) output.addCellSeparator();
  else if (tag === 'img' || tag === 'input') output.addSpace();
}

function removeInvisibleParts(html: string): string {
  let result = html
    .replace(/<!--[\s\S]*?(?:-->|$)/g, ' ')
    .replace(/<!\[CDATA\[[\s\S]*?(?:\]\]>|$)/g, ' ')
    .replace(/<!doctype[^>]*>/gi, ' ')
    .replace(/<\?[\s\S]*?\?>/g, ' ')
    .replace(/<head\b[\s\S]*?(?:<\/head\s*>|(?=<body\b)|$)/gi, ' ');
  for (const element of HIDDEN_ELEMENTS) {
    // An unclosed <script> hides everything after it, as it would in a browser.
    result = result.replace(new RegExp(`<${element}\\b[\\s\\S]*?(?:<\\/${element}\\s*>|$)`, 'gi'), ' ');
  }
  return result;
}

function extractTitle(html: string): string {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  return match?.[1] ? decodeHtmlEntities(match[1]).replace(/\s+/g, ' ').trim() : '';
}

/** Accumulates text while tracking line starts, so whitespace collapses the way a browser's does. */
class TextOutput {
  private readonly parts: string[] = [];
  private trailingNewlines = 2; // the start of the document counts as a fresh paragraph
  /** What separates the next text from the previous text on the same line. */
  private gap: '' | ' ' | ' | ' = '';
  private endsWithSpace = false;

  addText(raw: string, preformatted: boolean): void {
    if (raw === '') return;
    if (preformatted) {
      this.pushAfterGap(decodeHtmlEntities(raw));
      return;
    }
    const collapsed = decodeHtmlEntities(raw.replace(/[ \t\n\r\f]+/g, ' ')).replace(/\u00a0/g, ' ');
    const words = collapsed.trim();
    if (collapsed.startsWith(' ')) this.addSpace();
    if (words === '') return;
    this.pushAfterGap(words);
    if (collapsed.endsWith(' ')) this.addSpace();
  }

  addSpace(): void {
    if (this.gap === '') this.gap = ' ';
  }

  addCellSeparator(): void {
    this.gap = ' | ';
  }

  breakLines(count: 1 | 2): void {
    this.gap = '';
    while (this.trailingNewlines < count) this.push('\n');
  }

  startListItem(): void {
    this.breakLines(1);
    this.push('- ');
  }

  toString(): string {
    return this.parts
      .join('')
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n')
      .trim();
  }

  private pushAfterGap(text: string): void {
    const redundantSpace = this.gap === ' ' && this.endsWithSpace;
    if (this.trailingNewlines === 0 && !redundantSpace) this.push(this.gap);
    this.gap = '';
    this.push(text);
  }

  private push(text: string): void {
    if (text === '') return;
    this.parts.push(text);
    this.endsWithSpace = text.endsWith(' ');
    const trailing = /\n*$/.exec(text)?.[0].length ?? 0;
    this.trailingNewlines = trailing === text.length ? this.trailingNewlines + trailing : trailing;
  }
}
