// The list of model files the user has added or downloaded, and the last one loaded, kept in the
// store's settings table so they survive restarts.
import path from 'node:path';
import { z } from 'zod';
import type { SettingsRepository } from '../store/settings.js';

const KNOWN_KEY = 'models.known';
const LAST_KEY = 'models.last';

const KnownEntry = z.object({ path: z.string(), name: z.string(), addedAt: z.number() });
const KnownList = z.array(KnownEntry);
const LastModel = z.string().nullable();

export type KnownEntry = z.infer<typeof KnownEntry>;

export class KnownModels {
  constructor(private readonly settings: SettingsRepository) {}

  list(): KnownEntry[] {
    return this.settings.get(KNOWN_KEY, [], KnownList);
  }

  add(modelPath: string, name = path.basename(modelPath, '.gguf')): void {
    const entries = this.list().filter((entry) => entry.path !== modelPath);
    entries.unshift({ path: modelPath, name, addedAt: Date.now() });
    this.settings.set(KNOWN_KEY, entries);
  }

  forget(modelPath: string): void {
    this.settings.set(
      KNOWN_KEY,
      this.list().filter((entry) => entry.path !== modelPath),
    );
    if (this.last() === modelPath) this.settings.delete(LAST_KEY);
  }

  last(): string | null {
    return this.settings.get(LAST_KEY, null, LastModel);
  }

  remember(modelPath: string): void {
    this.settings.set(LAST_KEY, modelPath);
  }
}
