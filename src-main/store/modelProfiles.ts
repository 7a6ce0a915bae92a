// Measured facts about a model file (speed, memory use), keyed by the hash of its content so a
// renamed or moved file keeps its profile.
import type Database from 'better-sqlite3';
import { toModelProfileRow, type RawModelProfile } from './rowMapping.js';
import type { ModelProfileRow } from '../../src-common/storeTypes.js';

export type PutModelProfileInput = Omit<ModelProfileRow, 'createdAt'>;

const PROFILE_COLUMNS = 'model_hash, path, name, profile, created_at';

export class ModelProfileRepository {
  constructor(private readonly db: Database.Database) {}

  /** Inserts or replaces the profile; createdAt becomes the time of this measurement. */
  put(input: PutModelProfileInput): ModelProfileRow {
    const row: ModelProfileRow = { ...input, profile: input.profile ?? null, createdAt: Date.now() };
    this.db
      .prepare(
        `INSERT INTO model_profiles (${PROFILE_COLUMNS}) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model_hash) DO UPDATE SET
           path = excluded.path, name = excluded.name, profile = excluded.profile,
           created_at = excluded.created_at`,
      )
      .run(row.modelHash, row.path, row.name, JSON.stringify(row.profile), row.createdAt);
    return row;
  }

  get(modelHash: string): ModelProfileRow | null {
    const raw = this.db
      .prepare(`SELECT ${PROFILE_COLUMNS} FROM model_profiles WHERE model_hash = ?`)
      .get(modelHash) as RawModelProfile | undefined;
    return raw ? toModelProfileRow(raw) : null;
  }

  list(): ModelProfileRow[] {
    const rows = this.db
      .prepare(`SELECT ${PROFILE_COLUMNS} FROM model_profiles ORDER BY name`)
      .all() as RawModelProfile[];
    return rows.map(toModelProfileRow);
  }
}
