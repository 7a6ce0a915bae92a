// Which model the benchmark ran, pinned down: file, size, sha256 (the cache key) and the shape
// the FLOP counts use, read from the GGUF header (pure JS: no native library in this process).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import type { ModelShape } from '../../src-common/policy/flops.js';

export interface ModelIdentity {
  path: string;
  fileName: string;
  name: string;
  architecture: string;
  sizeBytes: number;
  sha256: string;
  shape: ModelShape;
  vocabSize: number | null;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function numberAt(section: unknown, dotted: string): number | undefined {
  const value = dotted.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], section);
  if (typeof value === 'number') return value;
  // some GGUFs give per-layer arrays; the benchmark's FLOP count assumes uniform layers
  if (Array.isArray(value) && typeof value[0] === 'number') return value[0];
  return undefined;
}

export async function identifyModel(file: string): Promise<ModelIdentity> {
  const [info, stats, sha256] = await Promise.all([readGgufFileInfo(file, { readTensorInfo: false }), stat(file), sha256File(file)]);
  const metadata = info.metadata as unknown as Record<string, unknown> & { general: { architecture: string; name?: string } };
  const architecture = String(metadata.general.architecture);
  const section = metadata[architecture];
  const required = (key: string): number => {
    const value = numberAt(section, key);
    if (value === undefined) throw new Error(`${path.basename(file)} has no ${architecture}.${key} in its GGUF header`);
    return value;
  };
  const embeddingLength = required('embedding_length');
  const heads = required('attention.head_count');
  return {
    path: file,
    fileName: path.basename(file),
    name: metadata.general.name ?? path.basename(file, '.gguf'),
    architecture,
    sizeBytes: stats.size,
    sha256,
    shape: {
      layers: required('block_count'),
      embeddingLength,
      heads,
      kvHeads: numberAt(section, 'attention.head_count_kv') ?? heads,
      headDim: numberAt(section, 'attention.key_length') ?? embeddingLength / heads,
      feedForwardLength: required('feed_forward_length'),
    },
    vocabSize: numberAt(section, 'vocab_size') ?? null,
  };
}
