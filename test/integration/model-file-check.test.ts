// The GGUF header check that runs before node-llama-cpp's reader or llama.cpp sees a model file:
// headers whose lengths and counts lie (the ones that aborted the engine with SIGABRT or gave raw
// range errors) are refused with a sentence, in the engine and in the app's model inspector, and
// the real test model passes it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { checkModelFile } from '../../src-engine/modelFile.js';
import { inspectModel } from '../../src-main/models/modelInspector.js';
import { testModelPath } from '../helpers/testModel.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sift-gguf-check-'));

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: bigint | number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);

function gguf(parts: { version?: number; tensors?: bigint | number; entries: bigint | number; body: Buffer[] }): Buffer {
  // padding after the header, as a real file has tensor data there
  return Buffer.concat([Buffer.from('GGUF'), u32(parts.version ?? 3), u64(parts.tensors ?? 0), u64(parts.entries), ...parts.body, Buffer.alloc(256)]);
}

const STRING = 8;
const ARRAY = 9;
const UINT32 = 4;

const broken: Array<{ what: string; bytes: Buffer; says: RegExp }> = [
  { what: 'a 37-byte file', bytes: Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(33, 0xff)]), says: /GGUF version/ },
  { what: 'GGUF version 1', bytes: gguf({ version: 1, entries: 0, body: [] }), says: /GGUF version is 1/ },
  {
    what: 'a string length of 2 GiB',
    bytes: gguf({ entries: 1, body: [str('general.name'), u32(STRING), u64(2 ** 31), Buffer.from('abc')] }),
    says: /general\.name claims 2\.0 GiB but only/,
  },
  { what: 'an absurd tensor count', bytes: gguf({ tensors: 2n ** 40n, entries: 0, body: [] }), says: /claims 1099511627776 tensors/ },
  { what: 'an absurd metadata count', bytes: gguf({ entries: 2n ** 50n, body: [] }), says: /metadata entries, more than the file can hold/ },
  { what: 'a count past 2^53', bytes: gguf({ entries: 2n ** 63n, body: [] }), says: /metadata entry count is/ },
  {
    what: 'an array of 2^40 strings',
    bytes: gguf({ entries: 1, body: [str('tokenizer.ggml.tokens'), u32(ARRAY), u32(STRING), u64(2n ** 40n)] }),
    says: /claims 1099511627776 strings/,
  },
  {
    what: 'an array of arrays',
    bytes: gguf({ entries: 1, body: [str('x.nested'), u32(ARRAY), u32(ARRAY), u64(1)] }),
    says: /array of unsupported type 9/,
  },
  { what: 'an empty metadata key', bytes: gguf({ entries: 1, body: [str(''), u32(UINT32), u32(1)] }), says: /metadata key 0 is empty/ },
  { what: 'a metadata key with a NUL byte', bytes: gguf({ entries: 1, body: [str('\0general.name'), u32(UINT32), u32(1)] }), says: /holds a NUL byte/ },
  {
    what: 'a vocabulary with a token twice',
    bytes: gguf({ entries: 1, body: [str('tokenizer.ggml.tokens'), u32(ARRAY), u32(STRING), u64(3), str('a'), str('b'), str('a')] }),
    says: /token 2 of the vocabulary appears twice/,
  },
  {
    what: 'a token that equals another up to a NUL byte',
    bytes: gguf({ entries: 1, body: [str('tokenizer.ggml.tokens'), u32(ARRAY), u32(STRING), u64(2), str('ab'), str('ab\0c')] }),
    says: /token 1 of the vocabulary appears twice/,
  },
  {
    what: 'a removed tensor type',
    bytes: gguf({ tensors: 1, entries: 0, body: [str('token_embd.weight'), u32(1), u64(16), u32(4), u64(0)] }),
    says: /tensor 0 has an unknown type 4/,
  },
  {
    what: 'a tensor dimension of 0',
    bytes: gguf({ tensors: 1, entries: 0, body: [str('token_embd.weight'), u32(2), u64(16), u64(0), u32(0), u64(0)] }),
    says: /dimension 1 of tensor 0 is 0/,
  },
  { what: 'an unknown value type', bytes: gguf({ entries: 1, body: [str('x.odd'), u32(99), u32(0)] }), says: /unknown value type 99/ },
  {
    what: 'block_count over 512',
    bytes: gguf({ entries: 1, body: [str('llama.block_count'), u32(UINT32), u32(1000)] }),
    says: /llama\.block_count is 1000 \(llama\.cpp supports at most 512 layers\)/,
  },
  {
    what: 'a tensor with 9 dimensions',
    bytes: gguf({ tensors: 1, entries: 0, body: [str('token_embd.weight'), u32(9)] }),
    says: /tensor 0 has 9 dimensions/,
  },
  {
    what: 'a tensor past the end of the file',
    bytes: gguf({ tensors: 1, entries: 0, body: [str('token_embd.weight'), u32(1), u64(16), u32(0), u64(2 ** 40)] }),
    says: /tensor 0 starts at .* past the end/,
  },
];

describe('GGUF header check', () => {
  for (const { what, bytes, says } of broken) {
    it(`refuses ${what} with a sentence`, async () => {
      const file = path.join(tmp, `${what.replace(/\W+/g, '-')}.gguf`);
      writeFileSync(file, bytes);
      await expect(checkModelFile(file)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(says) });
      // the app's model inspector runs node-llama-cpp's reader in the app process: it must not get there
      await expect(inspectModel(file)).rejects.toMatchObject({ name: 'ModelError', code: 'INVALID', message: expect.stringMatching(/damaged or incomplete|GGUF/) });
    });
  }

  it('passes the real test model, tokenizer and all', async () => {
    const started = performance.now();
    await expect(checkModelFile(testModelPath())).resolves.toBeGreaterThan(50_000_000);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('the engine with a header that lies', () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
  });
  afterAll(async () => engine?.close());

  it('refuses a 2 GiB string length instead of aborting, and loads the real model next', async () => {
    const file = path.join(tmp, 'lying-string.gguf');
    writeFileSync(file, broken[2]!.bytes);
    await expect(engine.loadModel({ path: file })).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('damaged or incomplete') });
    expect(engine.alive).toBe(true);
    await expect(engine.loadModel({ path: testModelPath(), contextSize: 512 })).resolves.toMatchObject({ architecture: 'llama' });
  });
});
