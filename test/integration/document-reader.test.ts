// Documents are read in a worker thread (src-main/documents/documentReader.ts): a parser's own
// failure, its memory and its time stay bounded there, away from the app's process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentError, extractDocument, readDocument } from '../../src-main/documents/index.js';

const fixturesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/documents');
let workDir = '';

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-reader-test-'));
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<DocumentError> {
  const error = await promise.then(() => new Error('expected a DocumentError'), (caught: unknown) => caught);
  expect(error).toBeInstanceOf(DocumentError);
  return error as DocumentError;
}

describe('reading a document in a worker', () => {
  it('gives the same document as reading it in the process', async () => {
    const file = path.join(fixturesDir, 'sample.html');
    expect(await readDocument(file)).toEqual(await extractDocument(file));
  });

  it('keeps a parser rejection nobody can catch out of the app process', async () => {
    // found by `npm run fuzz` (seed 1, case 4976): pdf.js rejects an internal promise while
    // failing to read the page, after the caller got its answer; in plain Node that ends the process
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const error = await failure(readDocument(path.join(fixturesDir, 'fuzz/pdfjs-unhandled-rejection.pdf')));
      expect(error.code).toBe('EMPTY_DOCUMENT');
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(unhandled).toEqual([]);
  });

  it('stops a parser that needs more memory than allowed, and says so', async () => {
    const file = path.join(workDir, 'big.txt');
    fs.writeFileSync(file, 'word '.repeat(8_000_000));
    const error = await failure(readDocument(file, {}, { heapMiB: 16, timeoutMs: 60_000 }));
    expect(error.code).toBe('TOO_LARGE');
    expect(error.message).toMatch(/more than 16 MiB of memory/);
  });

  it('stops a document that takes too long, and says so', async () => {
    const error = await failure(readDocument(path.join(fixturesDir, 'sample.html'), {}, { heapMiB: 512, timeoutMs: 1 }));
    expect(error.code).toBe('UNREADABLE');
    expect(error.message).toMatch(/took longer than/);
  });

  it('passes DocumentErrors through with their code', async () => {
    const error = await failure(readDocument(path.join(workDir, 'missing.pdf')));
    expect(error.code).toBe('FILE_NOT_FOUND');
  });
});
