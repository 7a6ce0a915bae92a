// Moves a sequence's saved state from a unified-cache context into a trimmed-layer context
// (llama-sift-kv-budget.cpp, setNextContextLayout). SimLayerKV picks its trimmed layers only after the prompt was
// prefilled with full attention, so the state is saved from the full context, rewritten here, and
// loaded into the trimmed-layer context.
//
// A unified cache (llama_kv_cache) writes one cache's state; the trimmed-layer context's
// llama_kv_cache_iswa reads two in a row (llama_kv_cache_iswa::state_read): the base cache (the
// untrimmed layers, every cell), then the SWA cache (the trimmed layers, only the cells its own
// llama_kv_cache::state_write would keep). The converter writes exactly what that iSWA cache would
// have saved, so llama.cpp reads it with its ordinary checks.
//
// The file (llama_context::state_seq_save_file, format LLAMA_STATE_SEQ_VERSION 3), little endian:
//   u32 magic 'ggsq', u32 version, u32 n_token, i32 token[n_token]
//   then the memory's state (llama_context::state_seq_write_data -> memory->state_write), which
//   for one llama_kv_cache is (llama_kv_cache::state_write):
//   u32 n_stream; per stream: u32 cell_count, and when cell_count > 0:
//     meta (state_write_meta), per cell: i32 pos, u32 n_seq_id, [llama_kv_cell_ext, 12 bytes, only
//       when has_cell_ext()], i32 seq_id[n_seq_id]
//     data (state_write_data): u32 v_trans, u32 n_layer,
//       per layer: i32 k_type, u64 k_row_bytes, k rows (one per cell, in meta order)
//       per layer (layers with V): v_trans == 0: i32 v_type, u64 v_row_bytes, v rows
//                                  v_trans == 1: i32 v_type, u32 v_elem_bytes, u32 n_embd_v_gqa,
//                                                n_embd_v_gqa rows of cell_count elements
// No arch string and no flags: state_seq_write_data writes the memory only.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

export interface TrimmedLayout {
  /** Model layer indices (il) that get the sink + window cache. */
  trimmedLayers: readonly number[];
  /** Positions 0..sink-1 stay in the trimmed layers whatever the window (hparams.sift_n_sink). */
  sink: number;
  /** The trimmed layers' window (hparams.n_swa, LLAMA_SWA_TYPE_STANDARD). */
  window: number;
}

export interface ConvertOptions {
  /** The model's layer count: the file must hold exactly this many layers (recommended). */
  expectedLayers?: number;
  /**
   * llama_kv_cache::has_cell_ext() for this model (M-RoPE or PLE models). The file does not say;
   * the llama architecture, the only one the trimmed-layer layout supports, has none.
   */
  cellExt?: boolean;
}

export interface ConversionStats {
  /** Tokens in the file's header (node-llama-cpp's contextTokens). */
  tokens: number;
  /** Cells of the sequence: all of them stay in the untrimmed layers. */
  cells: number;
  /** Cells the trimmed layers keep. */
  trimmedCells: number;
  /** Layers in the file (the model's). */
  layers: number;
  /** Whether V is stored transposed (a context without flash attention). */
  vTrans: boolean;
  /** Size of the converted state. */
  bytes: number;
}

/** A file llama.cpp would misread, or a layout it cannot take. */
export class KvStateFormatError extends Error {
  override name = 'KvStateFormatError';
}

// include/llama.h
const LLAMA_STATE_SEQ_MAGIC = 0x67677371; // 'ggsq'
const LLAMA_STATE_SEQ_VERSION = 3;
const CELL_EXT_BYTES = 12; // llama_kv_cell_ext: x, y, tok
// ggml_type values are small (GGML_TYPE_COUNT is about 40); anything else is not a layer header
const MAX_GGML_TYPE = 256;
const CHUNK_BYTES = 8 << 20;

interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

interface LayerBlock {
  /** The 12-byte per-layer header, written unchanged (type, row/element size, embd do not depend on the cells). */
  header: Buffer;
  /** Offset of the layer's data. */
  offset: number;
  /** outer x cellCount x inner bytes: K and plain V are 1 x cells x row; transposed V is n_embd x cells x elem. */
  outer: number;
  inner: number;
}

