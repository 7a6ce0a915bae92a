// A loaded model's calibrated SimLayerKV profile, for turns whose policy uses it: this machine's
// (sift calibrate, or the app's calibration) from the store by the model file's hash, else the one
// the app ships for the model (modelFrontiers.ts). Synchronous once the hash is known, so only the
// first such turn after a model is loaded waits for the file to be hashed.
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { readLayerProfile } from '../../src-common/policy/calibration.js';
import type { ModelProfileRepository } from '../store/modelProfiles.js';
import { byModelFileHash } from './modelHash.js';
import { readShippedLayerProfile, SHIPPED_DIR } from './modelFrontiers.js';

export interface LayerProfileSource {
  /** The profile, or null when the model has none (or its file cannot be read). */
  forModel(modelPath: string): LayerProfile | null | Promise<LayerProfile | null>;
}

export class StoredLayerProfiles implements LayerProfileSource {
  constructor(
    private readonly profiles: Pick<ModelProfileRepository, 'get'>,
    private readonly shippedDir: URL = SHIPPED_DIR,
  ) {}

  forModel(modelPath: string): LayerProfile | null | Promise<LayerProfile | null> {
    return byModelFileHash(modelPath, (hash) => this.read(hash));
  }

  private read(modelHash: string): LayerProfile | null {
    let measuredHere: LayerProfile | null = null;
    try {
      measuredHere = readLayerProfile(this.profiles.get(modelHash)?.profile);
    } catch {
      // a store that cannot be read leaves the shipped file
    }
    return measuredHere ?? readShippedLayerProfile(modelHash, this.shippedDir);
  }
}
