// The conversation caches the engine saves on disk (src-engine/savedKvStore.ts), as the app
// manages them: in the data folder's saved-kv/, under a disk budget the person sets (kept in the
// settings), listed with their sizes, deleted one by one or all at once.
import path from 'node:path';
import { z } from 'zod';
import type { SavedKvState } from '../../src-common/engineTypes.js';
import type { SettingsRepository } from '../store/settings.js';
import type { EngineClient } from './engineClient.js';
import { DEFAULT_SAVED_KV_BUDGET_BYTES } from '../../src-engine/savedKvStore.js';

const BUDGET_KEY = 'savedKv.budgetBytes';
/** 0 keeps nothing on disk; at most 1 TiB (the api's schema says the same). */
const Budget = z.number().int().min(0).max(1024 ** 4);

export class SavedCaches {
  constructor(
    private readonly settings: SettingsRepository,
    private readonly dataDir: string,
    private readonly engine: () => Promise<EngineClient>,
  ) {}

  get folder(): string {
    return path.join(this.dataDir, 'saved-kv');
  }

  get budgetBytes(): number {
    return this.settings.get(BUDGET_KEY, DEFAULT_SAVED_KV_BUDGET_BYTES, Budget);
  }

  /** Points a (new) engine process at the folder; it reads what an earlier run saved there. */
  configure(client: EngineClient): Promise<SavedKvState> {
    return client.savedKv({ kind: 'configure', folder: this.folder, budgetBytes: this.budgetBytes });
  }

  async list(): Promise<SavedKvState> {
    return (await this.engine()).savedKv({ kind: 'list' });
  }

  async remove(id?: string): Promise<SavedKvState> {
    return (await this.engine()).savedKv(id === undefined ? { kind: 'remove' } : { kind: 'remove', id });
  }

  /** A smaller budget deletes the least recently used caches at once. */
  async setBudget(budgetBytes: number): Promise<SavedKvState> {
    this.settings.set(BUDGET_KEY, Budget.parse(budgetBytes));
    return (await this.engine()).savedKv({ kind: 'budget', budgetBytes });
  }
}