interface ParsedState {
  headerBytes: number;
  tokens: number;
  cellCount: number;
  metaOffset: number;
  metaCellBytes: number;
  positions: Int32Array;
  vTrans: number;
  k: LayerBlock[];
  v: LayerBlock[];
}

function fail(message: string): never {
  throw new KvStateFormatError(`sequence state: ${message}`);
}

async function u32At(src: ByteSource, offset: number): Promise<number> {
  return (await src.read(offset, 4)).readUInt32LE(0);
}

async function parseState(src: ByteSource, options: ConvertOptions): Promise<ParsedState> {
  const head = await src.read(0, 12);
  const magic = head.readUInt32LE(0);
  const version = head.readUInt32LE(4);
  if (magic !== LLAMA_STATE_SEQ_MAGIC) fail(`not a llama.cpp sequence state file (magic 0x${magic.toString(16)})`);
  if (version !== LLAMA_STATE_SEQ_VERSION) fail(`format version ${version}, this converter reads version ${LLAMA_STATE_SEQ_VERSION}`);
  const tokens = head.readUInt32LE(8);
  let offset = 12 + 4 * tokens;
  if (offset > src.size) fail(`truncated: ${tokens} tokens announced, file is ${src.size} bytes`);
  const headerBytes = offset;

  // llama_kv_cache::state_write; node-llama-cpp creates contexts with kv_unified = false, so a
  // context of one sequence has one stream
  const nStream = await u32At(src, offset);
  if (nStream !== 1) fail(`${nStream} KV streams (a context of one sequence has 1); not a unified KV cache's state?`);
  const cellCount = await u32At(src, offset + 4);
  offset += 8;
  if (cellCount === 0) {
    if (offset !== src.size) fail(`${src.size - offset} bytes after an empty sequence's state`);
    return { headerBytes, tokens, cellCount: 0, metaOffset: offset, metaCellBytes: 0, positions: new Int32Array(0), vTrans: 0, k: [], v: [] };
  }

  // state_write_meta writes only the saved sequence's id (n_seq_id = 1), and state_read_meta
  // refuses anything else, so every cell's meta has the same size
  const metaCellBytes = 4 + 4 + (options.cellExt ? CELL_EXT_BYTES : 0) + 4;
  const metaOffset = offset;
  const meta = await src.read(offset, cellCount * metaCellBytes);
  const positions = new Int32Array(cellCount);
  let seqId: number | null = null;
  for (let i = 0; i < cellCount; i++) {
    const at = i * metaCellBytes;
    const pos = meta.readInt32LE(at);
    const nSeqId = meta.readUInt32LE(at + 4);
    if (nSeqId !== 1) fail(`cell ${i} belongs to ${nSeqId} sequences (a sequence's state has 1 per cell)`);
    const id = meta.readInt32LE(at + metaCellBytes - 4);
    if (pos < 0) fail(`cell ${i} has position ${pos}`);
    if (seqId !== null && id !== seqId) fail(`cells of sequences ${seqId} and ${id} in one sequence's state`);
    seqId = id;
    positions[i] = pos;
  }
  offset += cellCount * metaCellBytes;

  // state_write_data
  const dataHead = await src.read(offset, 8);
  const vTrans = dataHead.readUInt32LE(0);
  const nLayer = dataHead.readUInt32LE(4);
  offset += 8;
  if (vTrans > 1) fail(`v_trans = ${vTrans}`);
  if (options.expectedLayers !== undefined && nLayer !== options.expectedLayers) {
    fail(`${nLayer} layers, the model has ${options.expectedLayers}`);
  }

  const k: LayerBlock[] = [];
  for (let l = 0; l < nLayer; l++) {
    const header = await src.read(offset, 12);
    const type = header.readInt32LE(0);
    const row = Number(header.readBigUInt64LE(4));
    if (type < 0 || type >= MAX_GGML_TYPE || !Number.isSafeInteger(row) || row <= 0) fail(`layer ${l}: bad K header (type ${type}, row ${row} bytes)`);
    k.push({ header, offset: offset + 12, outer: 1, inner: row });
    offset += 12 + cellCount * row;
    if (offset > src.size) fail(`truncated in layer ${l}'s K`);
  }
  // every llama layer has V (MLA models write none, and the file would not end where it does)
  const v: LayerBlock[] = [];
  for (let l = 0; l < nLayer; l++) {
    const header = await src.read(offset, 12);
    const type = header.readInt32LE(0);
    let block: LayerBlock;
    if (vTrans) {
      const elem = header.readUInt32LE(4);
      const nEmbd = header.readUInt32LE(8);
      if (type < 0 || type >= MAX_GGML_TYPE || elem === 0 || elem > 8 || nEmbd === 0) {
        fail(`layer ${l}: bad transposed V header (type ${type}, element ${elem} bytes, n_embd ${nEmbd})`);
      }
      block = { header, offset: offset + 12, outer: nEmbd, inner: elem };
    } else {
      const row = Number(header.readBigUInt64LE(4));
      if (type < 0 || type >= MAX_GGML_TYPE || !Number.isSafeInteger(row) || row <= 0) fail(`layer ${l}: bad V header (type ${type}, row ${row} bytes)`);
      block = { header, offset: offset + 12, outer: 1, inner: row };
    }
    v.push(block);
    offset += 12 + block.outer * cellCount * block.inner;
    if (offset > src.size) fail(`truncated in layer ${l}'s V`);
  }
  // the memory's state is the rest of the file (state_seq_load_file asserts it reads it all)
  if (offset !== src.size) fail(`${src.size - offset} unexpected bytes after the KV data (wrong layer count, or cellExt?)`);

  return { headerBytes, tokens, cellCount, metaOffset, metaCellBytes, positions, vTrans, k, v };
}

