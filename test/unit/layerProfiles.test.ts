// A model's stored SimLayerKV profile as turns find it: by the hash of the file's content, hashed
// once per path, size and modification time.
import { createHash } from 'node:crypto';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoredLayerProfiles } from '../../src-main/models/layerProfiles.js';
import { knownModelFileHash, modelFileHash } from '../../src-main/models/modelHash.js';
import type { ModelProfileRow } from '../../src-common/storeTypes.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function tempFile(content: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sift-hash-')), 'model.gguf');
  writeFileSync(file, content);
  return file;
}

const PROFILE = { scores: [0.2, 0.9, 0.95], delta: 0.5, trimmedLayers: [1, 2], sink: 4, window: 512 };

function repository(rows: Record<string, unknown>) {
  const asked: string[] = [];
  return {
    asked,
    get(modelHash: string): ModelProfileRow | null {
      asked.push(modelHash);
      return modelHash in rows ? { modelHash, path: '', name: '', profile: rows[modelHash], createdAt: 0 } : null;
    },
  };
}

describe('modelFileHash', () => {
  it('is the sha256 of the content, known without reading once computed, and redone when the file changes', async () => {
    const file = tempFile('first content');
    expect(knownModelFileHash(file)).toBeNull();
    expect(await modelFileHash(file)).toBe(sha256('first content'));
    expect(knownModelFileHash(file)).toBe(sha256('first content'));

    writeFileSync(file, 'other content!');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(knownModelFileHash(file)).toBeNull();
    expect(await modelFileHash(file)).toBe(sha256('other content!'));
  });

  it('rejects a missing file', async () => {
    await expect(modelFileHash(path.join(os.tmpdir(), 'no-such-model.gguf'))).rejects.toThrow();
  });
});

describe('StoredLayerProfiles', () => {
  it('finds the profile by hash: after hashing the first time, at once after that', async () => {
    const file = tempFile('a model');
    const repo = repository({ [sha256('a model')]: { simlayerkv: { ...PROFILE, fidelity: [] }, speed: {} } });
    const profiles = new StoredLayerProfiles(repo);
    const first = profiles.forModel(file);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(PROFILE);
    expect(profiles.forModel(file)).toEqual(PROFILE);
    expect(repo.asked).toEqual([sha256('a model'), sha256('a model')]);
  });

  it('is null for an uncalibrated model or an unreadable file', async () => {
    const profiles = new StoredLayerProfiles(repository({}));
    expect(await profiles.forModel(tempFile('uncalibrated'))).toBeNull();
    expect(await profiles.forModel(path.join(os.tmpdir(), 'no-such-model.gguf'))).toBeNull();
  });
});
