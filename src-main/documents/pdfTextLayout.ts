// Rebuilds lines from pdf.js text items. Items come in content-stream order, which for almost all
// PDFs is reading order; what needs care is where to put spaces and line breaks between them.

/** The parts of a pdf.js TextItem this module reads. */
export interface PositionedText {
  str: string;
  hasEOL: boolean;
  /** [a, b, c, d, x, y] text matrix; x and y are the item's origin. */
  transform: number[];
  width: number;
  height: number;
}

export function joinTextItems(items: readonly PositionedText[]): string {
  let text = '';
  let previous: PositionedText | null = null;
  for (const item of items) {
    if (previous && !previous.hasEOL && item.str !== '') {
      if (!onSameLine(previous, item)) text += '\n';
      else if (needsSpaceBetween(previous, item, text)) text += ' ';
    }
    text += item.str;
    if (item.hasEOL) text += '\n';
    if (item.str !== '' || item.hasEOL) previous = item;
  }
  return text;
}

function onSameLine(previous: PositionedText, item: PositionedText): boolean {
  const lineHeight = Math.max(previous.height, item.height, 1);
  return Math.abs(y(previous) - y(item)) < lineHeight * 0.5;
}

/** pdf.js emits most spaces as items of their own; add one only for a visible gap it left. */
function needsSpaceBetween(previous: PositionedText, item: PositionedText, textSoFar: string): boolean {
  if (/\s$/.test(textSoFar) || /^\s/.test(item.str)) return false;
  const gap = x(item) - (x(previous) + previous.width);
  return gap > Math.max(previous.height, item.height, 1) * 0.15;
}

const x = (item: PositionedText): number => item.transform[4] ?? 0;
const y = (item: PositionedText): number => item.transform[5] ?? 0;
