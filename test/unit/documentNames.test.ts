// A dropped file's name becomes a file in a private temp folder before it is read: whatever the
// name, it must stay one plain file there, fit the file system, keep its extension (the format
// may depend on it) and show as written, without characters that disguise it.
import { describe, expect, it } from 'vitest';
import { safeFileName } from '../../src-main/session/documentAttach.js';

describe('names of dropped documents', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\report.pdf', 'report.pdf'],
    ['ctl\u0000\u001f\u007f.txt', 'ctl___.txt'],
    ['a:b*c?"d"<e>|f.md', 'a_b_c__d__e__f.md'],
    ['.', 'document.txt'],
    ['..', 'document.txt'],
    ['   ', 'document.txt'],
    ['trailing. ', 'trailing'],
    ['report.final.pdf', 'report.final.pdf'],
    ['.bashrc', '.bashrc'],
  ])('%j becomes %j', (name, safe) => {
    expect(safeFileName(name)).toBe(safe);
  });

  it('drops bidirectional controls that would show "txt.png" for a .txt', () => {
    expect(safeFileName('\u202Egnp.txt')).toBe('gnp.txt');
    expect(safeFileName('a\u2066b\u2069\u200E.pdf')).toBe('ab.pdf');
  });

  it('shortens long names to 200 UTF-8 bytes, keeping the extension', () => {
    for (const name of ['港'.repeat(255), `${'港'.repeat(200)}.md`, `${'😀'.repeat(100)}.txt`, `${'x'.repeat(255)}.docx`]) {
      const safe = safeFileName(name);
      expect(Buffer.byteLength(safe)).toBeLessThanOrEqual(200);
      expect(safe.endsWith(name.includes('.') ? name.slice(name.lastIndexOf('.')) : '…')).toBe(true);
    }
  });
});
