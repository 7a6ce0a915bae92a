// Checks a model file before node-llama-cpp or llama.cpp reads it. Their GGUF readers trust the
// header's lengths and counts: a string length of 2 GiB aborts node-llama-cpp's reader (a Node
// assertion, SIGABRT), absurd counts end in raw range errors, and llama.cpp writes out of bounds
// past 512 layers (llama.cpp #25821). Every length and count here is held against the bytes the
// file actually has, so such a file gets one sentence a person can act on instead.
import { formatBytes } from '../src-common/format.js';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from './engineError.js';

const GGUF_MAGIC = 'GGUF';
/** llama.cpp's LLAMA_MAX_LAYERS: per-layer arrays are this long. */
export const MAX_GGUF_LAYERS = 512;
/** ggml's GGML_MAX_DIMS and GGML_MAX_NAME. */
const MAX_TENSOR_DIMS = 4;
const MAX_TENSOR_NAME = 64;
/**
 * ggml type ids below GGML_TYPE_COUNT (43 in the bundled llama.cpp) less the removed ones, whose
 * size is 0: readers divide by it. A llama.cpp update that adds types extends this.
 */
const GGML_TYPE_COUNT = 43;
const REMOVED_GGML_TYPES = new Set([4, 5, 31, 32, 33, 36, 37, 38]);

/** GGUF's metadata value types (gguf_type). */
const ValueType = { Uint8: 0, Int8: 1, Uint16: 2, Int16: 3, Uint32: 4, Int32: 5, Float32: 6, Bool: 7, String: 8, Array: 9, Uint64: 10, Int64: 11, Float64: 12 } as const;

/** Bytes of one value of each fixed-size type, by type id. */
const FIXED_SIZE: Readonly<Record<number, number>> = {
  [ValueType.Uint8]: 1,
  [ValueType.Int8]: 1,
  [ValueType.Uint16]: 2,
  [ValueType.Int16]: 2,
  [ValueType.Uint32]: 4,
  [ValueType.Int32]: 4,
  [ValueType.Float32]: 4,
  [ValueType.Bool]: 1,
  [ValueType.Uint64]: 8,
  [ValueType.Int64]: 8,
  [ValueType.Float64]: 8,
};

/** A header that breaks the format; the message says what, in words. */
class HeaderProblem extends Error {}

/** Sequential reads through a 1 MiB window, so a large tokenizer costs no more than its bytes. */
class HeaderReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  position = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly fileSize: number,
  ) {}

  get remaining(): number {
    return this.fileSize - this.position;
  }

  private async bytes(count: number): Promise<Buffer> {
    if (count > this.remaining) throw new HeaderProblem(`it ends ${this.fileSize - this.position} bytes after offset ${this.position}, inside its header`);
    const end = this.position + count;
    if (this.position < this.windowStart || end > this.windowStart + this.window.length) {
      const size = Math.min(Math.max(count, 1 << 20), this.fileSize - this.position);
      this.window = Buffer.alloc(size);
      const { bytesRead } = await this.handle.read(this.window, 0, size, this.position);
      this.window = this.window.subarray(0, bytesRead);
      this.windowStart = this.position;
      if (bytesRead < count) throw new HeaderProblem(`it could not be read past offset ${this.position + bytesRead}`);
    }
    const at = this.position - this.windowStart;
    this.position = end;
    return this.window.subarray(at, at + count);
  }

  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE(0);
  }

  async u64(what: string): Promise<number> {
    const value = (await this.bytes(8)).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new HeaderProblem(`${what} is ${value}`);
    return Number(value);
  }

  async skip(count: number): Promise<void> {
    if (count > this.remaining) throw new HeaderProblem(`it ends before offset ${this.position + count}, inside its header`);
    this.position += count;
  }

  /** A length-prefixed string, refused when its length runs past the end of the file. */
  async string(what: string, maxLength = Infinity): Promise<Buffer> {
    const length = await this.u64(`the length of ${what}`);
    if (length > this.remaining) {
      throw new HeaderProblem(`${what} claims ${formatBytes(length)} but only ${formatBytes(this.remaining)} of the file follow`);
    }
    if (length > maxLength) throw new HeaderProblem(`${what} is ${length} bytes long (at most ${maxLength})`);
    return this.bytes(length);
  }
}

