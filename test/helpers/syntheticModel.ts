// Small GGUF models of architectures no test model ships for (qwen2, qwen3, phi3, gemma2, gemma3): random weights, the
// test model's tokenizer. llama.cpp runs them like any other model, so the invariants that do not
// depend on what the weights mean (lazy prefill with keep 1 equals stock; pruned tokens are never
// attended) can be checked on each architecture's real graph builder. Written to GGUF v3 directly:
// the format is a header, key/value metadata, tensor descriptions and aligned tensor data.
import { writeFile } from 'node:fs/promises';
import { readGgufFileInfo } from 'node-llama-cpp';
import { seededRandom } from '../../src-engine/sampling.js';

export type SyntheticArchitecture = 'qwen2' | 'qwen3' | 'phi3' | 'gemma2' | 'gemma3';

/**
 * The sliding window the gemma models get: far shorter than the test prompts, so the window
 * decides what a layer attends to (real gemma2 uses 4,096, gemma3 512 or 1,024).
 */
export const SYNTHETIC_WINDOW = 128;

export interface SyntheticShape {
  layers: number;
  embd: number;
  heads: number;
  headsKv: number;
  ff: number;
  /** The trained context written in the metadata (default 4,096). */
  contextLength?: number;
}

export const SMALL_SHAPE: SyntheticShape = { layers: 6, embd: 128, heads: 4, headsKv: 2, ff: 256 };

const ALIGNMENT = 32;
// GGUF value type ids
const UINT32 = 4;
const INT32 = 5;
const FLOAT32 = 6;
const BOOL = 7;
const STRING = 8;
const ARRAY = 9;
const GGML_TYPE_F32 = 0;

type Value =
  | { kind: 'u32' | 'i32' | 'f32'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'str'; value: string }
  | { kind: 'strs'; value: string[] }
  | { kind: 'i32s'; value: number[] };

