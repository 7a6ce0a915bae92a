import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DocumentError,
  extractDocument,
  type DocumentErrorCode,
  type ExtractedDocument,
} from '../../src-main/documents/index.js';
import { buildDocx, buildDocxBody, linkedPictureXml, paragraphXml } from '../fixtures/documents/docxBuilder.js';
import { buildPdf } from '../fixtures/documents/pdfBuilder.js';
import { buildZip } from '../fixtures/documents/zipWriter.js';

const fixturesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/documents');
let workDir = '';

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-documents-test-'));
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

function writeFixture(name: string, content: Buffer | string): string {
  const filePath = path.join(workDir, name);
  fs.writeFileSync(filePath, content);
  return filePath;
}

async function expectDocumentError(
  promise: Promise<ExtractedDocument>,
  code: DocumentErrorCode,
  message?: RegExp,
): Promise<DocumentError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a DocumentError with code ${code}`);
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DocumentError);
  expect((error as DocumentError).code).toBe(code);
  if (message) expect((error as DocumentError).message).toMatch(message);
  return error as DocumentError;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('PDF', () => {
  const pages = [
    ['Quarterly Report', 'Revenue grew by 12 percent (year over year).'],
    ['Second page: costs fell.', 'Headcount stayed at 40.'],
    ['Third page closes the report.'],
  ];

  it('extracts every page in order, with page headings', async () => {
    const bytes = buildPdf(pages);
    const document = await extractDocument(writeFixture('report.pdf', bytes));
    expect(document).toMatchObject({ name: 'report.pdf', mime: 'application/pdf', pageCount: 3, warnings: [] });
    expect(document.sizeBytes).toBe(bytes.length);
    expect(document.sha256).toBe(sha256(bytes));
    expect(document.text).toBe(
      [
        '--- Page 1 ---',
        'Quarterly Report',
        'Revenue grew by 12 percent (year over year).',
        '',
        '--- Page 2 ---',
        'Second page: costs fell.',
        'Headcount stayed at 40.',
        '',
        '--- Page 3 ---',
        'Third page closes the report.',
      ].join('\n'),
    );
  });

  it('reads a PDF by its content even when the extension is wrong', async () => {
    const document = await extractDocument(writeFixture('report-renamed.txt', buildPdf([['Hidden PDF']])));
    expect(document.mime).toBe('application/pdf');
    expect(document.text).toBe('--- Page 1 ---\nHidden PDF');
  });

  it('warns about pages without text but keeps the others', async () => {
    const bytes = buildPdf([['Text page'], { rawContent: '0 0 1 rg 100 100 200 200 re f' }]);
    const document = await extractDocument(writeFixture('mixed.pdf', bytes));
    expect(document.text).toBe('--- Page 1 ---\nText page\n\n--- Page 2 ---\n[no extractable text on this page]');
    expect(document.warnings).toEqual([expect.stringMatching(/^Page 2 had no extractable text/)]);
  });

  it('reports a PDF without any text as empty and suggests OCR', async () => {
    const bytes = buildPdf([{ rawContent: '0 0 1 rg 100 100 200 200 re f' }]);
    await expectDocumentError(extractDocument(writeFixture('scan.pdf', bytes)), 'EMPTY_DOCUMENT', /its single page is probably scanned images.*OCR/);
    const two = buildPdf([{ rawContent: '0 0 1 rg 100 100 200 200 re f' }, { rawContent: '0 0 1 rg 10 10 20 20 re f' }]);
    await expectDocumentError(extractDocument(writeFixture('scan2.pdf', two)), 'EMPTY_DOCUMENT', /its 2 pages are probably scanned images/);
  });

  it('reports a truncated PDF as corrupt', async () => {
    const bytes = buildPdf(pages);
    const truncated = bytes.subarray(0, Math.floor(bytes.length / 2));
    await expectDocumentError(extractDocument(writeFixture('truncated.pdf', truncated)), 'CORRUPT', /damaged/);
  });

  it('reports a password-protected PDF as encrypted', async () => {
    const bytes = buildPdf([['Secret']], { passwordProtected: true });
    await expectDocumentError(extractDocument(writeFixture('locked.pdf', bytes)), 'ENCRYPTED', /password/);
  });

  it('stops reading pages once the text limit is reached', async () => {
    const manyPages = Array.from({ length: 10 }, (_, index) => [`Page ${index + 1} body text.`]);
    const document = await extractDocument(writeFixture('long.pdf', buildPdf(manyPages)), { maxChars: 60 });
    expect(document.text.length).toBe(60);
    expect(document.text.startsWith('--- Page 1 ---\nPage 1 body text.')).toBe(true);
    expect(document.pageCount).toBe(10);
    expect(document.warnings).toEqual([
      expect.stringMatching(/Stopped reading at page \d+ of 10/),
      expect.stringMatching(/first 60 characters/),
    ]);
  });
});

describe('DOCX', () => {
  it('extracts paragraphs from a real .docx', async () => {
    const bytes = buildDocx(['Employment Contract', 'The salary is €50,000 & paid monthly.', 'Notice: <30 days>']);
    const document = await extractDocument(writeFixture('contract.docx', bytes));
    expect(document.mime).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    expect(document.sha256).toBe(sha256(bytes));
    expect(document.text).toBe('Employment Contract\n\nThe salary is €50,000 & paid monthly.\n\nNotice: <30 days>');
    expect(document.pageCount).toBeUndefined();
  });

  it('reports a zip without a Word document inside as corrupt', async () => {
    const bytes = buildZip([{ name: 'readme.txt', data: 'not a docx' }]);
    await expectDocumentError(extractDocument(writeFixture('broken.docx', bytes)), 'CORRUPT', /Word document/);
  });

  it('reports truncated .docx bytes as corrupt', async () => {
    const bytes = buildDocx(['Some text']);
    await expectDocumentError(
      extractDocument(writeFixture('cut.docx', bytes.subarray(0, bytes.length - 30))),
      'CORRUPT',
    );
  });

  it('reports an empty .docx as empty', async () => {
    await expectDocumentError(extractDocument(writeFixture('blank.docx', buildDocx(['  ', '']))), 'EMPTY_DOCUMENT');
  });

  it('never fetches or reads what a .docx links to outside itself', async () => {
    const requests: string[] = [];
    const server = http.createServer((request, response) => {
      requests.push(request.url ?? '');
      response.end('FETCHED-FROM-THE-NETWORK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const web = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const secret = writeFixture('secret.txt', 'SECRET-FROM-THE-DISK');
    const external = (id: string, type: string, target: string) =>
      `<Relationship Id="${id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/${type}" Target="${target}" TargetMode="External"/>`;
    const relationships = [
      external('rId5', 'image', `${web}/picture.png`),
      external('rId6', 'image', `file://${secret}`),
      external('rId7', 'subDocument', `file://${secret}`),
      external('rId8', 'hyperlink', `${web}/link`),
      external('rId9', 'image', secret),
    ].join('');
    const body = [
      paragraphXml('Visible paragraph.'),
      linkedPictureXml('rId5'),
      linkedPictureXml('rId6'),
      linkedPictureXml('rId9'),
      '<w:subDoc r:id="rId7"/>',
      '<w:p><w:hyperlink r:id="rId8"><w:r><w:t>a link</w:t></w:r></w:hyperlink></w:p>',
      `<w:p><w:fldSimple w:instr="INCLUDETEXT &quot;${secret}&quot;"><w:r><w:t>field result</w:t></w:r></w:fldSimple></w:p>`,
      `<w:p><w:fldSimple w:instr="INCLUDEPICTURE &quot;${web}/field.png&quot;"><w:r><w:t>picture field</w:t></w:r></w:fldSimple></w:p>`,
    ].join('');
    try {
      const document = await extractDocument(writeFixture('linked.docx', buildDocxBody(body, relationships)));
      expect(document.text).toContain('Visible paragraph.');
      expect(document.text).toContain('a link');
      expect(document.text).not.toContain('SECRET-FROM-THE-DISK');
      expect(document.text).not.toContain('FETCHED-FROM-THE-NETWORK');
    } finally {
      server.close();
    }
    expect(requests).toEqual([]);
  });

  it('refuses a .docx nested 100,000 levels deep with a reason, not a crash', async () => {
    const depth = 100_000;
    const body =
      paragraphXml('top') + '<w:sdt><w:sdtContent>'.repeat(depth) + paragraphXml('deep') + '</w:sdtContent></w:sdt>'.repeat(depth);
    await expectDocumentError(extractDocument(writeFixture('nested.docx', buildDocxBody(body))), 'CORRUPT', /nested too deeply/);
  });
});