/**
 * The cells llama_kv_cache::state_write of the iSWA context's SWA cache keeps for the sequence:
 * it skips cells llama_hparams::is_masked_swa(n_swa, STANDARD, pos, seq_pos_max) calls masked
 * (seq_pos_max - pos >= n_swa) unless pos < sift_n_sink (Sift's KV-cache hook). So the trimmed layers keep
 * positions < sink and the last `window` positions up to and including the newest one.
 */
export function trimmedCellMask(positions: ArrayLike<number>, sink: number, window: number): boolean[] {
  let posMax = -1;
  for (let i = 0; i < positions.length; i++) posMax = Math.max(posMax, positions[i]!);
  return Array.from(positions, (pos) => pos < sink || posMax - pos < window);
}

/** Runs [start, end) of consecutive kept cell indices. */
function runsOf(keep: readonly boolean[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    const last = runs[runs.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else runs.push([i, i + 1]);
  }
  return runs;
}

class ChunkWriter {
  private readonly staging = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  written = 0;
  constructor(private readonly flushTo: (chunk: Buffer) => Promise<void>) {}

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, this.staging.length - this.used);
      this.staging.set(bytes.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === this.staging.length) await this.flush();
    }
  }

  async u32(value: number): Promise<void> {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value, 0);
    await this.write(b);
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.flushTo(this.staging.subarray(0, this.used));
    this.written += this.used;
    this.used = 0;
  }
}

async function copyRange(src: ByteSource, out: ChunkWriter, offset: number, length: number): Promise<void> {
  for (let at = 0; at < length; at += CHUNK_BYTES) await out.write(await src.read(offset + at, Math.min(CHUNK_BYTES, length - at)));
}

/** One layer's block with only the cells in `runs` (the cell axis is the middle one). */
async function copyCells(src: ByteSource, out: ChunkWriter, block: LayerBlock, cellCount: number, runs: Array<[number, number]>): Promise<void> {
  const rowBytes = cellCount * block.inner;
  if (runs.length === 1 && runs[0]![0] === 0 && runs[0]![1] === cellCount) {
    await copyRange(src, out, block.offset, block.outer * rowBytes);
    return;
  }
  if (block.outer === 1) {
    for (const [a, b] of runs) await copyRange(src, out, block.offset + a * block.inner, (b - a) * block.inner);
    return;
  }
  // transposed V: n_embd_v_gqa rows of one element per cell; read whole rows in batches, gather
  const rowsPerRead = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
  for (let r0 = 0; r0 < block.outer; r0 += rowsPerRead) {
    const rows = Math.min(rowsPerRead, block.outer - r0);
    const data = await src.read(block.offset + r0 * rowBytes, rows * rowBytes);
    for (let r = 0; r < rows; r++) {
      for (const [a, b] of runs) await out.write(data.subarray(r * rowBytes + a * block.inner, r * rowBytes + b * block.inner));
    }
  }
}

