import { describe, expect, it } from 'vitest';
import { DocumentError } from '../../src-main/documents/errors.js';
import { chooseFormat } from '../../src-main/documents/formats.js';
import { crc32 } from '../fixtures/documents/zipWriter.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof DocumentError) return error.code;
    throw error;
  }
  return undefined;
}

describe('chooseFormat', () => {
  it('trusts magic bytes over the extension', () => {
    expect(chooseFormat('renamed.txt', bytes('%PDF-1.7\n...'))).toEqual({ format: 'pdf', mime: 'application/pdf' });
    expect(chooseFormat('report', bytes('junk\n%PDF-1.4'))).toMatchObject({ format: 'pdf' });
    expect(chooseFormat('x.bin', bytes('PK\u0003\u0004....word/document.xml'))).toMatchObject({ format: 'docx' });
  });

  it('uses the extension for text, data and code files', () => {
    expect(chooseFormat('notes.md', bytes('# hi'))).toEqual({ format: 'text', mime: 'text/markdown' });
    expect(chooseFormat('data.CSV', bytes('a,b'))).toEqual({ format: 'text', mime: 'text/csv' });
    expect(chooseFormat('main.rs', bytes('fn main() {}'))).toEqual({ format: 'text', mime: 'text/plain' });
    expect(chooseFormat('page.htm', bytes('<p>x</p>'))).toEqual({ format: 'html', mime: 'text/html' });
  });

  it('sniffs HTML when the extension says nothing', () => {
    expect(chooseFormat('download', bytes('  <!DOCTYPE html><p>x</p>'))).toMatchObject({ format: 'html' });
    expect(chooseFormat('README', bytes('Just text'))).toMatchObject({ format: 'text' });
  });

  it('names formats it cannot read, with a way forward', () => {
    expect(errorCode(() => chooseFormat('old.doc', bytes('\u00d0\u00cf\u0011\u00e0\u00a1\u00b1\u001a\u00e1')))).toBe(
      'UNSUPPORTED_TYPE',
    );
    expect(errorCode(() => chooseFormat('scan.png', bytes('\u0089PNG\r\n')))).toBe('UNSUPPORTED_TYPE');
    expect(errorCode(() => chooseFormat('sheet.xlsx', bytes('PK\u0003\u0004xl/workbook.xml')))).toBe('UNSUPPORTED_TYPE');
    expect(errorCode(() => chooseFormat('archive.zip', bytes('PK\u0003\u0004a.txt')))).toBe('UNSUPPORTED_TYPE');
    expect(() => chooseFormat('old.doc', bytes('text'))).toThrow(/save it as \.docx/);
  });

  it('reports a .pdf or .docx whose content does not match as corrupt', () => {
    expect(errorCode(() => chooseFormat('fake.pdf', bytes('hello')))).toBe('CORRUPT');
    expect(errorCode(() => chooseFormat('fake.docx', bytes('hello')))).toBe('CORRUPT');
  });

  it('recognizes a password-protected .docx by its OLE container', () => {
    expect(errorCode(() => chooseFormat('secret.docx', bytes('\u00d0\u00cf\u0011\u00e0\u00a1\u00b1\u001a\u00e1')))).toBe(
      'ENCRYPTED',
    );
  });
});

describe('test zip writer', () => {
  it('computes the standard CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