describe('HTML', () => {
  it('reads HTML nested 100,000 levels deep, closed or not, in linear time', async () => {
    const depth = 100_000;
    const closed = '<div>'.repeat(depth) + 'deep text' + '</div>'.repeat(depth);
    expect((await extractDocument(writeFixture('nested.html', closed))).text).toBe('deep text');
    const unclosed = '<html><body>' + '<b><i><span><pre>'.repeat(depth / 4) + 'never closed';
    expect((await extractDocument(writeFixture('unclosed.html', unclosed))).text).toBe('never closed');
  });

  it('extracts the readable text of the committed sample page', async () => {
    const document = await extractDocument(path.join(fixturesDir, 'sample.html'));
    expect(document.mime).toBe('text/html');
    expect(document.text).toBe(
      [
        'Tenancy FAQ',
        '',
        'Tenants must give ninety days notice & pay the last month’s rent.',
        '',
        '- Deposit: two months',
        '- Pets allowed with consent',
        '',
        'Fee | Amount',
        'Late payment | €25',
        '',
        '  indented   code',
        '    keeps spacing',
        '',
        'Write <script> tags as text.',
        'New line after break.',
      ].join('\n'),
    );
    expect(document.text).not.toMatch(/analytics|injected|navigation comment|Enable JavaScript|font-family/);
  });
});

