// The document half of `npm run fuzz`: every parser runs in this process (the app's), so a crash
// ends the run. Byte flips alone mostly break a .docx's zip checksums or a PDF's cross-reference
// table and stop at the first check, so each seed is mutated at its readable layer as well: the
// Word XML before it is zipped, PDF objects and content streams, HTML tags, text in several
// encodings. Splices insert nasty tokens (deep nesting, huge numbers, unbalanced delimiters) and
// repeat slices of the file itself.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { extractDocument } from '../src-main/documents/index.js';
import { buildDocxBody, linkedPictureXml, paragraphXml } from '../test/fixtures/documents/docxBuilder.js';
import { buildPdf } from '../test/fixtures/documents/pdfBuilder.js';

export interface DocumentFuzzResult {
  cases: number;
  readable: number;
  refused: number;
  /** Errors that are not a DocumentError: the parser failed without saying why to the person. */
  unexplained: Array<{ format: string; message: string }>;
  /**
   * Rejections no caller could catch (a parser's internal promise): in `sift serve`, plain Node,
   * each would end the process, so each counts as an app-process crash.
   */
  unhandled: Array<{ caseIndex: number; format: string; message: string }>;
  /** The slowest single case, to catch parsers that go quadratic on hostile input. */
  slowestMs: number;
  slowestFormat: string;
  peakRssMiB: number;
}

interface Seed {
  name: string;
  /** The layer mutations edit: XML, PDF syntax, markup or text. */
  source: string;
  /** Turns the (mutated) source into the file's bytes. */
  pack: (source: string) => Buffer;
}

const PROSE = 'The harbour master of Lindqvist was a woman named Elsbeth Marrow. ';
const CJK = '港務長は林德奎斯特の女性で、名前はエルスベス・マロウでした。第二章：潮汐と航路。';

const latin1 = (source: string) => Buffer.from(source, 'latin1');
const utf8 = (source: string) => Buffer.from(source, 'utf8');

function seeds(): Seed[] {
  const wordBody = [
    paragraphXml(PROSE),
    '<w:tbl><w:tr><w:tc>' + paragraphXml('cell one') + '</w:tc><w:tc>' + paragraphXml(CJK) + '</w:tc></w:tr></w:tbl>',
    linkedPictureXml('rId5'),
    `<w:p><w:hyperlink r:id="rId6"><w:r><w:t>${PROSE}</w:t></w:r></w:hyperlink></w:p>`,
    '<w:sdt><w:sdtContent>' + paragraphXml(PROSE.repeat(3)) + '</w:sdtContent></w:sdt>',
  ].join('');
  const wordRelationships =
    '<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="http://127.0.0.1:9/x.png" TargetMode="External"/>' +
    '<Relationship Id="rId6" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://example.org" TargetMode="External"/>';
  const pdf = buildPdf([[PROSE.repeat(4)], [PROSE], ['Third page.', PROSE]]).toString('latin1');
  const html =
    `<!doctype html><html><head><title>T</title><style>p{}</style></head><body><h1>T</h1>` +
    `<p>${PROSE}</p><ul><li>${PROSE}</li></ul><pre>  code\n  block</pre><table><tr><td>${CJK}</td></tr></table>` +
    `<script>var s = "<p>";</script><!-- comment --><p>&amp; &lt;b&gt; &#x1F600; &nbsp;</p></body></html>`;
  return [
    { name: 'doc.pdf', source: pdf, pack: latin1 },
    { name: 'doc.docx', source: wordBody, pack: (body) => buildDocxBody(body, wordRelationships) },
    { name: 'doc.html', source: html, pack: utf8 },
    { name: 'doc.txt', source: PROSE.repeat(20), pack: utf8 },
    { name: 'cjk.txt', source: CJK.repeat(10), pack: utf8 },
    { name: 'cjk16.txt', source: CJK.repeat(10), pack: (text) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) },
    { name: 'notes.md', source: `# Notes\n\n- ${PROSE}\n\n\`\`\`\ncode\n\`\`\`\n`, pack: utf8 },
    { name: 'data.csv', source: `name,value\n"a, b",1\n${CJK},2\n`, pack: utf8 },
  ];
}

