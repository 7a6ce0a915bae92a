// A loaded model's calibrated SimLayerKV profile (sift calibrate), for turns whose policy uses it:
// looked up in the store by the model file's hash. Synchronous once the hash is known, so only the
// first such turn after a model is loaded waits for the file to be hashed.
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { readLayerProfile } from '../../src-common/policy/calibration.js';
import type { ModelProfileRepository } from '../store/modelProfiles.js';
import { byModelFileHash } from './modelHash.js';

export interface LayerProfileSource {
  /** The profile, or null when the model has none (or its file cannot be read). */
  forModel(modelPath: string): LayerProfile | null | Promise<LayerProfile | null>;
}

export class StoredLayerProfiles implements LayerProfileSource {
  constructor(private readonly profiles: Pick<ModelProfileRepository, 'get'>) {}

  forModel(modelPath: string): LayerProfile | null | Promise<LayerProfile | null> {
    return byModelFileHash(modelPath, (hash) => this.read(hash));
  }

  private read(modelHash: string): LayerProfile | null {
    try {
      return readLayerProfile(this.profiles.get(modelHash)?.profile);
    } catch {
      return null;
    }
  }
}
