// How models are loaded (context size, threads, GPU layers, flash attention), kept in the store's
// settings table so it survives restarts. A context size given on the command line (`sift serve
// --context N`) stands in for an auto one: a stored number is the person's own later choice.
import { DEFAULT_MODEL_LOAD_SETTINGS, loadOptionsFrom, type ModelLoadOptions, type ModelLoadSettings } from '../../src-common/modelLoadSettings.js';
import { ModelLoadSettingsPatch } from '../../src-common/schemas.js';
import type { SettingsRepository } from '../store/settings.js';

const KEY = 'models.loadSettings';
/** A value written by another version, or by hand, that no longer fits reads as the defaults. */
const Stored = ModelLoadSettingsPatch.required();

export class ModelLoadSettingsStore {
  constructor(
    private readonly settings: SettingsRepository,
    private readonly commandLineContextSize?: number,
  ) {}

  get(): ModelLoadSettings {
    return this.settings.get(KEY, DEFAULT_MODEL_LOAD_SETTINGS, Stored);
  }

  /** The settings after the change; the caller has validated it with ModelLoadSettingsPatch. */
  update(patch: Partial<ModelLoadSettings>): ModelLoadSettings {
    const next = { ...this.get(), ...patch };
    this.settings.set(KEY, next);
    return next;
  }

  replace(settings: ModelLoadSettings): void {
    this.settings.set(KEY, settings);
  }

  loadOptions(): ModelLoadOptions {
    const settings = this.get();
    const options = loadOptionsFrom(settings);
    if (settings.contextSize === 'auto' && this.commandLineContextSize) options.contextSize = this.commandLineContextSize;
    return options;
  }
}
