// `npm run fuzz`: bounded mutation fuzzing of what Sift reads from people's files. This process
// plays the app's part: it runs the model-file check, the app's model inspector and every
// document parser in-process, so a crash of any of them ends the run (and fails it). Files that
// pass the check are loaded by a real engine process; its crashes are counted and it is restarted.
// Fixed seed and fixed counts: the same command gives the same inputs.
//
//   npm run fuzz [-- --gguf N] [--documents N] [--seed S] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fuzzDocuments } from './fuzzDocuments.js';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { checkGgufFile } from '../src-engine/modelFile.js';
import { seededRandom } from '../src-engine/sampling.js';
import { EngineError } from '../src-engine/engineError.js';
import { inspectModel } from '../src-main/models/modelInspector.js';
import { writeSyntheticModel } from '../test/helpers/syntheticModel.js';
import { testModelPath } from '../test/helpers/testModel.js';

interface Options {
  gguf: number;
  documents: number;
  seed: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { gguf: 2000, documents: 5000, seed: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (flag === '--json') options.json = true;
    else if ((flag === '--gguf' || flag === '--documents' || flag === '--seed') && Number.isInteger(value) && value >= 0) {
      options[flag.slice(2) as 'gguf' | 'documents' | 'seed'] = value;
      i++;
    } else throw new Error(`unknown or malformed option ${flag}`);
  }
  return options;
}

/** Values that break length and count fields: zero, sign bits, int32/uint32 edges, huge. */
const NASTY_U64 = [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

type Mutation = { kind: string; writes: Array<{ offset: number; bytes: Buffer }> };

function mutate(random: () => number, headerBytes: number): Mutation {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  // half the mutations hit the first 4 KiB (version, counts, the first keys and their types),
  // a fifth the tensor descriptions at the end of the header, the rest anywhere in it
  const region = random();
  const offset =
    region < 0.5
      ? 4 + Math.floor(random() * Math.min(4096, headerBytes - 12))
      : region < 0.7
        ? Math.max(4, headerBytes - 1 - Math.floor(random() * Math.min(8192, headerBytes - 12)))
        : 4 + Math.floor(random() * (headerBytes - 12));
  const choice = random();
  if (choice < 0.4) {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(pick(NASTY_U64));
    return { kind: 'u64 field', writes: [{ offset, bytes }] };
  }
  if (choice < 0.6) {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(Math.floor(random() * 16) + (random() < 0.2 ? 60 : 0));
    return { kind: 'u32 type', writes: [{ offset, bytes }] };
  }
  const flips = 1 + Math.floor(random() * 8);
  return {
    kind: 'byte flips',
    writes: Array.from({ length: flips }, () => ({
      offset: 4 + Math.floor(random() * (headerBytes - 4)),
      bytes: Buffer.from([Math.floor(random() * 256)]),
    })),
  };
}

async function applyWrites(handle: FileHandle, writes: Mutation['writes']): Promise<void> {
  for (const { offset, bytes } of writes) await handle.write(bytes, 0, bytes.length, offset);
}

async function readBack(handle: FileHandle, writes: Mutation['writes']): Promise<Mutation['writes']> {
  const saved: Mutation['writes'] = [];
  for (const { offset, bytes } of writes) {
    const original = Buffer.alloc(bytes.length);
    await handle.read(original, 0, bytes.length, offset);
    saved.push({ offset, bytes: original });
  }
  return saved;
}

interface GgufResult {
  cases: number;
  refusedByCheck: number;
  refusedByLoader: number;
  loaded: number;
  engineCrashes: Array<{ kind: string; signal: string }>;
  appCrashes: number;
}

async function fuzzGguf(options: Options, dir: string): Promise<GgufResult> {
  const random = seededRandom(options.seed);
  const base = path.join(dir, 'base.gguf');
  // a real graph builder's model with the test model's tokenizer, a few MB: mutated in place
  await writeSyntheticModel(base, 'qwen2', testModelPath(), { layers: 2, embd: 64, heads: 2, headsKv: 1, ff: 128 });
  const { headerBytes } = await checkGgufFile(base);
  const result: GgufResult = { cases: 0, refusedByCheck: 0, refusedByLoader: 0, loaded: 0, engineCrashes: [], appCrashes: 0 };
  let engine = await EngineClient.start({ build: 'patched' });
  const handle = await open(base, 'r+');
  try {
    for (let i = 0; i < options.gguf; i++) {
      const mutation = mutate(random, headerBytes);
      const original = await readBack(handle, mutation.writes);
      await applyWrites(handle, mutation.writes);
      result.cases++;
      try {
        await checkGgufFile(base);
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        result.refusedByCheck++;
        await applyWrites(handle, original.reverse());
        continue;
      }
      // passed the check: the app's inspector (node-llama-cpp's reader, in this process) and the engine
      await inspectModel(base).catch(() => undefined);
      try {
        await engine.loadModel({ path: base, contextSize: 256 });
        result.loaded++;
      } catch (error) {
        if (!engine.alive) {
          result.engineCrashes.push({ kind: mutation.kind, signal: (error as Error).message });
          engine = await EngineClient.start({ build: 'patched' });
        } else result.refusedByLoader++;
      }
      await applyWrites(handle, original.reverse());
    }
  } finally {
    await handle.close();
    await engine.close();
  }
  return result;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sift-fuzz-'));
  const started = performance.now();
  try {
    const gguf = await fuzzGguf(options, dir);
    const documents = await fuzzDocuments(options.documents, seededRandom(options.seed + 1), dir);
    const seconds = Math.round((performance.now() - started) / 1000);
    const summary = { seed: options.seed, seconds, gguf, documents };
    if (options.json) console.log(JSON.stringify(summary));
    else {
      console.log(`GGUF headers: ${gguf.cases} mutated (seed ${options.seed}); refused by Sift's check ${gguf.refusedByCheck}, by llama.cpp ${gguf.refusedByLoader}, loaded ${gguf.loaded}`);
      console.log(`  app-process crashes: 0 (this process ran the check and the inspector on every file); engine-process crashes: ${gguf.engineCrashes.length}`);
      for (const crash of gguf.engineCrashes) console.log(`    ${crash.kind}: ${crash.signal}`);
      console.log(`Documents: ${documents.cases} mutated PDF/DOCX/HTML/text/CJK files; read ${documents.readable}, refused with a reason ${documents.refused}, other errors ${documents.unexplained.length}`);
      console.log(`  slowest case ${documents.slowestMs} ms (${documents.slowestFormat}); peak RSS of this process ${documents.peakRssMiB} MiB`);
      console.log(
        `  parser rejections no caller could catch: ${documents.unhandled.length} ` +
          '(this process reads in-process and survives them; the app reads in a worker thread, which they end instead)',
      );
      for (const rejection of documents.unhandled.slice(0, 10)) console.log(`    after case ${rejection.caseIndex}: ${rejection.message}`);
      for (const failure of documents.unexplained.slice(0, 10)) console.log(`    ${failure.format}: ${failure.message}`);
      console.log(`${seconds} s`);
    }
    return gguf.engineCrashes.length === 0 && documents.unexplained.length === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exit(await main());
