// The identity of a model file: the sha256 of its content, which keys its measured profile in the
// store (a renamed or moved file keeps it). Hashing streams the file (models are gigabytes) and is
// remembered per path, size and modification time, so a turn never hashes the same file twice.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

interface CachedHash {
  size: number;
  mtimeMs: number;
  hash: Promise<string>;
  /** Set once the hash is known. */
  value: string | null;
}

const cache = new Map<string, CachedHash>();

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hex sha256 of the file's content; computed once per path, size and modification time. */
export async function modelFileHash(file: string): Promise<string> {
  const absolute = path.resolve(file);
  const info = await stat(absolute);
  const hit = cache.get(absolute);
  if (hit && hit.size === info.size && hit.mtimeMs === info.mtimeMs) return hit.hash;
  const entry: CachedHash = { size: info.size, mtimeMs: info.mtimeMs, hash: sha256File(absolute), value: null };
  cache.set(absolute, entry);
  entry.hash.then(
    (value) => {
      entry.value = value;
    },
    () => {
      if (cache.get(absolute) === entry) cache.delete(absolute);
    },
  );
  return entry.hash;
}

/** The hash if it is already known for the file as it is now, without reading it; else null. */
export function knownModelFileHash(file: string): string | null {
  const absolute = path.resolve(file);
  const hit = cache.get(absolute);
  if (!hit?.value) return null;
  try {
    const info = statSync(absolute);
    return info.size === hit.size && info.mtimeMs === hit.mtimeMs ? hit.value : null;
  } catch {
    return null;
  }
}

/**
 * What `read` finds under the model file's hash: at once when the hash is known, else once it is
 * (null when the file cannot be hashed). Lookups keyed by the hash stay synchronous after the first.
 */
export function byModelFileHash<T>(file: string, read: (modelHash: string) => T | null): T | null | Promise<T | null> {
  const known = knownModelFileHash(file);
  if (known) return read(known);
  return modelFileHash(file).then(read, () => null);
}