/**
 * llama.cpp asserts that no two vocabulary entries are the same string, as it reads them: as C
 * strings (up to a NUL byte), with an empty one renamed "[EMPTY_i]".
 */
async function checkTokenList(reader: HeaderReader, type: number, key: string): Promise<void> {
  if (type !== ValueType.Array) return skipValue(reader, type, key);
  const elementType = await reader.u32();
  if (elementType !== ValueType.String) throw new HeaderProblem(`${key} is not a list of strings`);
  const count = await reader.u64(`the length of ${key}`);
  if (count * 8 > reader.remaining) throw new HeaderProblem(`${key} claims ${count} strings, more than the file can hold`);
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const bytes = await reader.string(`element ${i} of ${key}`);
    const nul = bytes.indexOf(0);
    const token = (nul < 0 ? bytes : bytes.subarray(0, nul)).toString('latin1') || `[EMPTY_${i}]`;
    if (seen.has(token)) throw new HeaderProblem(`token ${i} of the vocabulary appears twice`);
    seen.add(token);
  }
}

async function skipValue(reader: HeaderReader, type: number, key: string): Promise<void> {
  const fixed = FIXED_SIZE[type];
  if (fixed !== undefined) return reader.skip(fixed);
  if (type === ValueType.String) {
    await reader.string(`the value of ${key}`);
    return;
  }
  if (type !== ValueType.Array) throw new HeaderProblem(`${key} has an unknown value type ${type}`);
  const elementType = await reader.u32();
  const count = await reader.u64(`the length of ${key}`);
  if (elementType === ValueType.String) {
    // each string takes at least its 8-byte length
    if (count * 8 > reader.remaining) throw new HeaderProblem(`${key} claims ${count} strings, more than the file can hold`);
    for (let i = 0; i < count; i++) await reader.string(`element ${i} of ${key}`);
    return;
  }
  const elementSize = FIXED_SIZE[elementType];
  if (elementSize === undefined) throw new HeaderProblem(`${key} is an array of unsupported type ${elementType}`);
  if (count * elementSize > reader.remaining) throw new HeaderProblem(`${key} claims ${count} elements, more than the file can hold`);
  await reader.skip(count * elementSize);
}

async function readUintValue(reader: HeaderReader, type: number, key: string): Promise<number | null> {
  if (type === ValueType.Uint32 || type === ValueType.Int32) return reader.u32();
  if (type === ValueType.Uint64 || type === ValueType.Int64) return reader.u64(key);
  await skipValue(reader, type, key);
  return null;
}

