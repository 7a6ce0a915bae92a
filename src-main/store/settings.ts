// App-wide preferences as JSON values under string keys.
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

/** Anything with zod's safeParse shape, so callers can validate without this module importing zod. */
export interface ValueSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false };
}

export class SettingsRepository {
  constructor(private readonly db: Database.Database) {}

  /**
   * The stored value, or fallback when the key is unset. With a schema, a stored value that no
   * longer fits (written by another version, or edited by hand) also yields the fallback.
   */
  get<T>(key: string, fallback: T, schema?: ValueSchema<T>): T {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    if (!row) return fallback;
    const value: unknown = JSON.parse(row.value);
    if (!schema) return value as T;
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : fallback;
  }

  set<T>(key: string, value: T): void {
    const json = JSON.stringify(value);
    if (json === undefined) {
      throw new StoreError('INVALID', `Setting "${key}" cannot store ${typeof value}; delete it instead.`);
    }
    this.db
      .prepare(
        `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      )
      .run(key, json, Date.now());
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }
}
