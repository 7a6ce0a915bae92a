// How long a 100-page PDF takes to import (issue 16 item 4: "in seconds, not minutes"), as the app
// does it: the bytes attached to a chat (read in the document worker, stored), then the composer's
// preview, which counts the whole prompt in the model's tokens. The PDF is built here from the
// public-domain prose corpus (test/bench/corpus), 100 pages of ~3,000 characters, one text line a
// row as a word processor lays it out. Real SmolLM2 for the count; timings are wall clock.
//   npm run bench:import [-- --pages N] [--runs N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../src-main/app/backend.js';
import { buildPdf } from '../test/fixtures/documents/pdfBuilder.js';
import { loadProseCorpus } from '../src-main/models/proseCases.js';
import { testModelPath } from '../test/helpers/testModel.js';

const { values } = parseArgs({ options: { pages: { type: 'string', default: '100' }, runs: { type: 'string', default: '3' } } });
const pageCount = Number(values.pages);
const runs = Number(values.runs);

/** The corpus as page after page of 45 lines of at most 70 characters (Latin-1 only: the test PDFs' font encoding). */
function pdfOfPages(pages: number): { bytes: Buffer; characters: number } {
  const text = loadProseCorpus().map((s) => s.text).join('\n\n').replace(/[^\x20-\x7e\n]/g, ' ');
  const words = text.split(/\s+/).filter(Boolean);
  const out: string[][] = [];
  let at = 0;
  let characters = 0;
  for (let p = 0; p < pages; p++) {
    const lines: string[] = [];
    for (let l = 0; l < 45; l++) {
      let line = '';
      while (line.length < 64) line += (line ? ' ' : '') + words[at++ % words.length];
      lines.push(line);
      characters += line.length + 1;
    }
    out.push(lines);
  }
  return { bytes: buildPdf(out), characters };
}

const { bytes, characters } = pdfOfPages(pageCount);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-bench-import-'));
const backend = createBackend({ dataDir, shell: 'serve', version: 'bench', contextSize: 8192 });
try {
  await backend.models.load(testModelPath('smollm2'));
  console.log(`[bench-import] ${pageCount}-page PDF: ${(bytes.length / 1024).toFixed(0)} KiB, ${characters.toLocaleString('en-US')} characters of text; ${os.cpus()[0]?.model ?? 'CPU'}, ${os.availableParallelism()} cores`);
  for (let run = 1; run <= runs; run++) {
    const session = backend.sessions.create();
    const started = performance.now();
    const document = await backend.sessions.attach(session.id, `report-${run}.pdf`, bytes);
    const attached = performance.now();
    const preview = await backend.sessions.preview(session.id, 'What does the report conclude?', [document.id]);
    const counted = performance.now();
    console.log(
      `[bench-import] run ${run}: read and stored in ${((attached - started) / 1000).toFixed(2)} s; ` +
        `counted ${preview.promptTokens.toLocaleString('en-US')} prompt tokens in ${((counted - attached) / 1000).toFixed(2)} s; ` +
        `${((counted - started) / 1000).toFixed(2)} s in all (${document.name}, ${(document.sizeBytes / 1024).toFixed(0)} KiB)`,
    );
  }
} finally {
  await backend.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