/** Walks the header: version, counts, every metadata entry and every tensor's description. */
async function checkHeader(reader: HeaderReader): Promise<void> {
  const version = await reader.u32();
  if (version !== 2 && version !== 3) throw new HeaderProblem(`its GGUF version is ${version} (this llama.cpp reads versions 2 and 3)`);
  const tensorCount = await reader.u64('the tensor count');
  const entryCount = await reader.u64('the metadata entry count');
  // a metadata entry takes at least 13 bytes (key length, key, type, value), a tensor at least 32
  if (entryCount * 13 > reader.remaining) throw new HeaderProblem(`it claims ${entryCount} metadata entries, more than the file can hold`);
  if (tensorCount * 32 > reader.remaining) throw new HeaderProblem(`it claims ${tensorCount} tensors, more than the file can hold`);

  for (let i = 0; i < entryCount; i++) {
    const keyBytes = await reader.string(`metadata key ${i}`, 65_535);
    // llama.cpp reads keys as C strings too: a NUL makes one empty or the same as another
    if (keyBytes.length === 0 || keyBytes.includes(0)) throw new HeaderProblem(`metadata key ${i} is empty or holds a NUL byte`);
    const key = keyBytes.toString('utf8');
    const type = await reader.u32();
    if (key === 'tokenizer.ggml.tokens') {
      await checkTokenList(reader, type, key);
    } else if (key.endsWith('.block_count')) {
      const layers = await readUintValue(reader, type, key);
      if (layers !== null && layers > MAX_GGUF_LAYERS) throw new HeaderProblem(`${key} is ${layers} (llama.cpp supports at most ${MAX_GGUF_LAYERS} layers)`);
    } else {
      await skipValue(reader, type, key);
    }
  }
  for (let i = 0; i < tensorCount; i++) {
    await reader.string(`the name of tensor ${i}`, MAX_TENSOR_NAME - 1);
    const dims = await reader.u32();
    if (dims < 1 || dims > MAX_TENSOR_DIMS) throw new HeaderProblem(`tensor ${i} has ${dims} dimensions (at most ${MAX_TENSOR_DIMS})`);
    let elements = 1;
    for (let d = 0; d < dims; d++) {
      const size = await reader.u64(`dimension ${d} of tensor ${i}`);
      // llama.cpp asserts every dimension >= 1 (an abort, in whichever process reads it)
      if (size < 1) throw new HeaderProblem(`dimension ${d} of tensor ${i} is 0`);
      elements *= size;
    }
    // no ggml type stores a weight in less than a bit
    if (elements > reader.fileSize * 8) throw new HeaderProblem(`tensor ${i} claims ${elements} weights, more than the file can hold`);
    const type = await reader.u32();
    if (type >= GGML_TYPE_COUNT || REMOVED_GGML_TYPES.has(type)) throw new HeaderProblem(`tensor ${i} has an unknown type ${type}`);
    const offset = await reader.u64(`the offset of tensor ${i}`);
    if (offset > reader.fileSize) throw new HeaderProblem(`tensor ${i} starts at ${formatBytes(offset)}, past the end of the ${formatBytes(reader.fileSize)} file`);
  }
}

/**
 * Checks that the file exists, is a GGUF file and has a header that holds together; returns its
 * size. Throws MODEL_NOT_FOUND or MODEL_INVALID with a message for the person who chose the file.
 */
export async function checkModelFile(modelPath: string): Promise<number> {
  return (await checkGgufFile(modelPath)).sizeBytes;
}

/** checkModelFile, also saying where the header ends (the fuzzer mutates the header's bytes). */
export async function checkGgufFile(modelPath: string): Promise<{ sizeBytes: number; headerBytes: number }> {
  const name = path.basename(modelPath);
  let size: number;
  try {
    const info = await stat(modelPath);
    if (info.isDirectory()) throw new EngineError('MODEL_NOT_FOUND', `${modelPath} is a folder, not a model file: choose the .gguf file inside it.`);
    if (!info.isFile()) throw new EngineError('MODEL_NOT_FOUND', `${modelPath} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError('MODEL_NOT_FOUND', `Model file not found: ${modelPath}`);
  }
  const handle = await open(modelPath, 'r').catch(() => {
    throw new EngineError('MODEL_NOT_FOUND', `Model file is not readable: ${modelPath}`);
  });
  try {
    if (size === 0) throw new EngineError('MODEL_INVALID', `${name} is empty (0 bytes): the download or copy did not finish. Download it again.`);
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    if (bytesRead < 4 || magic.toString('latin1') !== GGUF_MAGIC) {
      throw new EngineError('MODEL_INVALID', `${name} is not a GGUF model file (wrong header).`);
    }
    const reader = new HeaderReader(handle, size);
    reader.position = 4;
    await checkHeader(reader);
    return { sizeBytes: size, headerBytes: reader.position };
  } catch (err) {
    if (err instanceof HeaderProblem) {
      throw new EngineError('MODEL_INVALID', `${name} is damaged or incomplete: ${err.message}. Download it again, or choose another model.`);
    }
    throw err;
  } finally {
    await handle.close();
  }
}
