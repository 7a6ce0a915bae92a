// A loaded model's measured frontier (what each lossy policy kept of full KV's answers), for
// policy auto: this machine's own `sift calibrate` from the store first, else the file the app
// ships for models measured by its developers (resources/frontiers/<sha256>.json). Looked up by
// the model file's hash; synchronous once the hash is known.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseFrontier, readFrontier, type ModelFrontier } from '../../src-common/policy/frontier.js';
import type { ModelProfileRepository } from '../store/modelProfiles.js';
import { byModelFileHash } from './modelHash.js';

const SHIPPED_DIR = new URL('../../resources/frontiers/', import.meta.url);

/** Where the app's shipped frontier of a model lives. */
export function shippedFrontierFile(modelHash: string, dir: URL = SHIPPED_DIR): string {
  if (!/^[0-9a-f]{64}$/.test(modelHash)) throw new Error(`not a sha256: ${modelHash}`);
  return fileURLToPath(new URL(`${modelHash}.json`, dir));
}

/** Writes a measured frontier as the app's shipped file for the model (sift calibrate --ship, npm run bench -- --ship-frontier); returns its path. */
export async function writeShippedFrontier(modelHash: string, name: string, frontier: ModelFrontier, dir: URL = SHIPPED_DIR): Promise<string> {
  const file = shippedFrontierFile(modelHash, dir);
  await writeFile(file, `${JSON.stringify({ modelHash, name, frontier: { ...frontier, source: 'shipped' } }, null, 2)}\n`);
  return file;
}

/** The shipped frontier of a model, or null when none ships (or the file is malformed). */
export function readShippedFrontier(modelHash: string, dir: URL = SHIPPED_DIR): ModelFrontier | null {
  let text: string;
  try {
    text = readFileSync(shippedFrontierFile(modelHash, dir), 'utf8');
  } catch {
    return null;
  }
  try {
    const file = JSON.parse(text) as { modelHash?: unknown; frontier?: unknown };
    return file.modelHash === modelHash ? parseFrontier(file.frontier) : null;
  } catch {
    return null;
  }
}

export interface FrontierSource {
  /** The frontier, or null when the model has none (or its file cannot be read). */
  forModel(modelPath: string): ModelFrontier | null | Promise<ModelFrontier | null>;
}

export class StoredFrontiers implements FrontierSource {
  constructor(
    private readonly profiles: Pick<ModelProfileRepository, 'get'>,
    private readonly shippedDir: URL = SHIPPED_DIR,
  ) {}

  forModel(modelPath: string): ModelFrontier | null | Promise<ModelFrontier | null> {
    return byModelFileHash(modelPath, (hash) => this.read(hash));
  }

  private read(modelHash: string): ModelFrontier | null {
    let measuredHere: ModelFrontier | null = null;
    try {
      measuredHere = readFrontier(this.profiles.get(modelHash)?.profile);
    } catch {
      // a store that cannot be read leaves the shipped file
    }
    return measuredHere ?? readShippedFrontier(modelHash, this.shippedDir);
  }
}