function checkLayout(layout: TrimmedLayout, nLayer: number | null): number[] {
  const { sink, window } = layout;
  if (!Number.isInteger(sink) || sink < 0) throw new KvStateFormatError(`trimmed-layer layout: sink ${sink} must be an integer >= 0`);
  // llama_sift_set_next_context_layout clamps a window below 1 to 1; asking for it is a mistake
  if (!Number.isInteger(window) || window < 1) throw new KvStateFormatError(`trimmed-layer layout: window ${window} must be an integer >= 1`);
  const trimmed = [...new Set(layout.trimmedLayers)].sort((a, b) => a - b);
  // an empty list makes setNextContextLayout create a unified context, which reads the file as it is
  if (trimmed.length === 0) throw new KvStateFormatError('trimmed-layer layout: no trimmed layers (the context would be unified; load the state unconverted)');
  for (const il of trimmed) {
    // llama_sift_take_layout ignores layers out of range; the file's split would then not match
    if (!Number.isInteger(il) || il < 0 || (nLayer !== null && il >= nLayer)) {
      throw new KvStateFormatError(`trimmed-layer layout: layer ${il} is not a layer of this ${nLayer ?? '?'}-layer model`);
    }
  }
  return trimmed;
}

async function convert(src: ByteSource, out: ChunkWriter, layout: TrimmedLayout, options: ConvertOptions): Promise<ConversionStats> {
  checkLayout(layout, options.expectedLayers ?? null);
  const state = await parseState(src, options);
  const nLayer = state.k.length;
  const trimmed = new Set(checkLayout(layout, state.cellCount > 0 ? nLayer : (options.expectedLayers ?? null)));

  await copyRange(src, out, 0, state.headerBytes);
  if (state.cellCount === 0) {
    // each sub-cache writes n_stream and an empty stream
    for (let i = 0; i < 2; i++) {
      await out.u32(1);
      await out.u32(0);
    }
    await out.flush();
    return { tokens: state.tokens, cells: 0, trimmedCells: 0, layers: options.expectedLayers ?? 0, vTrans: false, bytes: out.written };
  }

  const keep = trimmedCellMask(state.positions, layout.sink, layout.window);
  const trimmedCells = keep.filter(Boolean).length;
  // the SWA cache holds min(kv_size, (n_swa + sift_n_sink) + n_ubatch) cells, padded to 256
  // (llama_kv_cache_iswa's constructor); distinct positions keep at most sink + window cells
  if (trimmedCells > layout.sink + layout.window) {
    fail(`the trimmed layers would keep ${trimmedCells} cells, more than sink + window (positions repeat?)`);
  }

  // the iSWA constructor gives each sub-cache the layers its filter (hparams.is_swa(il)) accepts,
  // in increasing il; in a unified cache of a llama model layer l of the file is il = l
  const layers = Array.from({ length: nLayer }, (_, il) => il);
  const parts = [
    { layers: layers.filter((il) => !trimmed.has(il)), runs: [[0, state.cellCount]] as Array<[number, number]>, cells: state.cellCount },
    { layers: layers.filter((il) => trimmed.has(il)), runs: runsOf(keep), cells: trimmedCells },
  ];
  // llama_kv_cache_iswa::state_write: the base cache's state, then the SWA cache's
  for (const part of parts) {
    await out.u32(1); // n_stream
    await out.u32(part.cells);
    if (part.cells === 0) continue;
    for (const [a, b] of part.runs) {
      await copyRange(src, out, state.metaOffset + a * state.metaCellBytes, (b - a) * state.metaCellBytes);
    }
    await out.u32(state.vTrans);
    await out.u32(part.layers.length);
    for (const blocks of [state.k, state.v]) {
      for (const il of part.layers) {
        const block = blocks[il]!;
        await out.write(block.header);
        await copyCells(src, out, block, state.cellCount, part.runs);
      }
    }
  }
  await out.flush();
  return { tokens: state.tokens, cells: state.cellCount, trimmedCells, layers: nLayer, vTrans: state.vTrans === 1, bytes: out.written };
}

