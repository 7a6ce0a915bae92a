// Reads a document in a worker thread. Parsers are large third-party code running on people's
// files: pdf.js, fed a damaged file, can reject a promise of its own that no caller can catch
// (npm run fuzz found one), which in plain Node (`sift serve`) ends the process. In a worker it ends
// the worker. The worker also bounds the parser's memory and time and keeps the main thread free
// while a long PDF is read.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DocumentError, type DocumentErrorCode } from './errors.js';
import type { ExtractedDocument, ExtractOptions } from './types.js';

export type WorkerReply =
  | { ok: true; document: ExtractedDocument }
  | { ok: false; code?: DocumentErrorCode; message: string };

export interface ReaderLimits {
  /** Heap the parser may use; pdf.js on a 64 MiB PDF stays well under it. */
  heapMiB: number;
  /** Longest a single document may take to read. */
  timeoutMs: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = { heapMiB: 2048, timeoutMs: 5 * 60_000 };

/**
 * The bundle's documentWorker.js once built; from source, extractWorker.ts behind a bootstrap that
 * registers tsx in the worker (a worker does not inherit the parent's module hooks).
 */
function startWorker(workerData: unknown, heapMiB: number): Worker {
  const self = fileURLToPath(import.meta.url);
  const resourceLimits = { maxOldGenerationSizeMb: heapMiB };
  if (self.endsWith('.ts')) {
    // tsx/esm/api's ESM build (a require() resolve would pick its CommonJS one)
    const tsxRoot = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
    const api = pathToFileURL(path.join(tsxRoot, 'dist/esm/api/index.mjs')).href;
    const entry = pathToFileURL(path.join(path.dirname(self), 'extractWorker.ts')).href;
    const bootstrap = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
  }
  // electron-vite emits documentWorker.js beside the main entry; shared code may sit a folder below
  const candidates = [path.dirname(self), path.dirname(path.dirname(self))].map((dir) => path.join(dir, 'documentWorker.js'));
  return new Worker(candidates.find((file) => existsSync(file)) ?? candidates[0]!, { workerData, resourceLimits });
}

export function readDocument(
  filePath: string,
  options: ExtractOptions = {},
  limits: ReaderLimits = DEFAULT_READER_LIMITS,
): Promise<ExtractedDocument> {
  const name = path.basename(filePath);
  const worker = startWorker({ filePath, options }, limits.heapMiB);
  return new Promise<ExtractedDocument>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      outcome();
    };
    const timer = setTimeout(
      () => settle(() => reject(new DocumentError('UNREADABLE', `"${name}" took longer than ${Math.round(limits.timeoutMs / 1000)} s to read and was stopped.`))),
      limits.timeoutMs,
    );
    worker.once('message', (reply: WorkerReply) =>
      settle(() => {
        if (reply.ok) resolve(reply.document);
        else if (reply.code) reject(new DocumentError(reply.code, reply.message));
        else reject(new Error(reply.message));
      }),
    );
    worker.once('error', (error: Error & { code?: string }) =>
      settle(() => reject(readerFailure(error, name, limits))),
    );
    worker.once('exit', (code) =>
      settle(() => reject(new DocumentError('CORRUPT', `"${name}" could not be read: the reader stopped (exit code ${code}).`))),
    );
  });
}

function readerFailure(error: Error & { code?: string }, name: string, limits: ReaderLimits): DocumentError {
  if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new DocumentError('TOO_LARGE', `"${name}" needed more than ${limits.heapMiB} MiB of memory to read and was stopped.`, { cause: error });
  }
  return new DocumentError('CORRUPT', `"${name}" could not be read: the file is damaged (${error.message}).`, { cause: error });
}