/** Tokens that stress parsers where they count, nest or trust a length. */
const NASTY = [
  '<div>'.repeat(2000), '<w:sdt><w:sdtContent>'.repeat(500), '<<'.repeat(500), '['.repeat(2000),
  '9'.repeat(400), '-2147483649', '4294967296', '1e308', 'obj', 'endobj', 'stream\n', 'endstream',
  '/Length 99999999', 'xref', 'trailer', '%%EOF', ' 0 R', '(', ')', '\\', '<!--', '<![CDATA[', ']]>',
  '<script>', '&#xFFFFFFFF;', '&#0;', '\u0000', '\uFFFD', '\uD800', '\r', '\u2028', '</w:body>', 'xmlns:w="x"',
];

function mutate(source: string, random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  let text = source;
  const edits = 1 + Math.floor(random() * 8);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (text.length + 1));
    const kind = random();
    if (kind < 0.35) {
      text = text.slice(0, at) + pick(NASTY) + text.slice(at);
    } else if (kind < 0.55) {
      const length = 1 + Math.floor(random() * 64);
      text = text.slice(0, at) + text.slice(at + length);
    } else if (kind < 0.75) {
      // repeat a slice of the file itself: nesting and counts that a parser believes
      const length = 1 + Math.floor(random() * 256);
      const copies = 1 + Math.floor(random() * 200);
      text = text.slice(0, at) + text.slice(at, at + length).repeat(copies) + text.slice(at);
    } else {
      text = text.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) + text.slice(at + 1);
    }
  }
  return text;
}

function flipBytes(bytes: Buffer, random: () => number): Buffer {
  const copy = Buffer.from(bytes);
  const flips = 1 + Math.floor(random() * 16);
  for (let i = 0; i < flips; i++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
  return copy;
}

export async function fuzzDocuments(
  count: number,
  random: () => number,
  dir: string,
  keepCase?: { index: number; file: string },
): Promise<DocumentFuzzResult> {
  const all = seeds();
  const result: DocumentFuzzResult = {
    cases: 0, readable: 0, refused: 0, unexplained: [], unhandled: [], slowestMs: 0, slowestFormat: '', peakRssMiB: 0,
  };
  let current = { index: -1, format: '' };
  const onUnhandled = (reason: unknown) =>
    result.unhandled.push({ caseIndex: current.index, format: current.format, message: String(reason).slice(0, 200) });
  process.on('unhandledRejection', onUnhandled);
  try {
    for (let i = 0; i < count; i++) await fuzzOne(i);
    // a rejection from the last case may land after it returned
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return result;

  async function fuzzOne(i: number): Promise<void> {
    const seed = all[i % all.length]!;
    current = { index: i, format: seed.name };
    // three in four cases edit the readable layer; the rest flip packed bytes, a fifth truncated
    let bytes = random() < 0.75 ? seed.pack(mutate(seed.source, random)) : flipBytes(seed.pack(seed.source), random);
    if (random() < 0.2) bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
    const file = path.join(dir, seed.name);
    writeFileSync(file, bytes);
    if (keepCase?.index === i) writeFileSync(keepCase.file, bytes);
    result.cases++;
    const started = performance.now();
    try {
      await extractDocument(file);
      result.readable++;
    } catch (error) {
      if ((error as Error).name === 'DocumentError') result.refused++;
      else result.unexplained.push({ format: seed.name, message: String((error as Error).message).slice(0, 200) });
    }
    const elapsed = performance.now() - started;
    if (elapsed > result.slowestMs) {
      result.slowestMs = Math.round(elapsed);
      result.slowestFormat = seed.name;
    }
    result.peakRssMiB = Math.max(result.peakRssMiB, Math.round(process.memoryUsage.rss() / 2 ** 20));
  }
}