function bufferSource(input: Uint8Array): ByteSource {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return {
    size: buf.length,
    read: async (offset, length) => {
      if (offset + length > buf.length) fail(`truncated: needs ${offset + length} bytes, file is ${buf.length}`);
      return buf.subarray(offset, offset + length);
    },
  };
}

async function fileSource(handle: FileHandle): Promise<ByteSource> {
  const size = (await handle.stat()).size;
  return {
    size,
    read: async (offset, length) => {
      if (offset + length > size) fail(`truncated: needs ${offset + length} bytes, file is ${size}`);
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) fail('file shrank while it was read');
        done += bytesRead;
      }
      return buf;
    },
  };
}

/** The pure form of convertStateToTrimmedLayout: a state file's bytes in, the converted bytes out. */
export async function convertStateBuffer(
  input: Uint8Array,
  layout: TrimmedLayout,
  options: ConvertOptions = {},
): Promise<{ output: Buffer; stats: ConversionStats }> {
  const chunks: Buffer[] = [];
  const out = new ChunkWriter(async (chunk) => void chunks.push(Buffer.from(chunk)));
  const stats = await convert(bufferSource(input), out, layout, options);
  return { output: Buffer.concat(chunks), stats };
}

/**
 * Rewrites a sequence state file saved from a unified-cache context (sequence.saveStateToFile)
 * into the layout a context created with `layout` (setNextContextLayout) reads with
 * sequence.loadStateFromFile: untrimmed layers keep every cell, trimmed layers only the sinks and the
 * window. The target context must have the same KV types and flash-attention setting (V layout).
 * Throws KvStateFormatError on anything unexpected; the output file then does not exist.
 */
export async function convertStateToTrimmedLayout(
  inputPath: string,
  outputPath: string,
  layout: TrimmedLayout,
  options: ConvertOptions = {},
): Promise<ConversionStats> {
  const tmpPath = `${outputPath}.${process.pid}.tmp`;
  const input = await open(inputPath, 'r');
  let stats: ConversionStats;
  try {
    const output = await open(tmpPath, 'w');
    try {
      const out = new ChunkWriter(async (chunk) => {
        let done = 0;
        while (done < chunk.length) done += (await output.write(chunk, done, chunk.length - done)).bytesWritten;
      });
      stats = await convert(await fileSource(input), out, layout, options);
    } finally {
      await output.close();
    }
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  } finally {
    // closed before the rename: Windows cannot replace a file that is open (outputPath may be inputPath)
    await input.close();
  }
  await rename(tmpPath, outputPath);
  return stats;
}

/** A sequence state's K and V, cell by cell (tests and diagnostics compare caches with it). */
export interface SequenceStateRows {
  /** positions[cell] = the position the cell holds. */
  positions: Int32Array;
  layers: number;
  /** The bytes of one cell's K row in a layer. */
  k(layer: number, cell: number): Buffer;
  /** The bytes of one cell's V (gathered from the transposed layout when V is stored transposed). */
  v(layer: number, cell: number): Buffer;
}

/** Reads a sequence state's bytes (sequence.saveStateToFile) as per-cell K and V rows. */
export async function readSequenceStateRows(input: Uint8Array, options: ConvertOptions = {}): Promise<SequenceStateRows> {
  const src = bufferSource(input);
  const state = await parseState(src, options);
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const cells = state.cellCount;
  const rowOf = (block: LayerBlock, cell: number) => buf.subarray(block.offset + cell * block.inner, block.offset + (cell + 1) * block.inner);
  return {
    positions: state.positions,
    layers: state.k.length,
    k: (layer, cell) => rowOf(state.k[layer]!, cell),
    v: (layer, cell) => {
      const block = state.v[layer]!;
      if (!state.vTrans) return rowOf(block, cell);
      // transposed: n_embd rows of `cells` elements; element d of this cell is in row d
      const out = Buffer.allocUnsafe(block.outer * block.inner);
      for (let d = 0; d < block.outer; d++) {
        const at = block.offset + (d * cells + cell) * block.inner;
        buf.copy(out, d * block.inner, at, at + block.inner);
      }
      return out;
    },
  };
}
