// A loaded model's measured frontiers, one per calibrated prompt length (what each lossy policy
// kept of full KV's answers), for policy auto: the file the app ships for models measured by its
// developers (resources/frontiers/<sha256>.json), with any length this machine's own calibration
// measured in place of the shipped one. Looked up by the model file's hash; synchronous once the
// hash is known.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { mergeFrontier, readFrontiers, type ModelFrontier } from '../../src-common/policy/frontier.js';
import type { ModelProfileRepository } from '../store/modelProfiles.js';
import { byModelFileHash } from './modelHash.js';

const SHIPPED_DIR = new URL('../../resources/frontiers/', import.meta.url);

/** Where the app's shipped frontier of a model lives. */
export function shippedFrontierFile(modelHash: string, dir: URL = SHIPPED_DIR): string {
  if (!/^[0-9a-f]{64}$/.test(modelHash)) throw new Error(`not a sha256: ${modelHash}`);
  return fileURLToPath(new URL(`${modelHash}.json`, dir));
}

/**
 * Writes measured frontiers into the app's shipped file for the model (sift calibrate --ship,
 * npm run bench -- --ship-frontier), each in place of a shipped one at about its length; returns its path.
 */
export async function writeShippedFrontiers(modelHash: string, name: string, measured: readonly ModelFrontier[], dir: URL = SHIPPED_DIR): Promise<string> {
  const file = shippedFrontierFile(modelHash, dir);
  const frontiers = measured.reduce((all, f) => mergeFrontier(all, { ...f, source: 'shipped' }), readShippedFrontiers(modelHash, dir));
  await writeFile(file, `${JSON.stringify({ modelHash, name, frontiers }, null, 2)}\n`);
  return file;
}

/** The shipped frontiers of a model, shortest prompt first; empty when none ships (or the file is malformed). */
export function readShippedFrontiers(modelHash: string, dir: URL = SHIPPED_DIR): ModelFrontier[] {
  let text: string;
  try {
    text = readFileSync(shippedFrontierFile(modelHash, dir), 'utf8');
  } catch {
    return [];
  }
  try {
    const file = JSON.parse(text) as { modelHash?: unknown };
    return file.modelHash === modelHash ? readFrontiers(file) : [];
  } catch {
    return [];
  }
}

export interface FrontierSource {
  /** The frontiers by prompt length, shortest first; empty when the model has none (or its files cannot be read). */
  forModel(modelPath: string): ModelFrontier[] | Promise<ModelFrontier[]>;
}

export class StoredFrontiers implements FrontierSource {
  constructor(
    private readonly profiles: Pick<ModelProfileRepository, 'get'>,
    private readonly shippedDir: URL = SHIPPED_DIR,
  ) {}

  forModel(modelPath: string): ModelFrontier[] | Promise<ModelFrontier[]> {
    const found = byModelFileHash(modelPath, (hash) => this.read(hash));
    return found instanceof Promise ? found.then((f) => f ?? []) : (found ?? []);
  }

  private read(modelHash: string): ModelFrontier[] {
    let measuredHere: ModelFrontier[] = [];
    try {
      measuredHere = readFrontiers(this.profiles.get(modelHash)?.profile);
    } catch {
      // a store that cannot be read leaves the shipped file
    }
    // this machine's measurement of a length wins: its TTFT ratios are this CPU's
    return measuredHere.reduce(mergeFrontier, readShippedFrontiers(modelHash, this.shippedDir));
  }
}
