// A loaded model's measured frontiers, one per calibrated prompt length (what each lossy policy
// kept of full KV's answers), for policy auto: the file the app ships for models measured by its
// developers (resources/frontiers/<sha256>.json), with any length this machine's own calibration
// measured in place of the shipped one. The same file may ship the model's SimLayerKV layer
// profile (layerProfiles.ts reads it). Looked up by the model file's hash; synchronous once the
// hash is known.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { mergeFrontier, readFrontiers, withFrontier, type ModelFrontier } from '../../src-common/policy/frontier.js';
import { readLayerProfile, withLayerProfile, type CalibratedLayerProfile } from '../../src-common/policy/calibration.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import type { ModelProfileRepository } from '../store/modelProfiles.js';
import { byModelFileHash } from './modelHash.js';

export const SHIPPED_DIR = new URL('../../resources/frontiers/', import.meta.url);

/** Where the app's shipped frontier of a model lives. */
export function shippedFrontierFile(modelHash: string, dir: URL = SHIPPED_DIR): string {
  if (!/^[0-9a-f]{64}$/.test(modelHash)) throw new Error(`not a sha256: ${modelHash}`);
  return fileURLToPath(new URL(`${modelHash}.json`, dir));
}

/** The shipped file of a model as stored, or null when none ships for this hash (or it is malformed). */
function readShippedFile(modelHash: string, dir: URL): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(shippedFrontierFile(modelHash, dir), 'utf8');
  } catch {
    return null;
  }
  try {
    const file = JSON.parse(text) as Record<string, unknown> | null;
    return file && typeof file === 'object' && file['modelHash'] === modelHash ? file : null;
  } catch {
    return null;
  }
}

/** Rewrites the model's shipped file with `update` applied (a new file when none ships); returns its path. */
async function writeShippedFile(modelHash: string, name: string, update: (file: Record<string, unknown>) => Record<string, unknown>, dir: URL): Promise<string> {
  const file = shippedFrontierFile(modelHash, dir);
  const next = update(readShippedFile(modelHash, dir) ?? {});
  await writeFile(file, `${JSON.stringify({ ...next, modelHash, name }, null, 2)}\n`);
  return file;
}

/**
 * Writes measured frontiers into the app's shipped file for the model (sift calibrate --ship,
 * npm run bench -- --ship-frontier), each in place of a shipped one at about its length; returns its path.
 */
export function writeShippedFrontiers(modelHash: string, name: string, measured: readonly ModelFrontier[], dir: URL = SHIPPED_DIR): Promise<string> {
  return writeShippedFile(modelHash, name, (file) => measured.reduce((all, f) => withFrontier(all, { ...f, source: 'shipped' }), file), dir);
}

/** Writes the model's SimLayerKV layer profile into its shipped file (npm run bench -- --ship-frontier --ship-add simlayerkv). */
export function writeShippedLayerProfile(modelHash: string, name: string, profile: CalibratedLayerProfile, dir: URL = SHIPPED_DIR): Promise<string> {
  return writeShippedFile(modelHash, name, (file) => withLayerProfile(file, profile), dir);
}

/** The shipped frontiers of a model, shortest prompt first; empty when none ships (or the file is malformed). */
export function readShippedFrontiers(modelHash: string, dir: URL = SHIPPED_DIR): ModelFrontier[] {
  return readFrontiers(readShippedFile(modelHash, dir));
}

/** The shipped SimLayerKV layer profile of a model, or null when none ships. */
export function readShippedLayerProfile(modelHash: string, dir: URL = SHIPPED_DIR): LayerProfile | null {
  return readLayerProfile(readShippedFile(modelHash, dir));
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
