// Whether the app calibrates new models by itself (Settings → Calibration), and the models whose
// automatic calibration the person cancelled or that failed: those are not started again on
// their own (the button still calibrates them). Kept in the store across launches.
import { z } from 'zod';
import type { SettingsRepository } from '../store/settings.js';

const ENABLED_KEY = 'calibration.automatic';
const DECLINED_KEY = 'calibration.declined';
/** Model hashes remembered; the oldest are forgotten past this. */
const DECLINED_LIMIT = 200;
const Sha256List = z.array(z.string().regex(/^[0-9a-f]{64}$/));

export class AutoCalibrationStore {
  constructor(private readonly settings: SettingsRepository) {}

  /** On unless the person turned it off: calibration is what lets auto trust a lossy policy. */
  enabled(): boolean {
    return this.settings.get(ENABLED_KEY, true, z.boolean());
  }

  /** Turning it on again also forgets the declined models, so they are calibrated too. */
  setEnabled(enabled: boolean): void {
    this.settings.set(ENABLED_KEY, enabled);
    if (enabled) this.settings.delete(DECLINED_KEY);
  }

  declined(modelHash: string): boolean {
    return this.declinedHashes().includes(modelHash);
  }

  decline(modelHash: string): void {
    const rest = this.declinedHashes().filter((hash) => hash !== modelHash);
    this.settings.set(DECLINED_KEY, [...rest, modelHash].slice(-DECLINED_LIMIT));
  }

  private declinedHashes(): string[] {
    return this.settings.get(DECLINED_KEY, [], Sha256List);
  }
}
