// Prefill timings in the store (migrations 4 and 5): per model fingerprint, build and load
// settings, newest first, only the latest KEPT_PREFILL_SAMPLES kept, each key apart.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src-main/store/index.js';
import { KEPT_PREFILL_SAMPLES } from '../../src-main/store/prefillSamples.js';

describe('prefill samples', () => {
  it('keeps the newest few per model and build, apart from other keys, across a reopen', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-prefill-samples-'));
    const model = { modelFingerprint: 'a'.repeat(32), buildId: 'sift-patched:0123456789abcdef', loadKey: 'cpu:t2:fa0' };
    const other = { ...model, buildId: 'stock:0123456789abcdef' };
    const oneThread = { ...model, loadKey: 'cpu:t1:fa0' };
    let store = openStore({ dataDir });
    for (let i = 1; i <= KEPT_PREFILL_SAMPLES + 4; i++) store.prefillSamples.add(model, { tokens: 300 + i, cachedTokens: i, ttftMs: 1000 + i }, 'zen4');
    store.prefillSamples.add(other, { tokens: 999, cachedTokens: 0, ttftMs: 99 }, null);
    store.prefillSamples.add(oneThread, { tokens: 500, cachedTokens: 0, ttftMs: 5000 }, null);
    store.close();

    store = openStore({ dataDir });
    try {
      const kept = store.prefillSamples.recent(model);
      expect(kept).toHaveLength(KEPT_PREFILL_SAMPLES);
      expect(kept[0]).toEqual({ tokens: 300 + KEPT_PREFILL_SAMPLES + 4, cachedTokens: KEPT_PREFILL_SAMPLES + 4, ttftMs: 1000 + KEPT_PREFILL_SAMPLES + 4 });
      expect(kept.at(-1)).toEqual({ tokens: 305, cachedTokens: 5, ttftMs: 1005 });
      expect(store.prefillSamples.recent(other)).toEqual([{ tokens: 999, cachedTokens: 0, ttftMs: 99 }]);
      // a rate measured with one thread is not this load's
      expect(store.prefillSamples.recent(oneThread)).toEqual([{ tokens: 500, cachedTokens: 0, ttftMs: 5000 }]);
      expect(() => store.prefillSamples.add(model, { tokens: 0, cachedTokens: 0, ttftMs: 5 }, null)).toThrow(/CHECK constraint/);
    } finally {
      store.close();
    }
  });
});
