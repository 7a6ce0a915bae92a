import { describe, expect, it } from 'vitest';
import { joinTextItems, type PositionedText } from '../../src-main/documents/pdfTextLayout.js';

const item = (str: string, x: number, y: number, width: number, hasEOL = false): PositionedText => ({
  str,
  hasEOL,
  transform: [12, 0, 0, 12, x, y],
  width,
  height: 12,
});

describe('joinTextItems', () => {
  it('follows hasEOL line breaks', () => {
    expect(joinTextItems([item('First line', 72, 720, 60, true), item('Second line', 72, 702, 64)])).toBe(
      'First line\nSecond line',
    );
  });

  it('starts a new line when the baseline moves even without hasEOL', () => {
    expect(joinTextItems([item('Heading', 72, 720, 50), item('Body', 72, 690, 30)])).toBe('Heading\nBody');
  });

  it('inserts a space for a visible gap on the same line, and none for touching items', () => {
    expect(joinTextItems([item('Total:', 72, 700, 36), item('42', 120, 700, 12)])).toBe('Total: 42');
    expect(joinTextItems([item('Hyph', 72, 700, 24), item('enated', 96, 700, 36)])).toBe('Hyphenated');
  });

  it('does not double spaces pdf.js already emitted', () => {
    expect(joinTextItems([item('word', 72, 700, 24), item(' ', 96, 700, 3), item('next', 110, 700, 24)])).toBe(
      'word next',
    );
  });

  it('treats empty end-of-line items as line breaks', () => {
    expect(joinTextItems([item('a', 72, 700, 6), item('', 78, 700, 0, true), item('b', 72, 680, 6)])).toBe('a\nb');
  });
});
