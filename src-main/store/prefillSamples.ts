// Plain prefills measured on this machine, per model fingerprint, engine build and load settings: the rate that
// turns a next turn's arithmetic into its expected time to first token. Only the latest few are
// kept: a rate is of this machine as it is now.
import type Database from 'better-sqlite3';
import type { PrefillSample } from '../../src-common/policy/expectedTtft.js';

/** Samples kept per model and build; the rate is their median. */
export const KEPT_PREFILL_SAMPLES = 16;

export interface PrefillSampleKey {
  modelFingerprint: string;
  buildId: string;
  /** How the model was loaded (loadKeyOf, src-common/policy/expectedTtft.ts). */
  loadKey: string;
}

export class PrefillSampleRepository {
  constructor(private readonly db: Database.Database) {}

  add(key: PrefillSampleKey, sample: PrefillSample, cpuVariant: string | null): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO prefill_samples (model_fingerprint, build_id, load_key, cpu_variant, tokens, cached_tokens, ttft_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(key.modelFingerprint, key.buildId, key.loadKey, cpuVariant, sample.tokens, sample.cachedTokens, sample.ttftMs, Date.now());
      this.db
        .prepare(
          `DELETE FROM prefill_samples WHERE model_fingerprint = ? AND build_id = ? AND load_key = ? AND seq NOT IN (
             SELECT seq FROM prefill_samples WHERE model_fingerprint = ? AND build_id = ? AND load_key = ? ORDER BY seq DESC LIMIT ?)`,
        )
        .run(key.modelFingerprint, key.buildId, key.loadKey, key.modelFingerprint, key.buildId, key.loadKey, KEPT_PREFILL_SAMPLES);
    })();
  }

  /** Newest first. */
  recent(key: PrefillSampleKey): PrefillSample[] {
    const rows = this.db
      .prepare('SELECT tokens, cached_tokens, ttft_ms FROM prefill_samples WHERE model_fingerprint = ? AND build_id = ? AND load_key = ? ORDER BY seq DESC LIMIT ?')
      .all(key.modelFingerprint, key.buildId, key.loadKey, KEPT_PREFILL_SAMPLES) as Array<{ tokens: number; cached_tokens: number; ttft_ms: number }>;
    return rows.map((r) => ({ tokens: r.tokens, cachedTokens: r.cached_tokens, ttftMs: r.ttft_ms }));
  }
}
