// Worker-thread entry of documentReader.ts: reads one document and posts the result or its
// DocumentError. A parser's own rejection nobody can catch (pdf.js on a damaged page) must not
// decide the answer by winning a race: the read in progress still gets a short grace to settle
// with its own result, and only a read that never settles is reported as the damaged file.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { DocumentError } from './errors.js';
import { extractDocument } from './extract.js';
import type { ExtractOptions } from './types.js';
import type { WorkerReply } from './documentReader.js';

const { filePath, options } = workerData as { filePath: string; options: ExtractOptions };

/** How long a read may go on after the parser rejected a promise of its own. */
const GRACE_AFTER_STRAY_REJECTION_MS = 2_000;

let replied = false;
function reply(message: WorkerReply): void {
  if (replied) return;
  replied = true;
  parentPort?.postMessage(message);
}

process.on('unhandledRejection', (reason) => {
  const detail = reason instanceof Error ? reason.message : String(reason);
  setTimeout(() => reply({ ok: false, code: 'CORRUPT', message: `"${path.basename(filePath)}" could not be read: the file is damaged (${detail}).` }), GRACE_AFTER_STRAY_REJECTION_MS).unref();
});

async function read(): Promise<WorkerReply> {
  try {
    return { ok: true, document: await extractDocument(filePath, options) };
  } catch (error) {
    if (error instanceof DocumentError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

reply(await read());
