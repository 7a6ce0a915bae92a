// Stock results kept between runs, so a rerun does not spend its time re-measuring the unchanged
// reference. A key is the hash of everything that shapes a result: the model file's sha256, the
// build id, the engine settings and the exact prompt. Entries are JSON, logits raw float32.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Bump when a change in the harness makes old entries wrong. */
const CACHE_FORMAT = 2;

export function defaultCacheDir(): string {
  const cacheRoot = process.env['XDG_CACHE_HOME'] ?? path.join(homedir(), '.cache');
  return path.join(cacheRoot, 'sift', 'bench-cache');
}

/** JSON with sorted keys, so equal values always hash equally. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export class BenchCache {
  private hits = 0;

  /** `read` false (--no-cache) still writes, so the run refreshes the cache. */
  constructor(
    readonly dir: string,
    readonly read: boolean,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  key(parts: Record<string, unknown>): string {
    return createHash('sha256').update(stableJson({ format: CACHE_FORMAT, ...parts })).digest('hex').slice(0, 40);
  }

  get hitCount(): number {
    return this.hits;
  }

  has(key: string): boolean {
    return this.read && existsSync(this.file(key, 'json'));
  }

  readJson<T>(key: string): T | null {
    if (!this.has(key)) return null;
    try {
      const value = JSON.parse(readFileSync(this.file(key, 'json'), 'utf8')) as T;
      this.hits++;
      return value;
    } catch {
      return null;
    }
  }

  writeJson(key: string, value: unknown): void {
    this.atomicWrite(this.file(key, 'json'), JSON.stringify(value));
  }

  /** Rows of equal width (logits), stored back to back. */
  readRows(key: string, width: number): Float32Array[] | null {
    const file = this.file(key, 'f32');
    if (!this.read || !existsSync(file)) return null;
    const bytes = readFileSync(file);
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (width <= 0 || all.length % width !== 0) return null;
    this.hits++;
    return Array.from({ length: all.length / width }, (_, i) => all.slice(i * width, (i + 1) * width));
  }

  writeRows(key: string, rows: readonly Float32Array[]): void {
    const bytes = Buffer.concat(rows.map((row) => Buffer.from(row.buffer, row.byteOffset, row.byteLength)));
    this.atomicWrite(this.file(key, 'f32'), bytes);
  }

  private file(key: string, ext: 'json' | 'f32'): string {
    return path.join(this.dir, `${key}.${ext}`);
  }

  /** Write then rename: an interrupted run never leaves a half-written entry. */
  private atomicWrite(file: string, data: string | Buffer): void {
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, data);
    renameSync(temp, file);
  }
}
