import { describe, expect, it } from 'vitest';
import { normalizeExtractedText, truncateText } from '../../src-main/documents/textCleanup.js';
import { decodeTextBytes } from '../../src-main/documents/textDecoding.js';

describe('decodeTextBytes', () => {
  it('reads UTF-8, dropping a byte-order mark', () => {
    expect(decodeTextBytes(Buffer.from('\ufeffhéllo', 'utf8'))).toEqual({ text: 'héllo', encoding: 'utf-8', warnings: [] });
  });

  it('reads UTF-16 files marked by a byte-order mark despite their NUL bytes', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hi there', 'utf16le')]);
    expect(decodeTextBytes(utf16)?.text).toBe('hi there');
    const bigEndian = Buffer.from([0xfe, 0xff, 0x00, 0x68, 0x00, 0x69]);
    expect(decodeTextBytes(bigEndian)?.text).toBe('hi');
  });

  it('refuses bytes containing NUL', () => {
    expect(decodeTextBytes(Buffer.from([0x68, 0x00, 0x69]))).toBeNull();
  });

  it('falls back to Windows-1252 for invalid UTF-8, with a warning', () => {
    const decoded = decodeTextBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x80]));
    expect(decoded?.text).toBe('café €');
    expect(decoded?.encoding).toBe('windows-1252');
    expect(decoded?.warnings[0]).toMatch(/not valid UTF-8/);
  });

  it('refuses control-character soup that is not valid UTF-8', () => {
    expect(decodeTextBytes(Buffer.from([0x01, 0x02, 0x03, 0xff, 0x04, 0x05, 0x06, 0x07]))).toBeNull();
  });
});

describe('normalizeExtractedText', () => {
  it('unifies line endings, trims line ends and collapses blank runs', () => {
    expect(normalizeExtractedText('\n\nA  \r\nB\rC\n\n\n\n\nD \t\n\n')).toBe('A\nB\nC\n\nD');
  });

  it('keeps leading indentation', () => {
    expect(normalizeExtractedText('def f():\n    return 1\n')).toBe('def f():\n    return 1');
  });
});

describe('truncateText', () => {
  it('cuts to the limit without splitting a surrogate pair', () => {
    expect(truncateText('abcdef', 10)).toEqual({ text: 'abcdef', truncated: false });
    expect(truncateText('abcdef', 3)).toEqual({ text: 'abc', truncated: true });
    expect(truncateText('ab😀cd', 3)).toEqual({ text: 'ab', truncated: true });
  });
});