class Writer {
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  /** A little-endian fixed-size value, written by one of Buffer's writers. */
  private fixed(size: number, write: (b: Buffer) => void): void {
    const b = Buffer.alloc(size);
    write(b);
    this.push(b);
  }
  u32(v: number): void {
    this.fixed(4, (b) => b.writeUInt32LE(v));
  }
  i32(v: number): void {
    this.fixed(4, (b) => b.writeInt32LE(v));
  }
  u64(v: number): void {
    this.fixed(8, (b) => b.writeBigUInt64LE(BigInt(v)));
  }
  f32(v: number): void {
    this.fixed(4, (b) => b.writeFloatLE(v));
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad) this.push(Buffer.alloc(pad));
  }
  value(v: Value): void {
    switch (v.kind) {
      case 'u32':
        this.u32(UINT32);
        return this.u32(v.value);
      case 'i32':
        this.u32(INT32);
        return this.i32(v.value);
      case 'f32':
        this.u32(FLOAT32);
        return this.f32(v.value);
      case 'bool':
        this.u32(BOOL);
        return this.push(Buffer.from([v.value ? 1 : 0]));
      case 'str':
        this.u32(STRING);
        return this.string(v.value);
      case 'strs':
        this.u32(ARRAY);
        this.u32(STRING);
        this.u64(v.value.length);
        return v.value.forEach((item) => this.string(item));
      case 'i32s':
        this.u32(ARRAY);
        this.u32(INT32);
        this.u64(v.value.length);
        return v.value.forEach((item) => this.i32(item));
    }
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

interface Tensor {
  name: string;
  /** ggml order: ne0 (the row length) first. */
  dims: number[];
  data: Float32Array;
}

function tensorsOf(arch: SyntheticArchitecture, shape: SyntheticShape, vocab: number, seed: number): Tensor[] {
  // deterministic weights: the same file for the same seed, so failures reproduce
  const next = seededRandom(seed);
  const headDim = shape.embd / shape.heads;
  const kvDim = headDim * shape.headsKv;
  // weights ~ U(-a, a) with a = 1/sqrt(fan-in): activations stay of order one through the layers
  const matrix = (name: string, cols: number, rows: number): Tensor => {
    const a = 1 / Math.sqrt(cols);
    return { name, dims: [cols, rows], data: Float32Array.from({ length: cols * rows }, () => (next() * 2 - 1) * a) };
  };
  const ones = (name: string, n: number): Tensor => ({ name, dims: [n], data: new Float32Array(n).fill(1) });
  const small = (name: string, n: number): Tensor => ({ name, dims: [n], data: Float32Array.from({ length: n }, () => (next() * 2 - 1) * 0.1) });

  const tensors: Tensor[] = [matrix('token_embd.weight', shape.embd, vocab), ones('output_norm.weight', shape.embd)];
  for (let i = 0; i < shape.layers; i++) {
    const blk = `blk.${i}`;
    tensors.push(
      ones(`${blk}.attn_norm.weight`, shape.embd),
      matrix(`${blk}.attn_q.weight`, shape.embd, shape.embd),
      matrix(`${blk}.attn_k.weight`, shape.embd, kvDim),
      matrix(`${blk}.attn_v.weight`, shape.embd, kvDim),
      matrix(`${blk}.attn_output.weight`, shape.embd, shape.embd),
      ones(`${blk}.ffn_norm.weight`, shape.embd),
      matrix(`${blk}.ffn_down.weight`, shape.ff, shape.embd),
    );
    // phi3 stores the gate and up projections as one matrix
    if (arch === 'phi3') tensors.push(matrix(`${blk}.ffn_up.weight`, shape.embd, 2 * shape.ff));
    else tensors.push(matrix(`${blk}.ffn_gate.weight`, shape.embd, shape.ff), matrix(`${blk}.ffn_up.weight`, shape.embd, shape.ff));
    if (arch === 'qwen2') {
      tensors.push(small(`${blk}.attn_q.bias`, shape.embd), small(`${blk}.attn_k.bias`, kvDim), small(`${blk}.attn_v.bias`, kvDim));
    }
    if (arch === 'qwen3' || arch === 'gemma3') {
      tensors.push(ones(`${blk}.attn_q_norm.weight`, headDim), ones(`${blk}.attn_k_norm.weight`, headDim));
    }
    if (arch === 'gemma2' || arch === 'gemma3') {
      tensors.push(ones(`${blk}.post_attention_norm.weight`, shape.embd), ones(`${blk}.post_ffw_norm.weight`, shape.embd));
    }
  }
  return tensors;
}

/** Keys only some architectures read: the gemmas' sliding window and soft-capping. */
function architectureMetadata(arch: SyntheticArchitecture): Array<[string, Value]> {
  if (arch === 'gemma2') {
    return [
      ['gemma2.attention.sliding_window', { kind: 'u32', value: SYNTHETIC_WINDOW }],
      ['gemma2.attn_logit_softcapping', { kind: 'f32', value: 50 }],
      ['gemma2.final_logit_softcapping', { kind: 'f32', value: 30 }],
    ];
  }
  if (arch === 'gemma3') {
    // every third layer attends to everything, the others to the window (real gemma3: every sixth)
    return [
      ['gemma3.attention.sliding_window', { kind: 'u32', value: SYNTHETIC_WINDOW }],
      ['gemma3.attention.sliding_window_pattern', { kind: 'u32', value: 3 }],
    ];
  }
  return [];
}

/**
 * Writes a GGUF of `arch` with random weights and the tokenizer of `tokenizerModel` (a GPT-2-style
 * BPE GGUF such as the SmolLM2 test model), to `file`.
 */
export async function writeSyntheticModel(
  file: string,
  arch: SyntheticArchitecture,
  tokenizerModel: string,
  shape: SyntheticShape = SMALL_SHAPE,
  seed = 1,
): Promise<void> {
  const info = await readGgufFileInfo(tokenizerModel, { readTensorInfo: false });
  const tok = (info.metadata as unknown as { tokenizer: { ggml: Record<string, unknown> } }).tokenizer.ggml;
  const tokens = tok['tokens'] as string[];
  const metadata: Array<[string, Value]> = [
    ['general.architecture', { kind: 'str', value: arch }],
    // no architecture in the name: llama.cpp tunes some vocabularies by the model's name (phi3 needs </s>)
    ['general.name', { kind: 'str', value: 'sift synthetic model' }],
    ['general.alignment', { kind: 'u32', value: ALIGNMENT }],
    [`${arch}.block_count`, { kind: 'u32', value: shape.layers }],
    [`${arch}.context_length`, { kind: 'u32', value: shape.contextLength ?? 4096 }],
    [`${arch}.embedding_length`, { kind: 'u32', value: shape.embd }],
    [`${arch}.feed_forward_length`, { kind: 'u32', value: shape.ff }],
    [`${arch}.attention.head_count`, { kind: 'u32', value: shape.heads }],
    [`${arch}.attention.head_count_kv`, { kind: 'u32', value: shape.headsKv }],
    [`${arch}.rope.freq_base`, { kind: 'f32', value: 10000 }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { kind: 'f32', value: 1e-6 }],
    ['tokenizer.ggml.model', { kind: 'str', value: String(tok['model']) }],
    ['tokenizer.ggml.pre', { kind: 'str', value: String(tok['pre']) }],
    ['tokenizer.ggml.tokens', { kind: 'strs', value: tokens }],
    ['tokenizer.ggml.token_type', { kind: 'i32s', value: tok['token_type'] as number[] }],
    ['tokenizer.ggml.merges', { kind: 'strs', value: tok['merges'] as string[] }],
    ['tokenizer.ggml.bos_token_id', { kind: 'u32', value: Number(tok['bos_token_id']) }],
    ['tokenizer.ggml.eos_token_id', { kind: 'u32', value: Number(tok['eos_token_id']) }],
    ['tokenizer.ggml.add_bos_token', { kind: 'bool', value: false }],
  ];
  metadata.push(...architectureMetadata(arch));
  const tensors = tensorsOf(arch, shape, tokens.length, seed);

  const out = new Writer();
  out.push(Buffer.from('GGUF', 'latin1'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    out.value(value);
  }
  let offset = 0;
  for (const t of tensors) {
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(GGML_TYPE_F32);
    out.u64(offset);
    offset += Math.ceil(t.data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  out.padTo(ALIGNMENT);
  for (const t of tensors) {
    out.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    out.padTo(ALIGNMENT);
  }
  await writeFile(file, out.bytes());
}
