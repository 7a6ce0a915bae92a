// Worker-thread entry of documentReader.ts: reads one document and posts the result or its
// DocumentError. Anything else thrown here (a parser's own rejection nobody could catch) ends this
// worker, not the app.
import { parentPort, workerData } from 'node:worker_threads';
import { DocumentError } from './errors.js';
import { extractDocument } from './extract.js';
import type { ExtractOptions } from './types.js';
import type { WorkerReply } from './documentReader.js';

const { filePath, options } = workerData as { filePath: string; options: ExtractOptions };

async function read(): Promise<WorkerReply> {
  try {
    return { ok: true, document: await extractDocument(filePath, options) };
  } catch (error) {
    if (error instanceof DocumentError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

parentPort?.postMessage(await read());
