// Each cell of a long-document run kept as it is measured, so a run that takes hours on a slow
// machine (64k tokens at ~60 tok/s on a 2-core AVX2 EPYC: about 18 minutes a depth) can stop and
// go on in a later run (`--resume`). A cell is read back only when everything that shaped its
// answer is the same: the engine's own TypeScript, the native build, the model file, the row and
// the exact prompt. Where and when it was measured stays with it, for the report to say.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchCache } from './cache.js';

/** The code that decides a turn's answer, beyond the native build: the engine process and its policies. */
const ENGINE_SOURCES = ['src-engine', 'src-common', 'src-main/engine'];
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.(ts|js|json)$/.test(entry.name) ? [file] : [];
  });
}

/** A hash of the engine's TypeScript: a changed policy must never reuse a cell measured before it. */
export function engineSourceHash(root = REPO_ROOT): string {
  const hash = createHash('sha256');
  for (const dir of ENGINE_SOURCES) {
    const absolute = path.join(root, dir);
    const files = statSync(absolute, { throwIfNoEntry: false })?.isDirectory() ? sourceFiles(absolute).sort() : [];
    for (const file of files) hash.update(path.relative(root, file)).update('\u0000').update(readFileSync(file)).update('\u0000');
  }
  return hash.digest('hex');
}

export interface MeasuredOn {
  /** ISO time the cell finished. */
  at: string;
  /** The CPU and its widest vector unit: two "AMD EPYC" machines here differ 3× in speed by AVX-512. */
  cpu: string;
  /** Cores other processes took on average while it ran (otherCpu.ts); null where not measured. */
  otherCores?: number | null;
}

export interface CheckpointIdentity {
  buildId: string;
  modelSha256: string;
  engineSource: string;
}

/** Cells of one engine, build and model, stored under the bench cache; read back only with `resume`. */
export class LongCheckpoint<Cell extends object> {
  private readonly store: BenchCache;
  private reused = 0;

  constructor(
    dir: string,
    private readonly identity: CheckpointIdentity,
    readonly resume: boolean,
  ) {
    // cells are always written, so a run stopped without --resume can still be continued by one with it
    this.store = new BenchCache(dir, resume);
  }

  /** The key of one cell: its row and the exact prompt, with everything in the identity. */
  key(row: string, prompt: unknown): string {
    return this.store.key({ kind: 'long-cell', ...this.identity, row, prompt });
  }

  read(key: string): (Cell & { measured: MeasuredOn }) | null {
    const cell = this.store.readJson<Cell & { measured: MeasuredOn }>(key);
    if (cell) this.reused++;
    return cell;
  }

  write(key: string, cell: Cell & { measured: MeasuredOn }): void {
    this.store.writeJson(key, cell);
  }

  get reusedCount(): number {
    return this.reused;
  }
}
