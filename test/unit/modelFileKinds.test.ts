// The first check every model file passes (src-engine/modelFile.ts), in the app's inspector and in
// the engine, for files that are not models at all: each gets a sentence that says what to do.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkModelFile } from '../../src-engine/modelFile.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-model-kinds-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): string {
  const filePath = path.join(dir, name);
  fs.writeFileSync(filePath, bytes);
  return filePath;
}

describe('files that are not models', () => {
  it.each([
    ['a zero-byte file', () => file('empty.gguf', Buffer.alloc(0)), 'MODEL_INVALID', /empty \(0 bytes\).*Download it again/],
    ['random bytes', () => file('random.gguf', randomBytes(4096)), 'MODEL_INVALID', /not a GGUF model file/],
    ['a text file', () => file('notes.gguf', Buffer.from('just some text, not a model\n')), 'MODEL_INVALID', /not a GGUF model file/],
    ['three bytes of the magic', () => file('short.gguf', Buffer.from('GGU')), 'MODEL_INVALID', /not a GGUF model file/],
    ['a folder', () => fs.mkdtempSync(path.join(dir, 'folder-')), 'MODEL_NOT_FOUND', /is a folder, not a model file/],
    ['a missing path', () => path.join(dir, 'missing.gguf'), 'MODEL_NOT_FOUND', /not found/],
  ])('refuses %s', async (_what, make, code, says) => {
    await expect(checkModelFile(make())).rejects.toMatchObject({ code, message: expect.stringMatching(says) });
  });
});