describe('text, data and code', () => {
  it('reads committed UTF-8 text', async () => {
    const document = await extractDocument(path.join(fixturesDir, 'notes.txt'));
    expect(document).toMatchObject({ name: 'notes.txt', mime: 'text/plain', warnings: [] });
    expect(document.text).toBe('Plain fixture line one.\nLine two with ünïcödé.');
  });

  it('reads Markdown, CSV, JSON and source code as they are', async () => {
    const markdown = await extractDocument(writeFixture('guide.md', '# Guide\r\n\r\nStep *one*.\r\n'));
    expect(markdown).toMatchObject({ mime: 'text/markdown', text: '# Guide\n\nStep *one*.' });
    const csv = await extractDocument(writeFixture('table.csv', 'name,amount\nrent,1200\n'));
    expect(csv).toMatchObject({ mime: 'text/csv', text: 'name,amount\nrent,1200' });
    const json = await extractDocument(writeFixture('data.json', '{"a": [1, 2]}'));
    expect(json).toMatchObject({ mime: 'application/json', text: '{"a": [1, 2]}' });
    const code = await extractDocument(writeFixture('util.py', 'def add(a, b):\n    return a + b\n'));
    expect(code).toMatchObject({ mime: 'text/plain', text: 'def add(a, b):\n    return a + b' });
  });

  it('rejects binary content with NUL bytes, whatever its extension', async () => {
    const binary = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x41, 0x42]);
    await expectDocumentError(extractDocument(writeFixture('program', binary)), 'UNSUPPORTED_TYPE', /binary/);
    await expectDocumentError(extractDocument(writeFixture('fake.txt', binary)), 'UNSUPPORTED_TYPE', /binary/);
  });

  it('cuts text longer than maxChars and says so', async () => {
    const document = await extractDocument(writeFixture('big.txt', 'x'.repeat(1000)), { maxChars: 100 });
    expect(document.text).toBe('x'.repeat(100));
    expect(document.warnings).toEqual([expect.stringMatching(/first 100 characters/)]);
  });

  it('reports whitespace-only and zero-byte files as empty', async () => {
    await expectDocumentError(extractDocument(writeFixture('blank.txt', ' \n\t\n')), 'EMPTY_DOCUMENT');
    await expectDocumentError(extractDocument(writeFixture('zero.txt', '')), 'EMPTY_DOCUMENT', /is empty/);
  });
});

describe('file errors', () => {
  it('reports a missing file', async () => {
    await expectDocumentError(extractDocument(path.join(workDir, 'nope.pdf')), 'FILE_NOT_FOUND', /does not exist/);
  });

  it('reports a folder as unreadable', async () => {
    const folder = path.join(workDir, 'a-folder.txt');
    fs.mkdirSync(folder);
    await expectDocumentError(extractDocument(folder), 'UNREADABLE', /folder/);
  });

  it.skipIf(process.platform === 'win32' || process.getuid?.() === 0)(
    'reports a file without read permission as unreadable',
    async () => {
      const filePath = writeFixture('private.txt', 'secret');
      fs.chmodSync(filePath, 0o000);
      await expectDocumentError(extractDocument(filePath), 'UNREADABLE', /permission/);
    },
  );

  it('refuses files over the size limit from their size alone, before reading them', async () => {
    // A 3 GiB sparse file: reading it would fail (Node refuses buffers over 2 GiB) or take long,
    // so getting TOO_LARGE proves the size check comes first.
    const filePath = path.join(workDir, 'huge.txt');
    const handle = fs.openSync(filePath, 'w');
    fs.ftruncateSync(handle, 3 * 1024 * 1024 * 1024);
    fs.closeSync(handle);
    await expectDocumentError(extractDocument(filePath), 'TOO_LARGE', /3\.0 GiB.*64\.0 MiB/);
    await expectDocumentError(
      extractDocument(writeFixture('small-limit.txt', 'x'.repeat(2000)), { maxBytes: 1024 }),
      'TOO_LARGE',
      /2\.0 KiB.*1\.0 KiB/,
    );
  });

  it('refuses images and old Office formats with a hint', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32)]);
    await expectDocumentError(extractDocument(writeFixture('scan.png', png)), 'UNSUPPORTED_TYPE', /OCR/);
    await expectDocumentError(extractDocument(writeFixture('slides.pptx', buildZip([{ name: 'ppt/presentation.xml', data: '<p/>' }]))), 'UNSUPPORTED_TYPE', /PDF/);
  });
});
