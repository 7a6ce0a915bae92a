// The one typed door to Sift's additions in the native addon (native-patches/sources/addon/AddonSift.cpp). Everything
// that needs per-layer statistics (lazy prefill, SimLayerKV trimming, eviction) goes through here.
import type { Llama, LlamaContext, LlamaContextSequence } from 'node-llama-cpp';
import type { BufferMemory, LayerKvStats } from '../src-common/engineTypes.js';

interface SiftAddon {
  siftBuildId?: () => string;
  siftKvLayerStats?: (context: unknown) => NativeLayerStats[];
  siftSetObservation?: (context: unknown, nLast: number) => void;
  siftGetObservation?: (context: unknown, layer: number) => { nKv: number; nHeadKv: number; scores: Float32Array } | null;
  siftGetCellPositions?: (context: unknown, seqId: number, nCells: number) => Int32Array;
  siftPrefill?: (context: unknown, seqId: number, tokens: Uint32Array, schedule: LazySchedule) => Promise<LazyPrefillStats>;
  siftGetLastLogits?: (context: unknown) => Float32Array | null;
  siftRevive?: (context: unknown, seqId: number) => Promise<{ revived: number; ms: number }>;
  siftReset?: (context: unknown) => void;
  siftGetProgress?: (context: unknown) => { done: number; total: number };
  siftCancel?: (context: unknown) => void;
  siftSetNextContextLayout?: (trimmedLayers: Int32Array, nSink: number, nWindow: number) => void;
  siftGetValueNorms?: (context: unknown, layer: number) => { nCells: number; nHeadKv: number; norms: Float32Array } | null;
  siftGetKeySimilarity?: (context: unknown, layer: number) => { nCells: number; nHeadKv: number; similarity: Float32Array } | null;
  siftMemoryBytes?: (context: unknown) => { kv: number; compute: number };
  siftMemoryByBuffer?: (
    context: unknown,
  ) => Array<{ bufferType: string; device: string; isHost: boolean; model: number; context: number; compute: number }>;
  siftRpcAddWorker?: (endpoint: string) => Array<{ name: string; free: number; total: number }>;
  siftRpcServe?: (endpoint: string, threads: number, cacheDir: string) => { devices: string[] };
}

/** Where LazyLLM prunes: at each prune layer, the kept fraction of the prompt continues. */
export interface LazySchedule {
  pruneLayers: number[];
  keep: number[];
  /** The first tokens, never pruned (attention sinks). */
  nSink: number;
  /** The last tokens, never pruned (the question and the chat template's tail). */
  nRecent: number;
  /** Tokens are scored by the attention of this many last prompt tokens. */
  obsWindow: number;
  /** Each KV head's scores are max-pooled over this many positions before ranking (1 = none). */
  pool?: number;
  /** Sum the attention of every layer from this one up to each prune point; -1 or absent: the previous layer only. */
  scoreFrom?: number;
  /** Rank whole sentences (runs of at most this many tokens) by their best token; 0 or absent: each token alone. */
  span?: number;
  /** Keep pruned tokens absent (masked) after the prefill, until revived. */
  keepMasked?: boolean;
}

/** Measured by the native prefill itself. */
export interface LazyPrefillStats {
  promptTokens: number;
  /** Tokens computed at each layer. */
  computed: number[];
  /** Cells each layer's attention spanned (only the kept tokens' after a prune point). */
  keys: number[];
  segments: Array<{ firstLayer: number; tokens: number; ms: number }>;
  /** Tokens whose hidden state waits in the aux cache. */
  pruned: number;
  auxBytes: number;
  /** Each pruned token's position and the first layer it was not computed in (absent from older builds). */
  prunedAt?: { positions: Int32Array; layers: Int32Array };
}

interface NativeLayerStats {
  layer: number;
  cells: number;
  used: number;
  bytesK: number;
  bytesV: number;
  /** Trimmed (SimLayerKV) layer: sinks and window it keeps; 0 for a layer that keeps every token. */
  sink?: number;
  window?: number;
}

// node-llama-cpp keeps the addon and the native context on internal fields of its public classes.
function addonOf(llama: Llama): SiftAddon {
  return (llama as unknown as { _bindings: SiftAddon })._bindings;
}

function nativeContextOf(context: LlamaContext): unknown {
  return (context as unknown as { _ctx: unknown })._ctx;
}

/** llama.cpp's seq_id of a node-llama-cpp sequence. */
export function sequenceIdOf(sequence: LlamaContextSequence): number {
  return (sequence as unknown as { _sequenceId: number })._sequenceId;
}

/** The patched build's marker, or null for a build without Sift's patches. */
export function readSiftBuildId(llama: Llama): string | null {
  const addon = addonOf(llama);
  return typeof addon.siftBuildId === 'function' ? addon.siftBuildId() : null;
}

export interface KvLayerReading {
  perLayer: LayerKvStats[];
  bytesAllocated: number;
  bytesUsed: number;
}

/**
 * Reads per-layer KV statistics between evaluations. Returns null on a build without them.
 * bytesUsed counts the used cells' share of each layer's K and V buffers.
 */
export function readKvLayerStats(llama: Llama, context: LlamaContext): KvLayerReading | null {
  const addon = addonOf(llama);
  if (typeof addon.siftKvLayerStats !== 'function') return null;
  const raw = addon.siftKvLayerStats(nativeContextOf(context));
  let bytesAllocated = 0;
  let bytesUsed = 0;
  const perLayer = raw.map((entry) => {
    const bytes = entry.bytesK + entry.bytesV;
    bytesAllocated += bytes;
    if (entry.cells > 0) bytesUsed += Math.round((bytes * entry.used) / entry.cells);
    const window = entry.window ?? 0;
    return { layer: entry.layer, cells: entry.used, bytes, trimmed: window > 0, ...(window > 0 ? { window, sink: entry.sink ?? 0 } : {}) };
  });
  return { perLayer, bytesAllocated, bytesUsed };
}

/** One layer's observed attention: scores[h * nKv + cell], averaged per KV head. */
export interface LayerObservation {
  layer: number;
  nKv: number;
  nHeadKv: number;
  scores: Float32Array;
}

function requireAddon<K extends keyof SiftAddon>(llama: Llama, name: K): NonNullable<SiftAddon[K]> {
  const fn = addonOf(llama)[name];
  if (typeof fn !== 'function') throw new Error(`this build has no ${name} (run npm run setup for the patched build)`);
  return fn as NonNullable<SiftAddon[K]>;
}

export function hasObservation(llama: Llama): boolean {
  return typeof addonOf(llama).siftSetObservation === 'function';
}

/** Observe the attention of the last `nLast` queries of each ubatch (0 turns it off). */
export function setObservation(llama: Llama, context: LlamaContext, nLast: number): void {
  requireAddon(llama, 'siftSetObservation')(nativeContextOf(context), nLast);
}

/** Every layer's observation from the last evaluated ubatch (layers without one are left out). */
export function readObservation(llama: Llama, context: LlamaContext, layers: number): LayerObservation[] {
  const get = requireAddon(llama, 'siftGetObservation');
  const result: LayerObservation[] = [];
  for (let layer = 0; layer < layers; layer++) {
    const obs = get(nativeContextOf(context), layer);
    if (obs) result.push({ layer, nKv: obs.nKv, nHeadKv: obs.nHeadKv, scores: obs.scores });
  }
  return result;
}

/** The position of the sequence's token in each of the first nCells KV cells, -1 where none. */
export function readCellPositions(llama: Llama, context: LlamaContext, seqId: number, nCells: number): Int32Array {
  return requireAddon(llama, 'siftGetCellPositions')(nativeContextOf(context), seqId, nCells);
}

export function hasLazyPrefill(llama: Llama): boolean {
  return typeof addonOf(llama).siftPrefill === 'function';
}

/**
 * Prefills `tokens` into the sequence segment by segment, pruning as the schedule says, on a
 * worker thread. node-llama-cpp's own bookkeeping of the sequence does not see these tokens, so
 * callers wipe the sequence natively afterwards (clearNativeSequence).
 */
export function lazyPrefill(
  llama: Llama,
  sequence: LlamaContextSequence,
  tokens: readonly number[],
  schedule: LazySchedule,
): Promise<LazyPrefillStats> {
  return requireAddon(llama, 'siftPrefill')(nativeContextOf(sequence.context), sequenceIdOf(sequence), Uint32Array.from(tokens), schedule);
}

/** The last evaluated token's logits (after a lazy prefill: the prompt's last token). */
export function readLastLogits(llama: Llama, context: LlamaContext): Float32Array {
  const logits = requireAddon(llama, 'siftGetLastLogits')(nativeContextOf(context));
  if (!logits) throw new Error('no logits after the prefill');
  return logits;
}

/** Removes every cell of the sequence, including ones node-llama-cpp does not know about. */
export function clearNativeSequence(sequence: LlamaContextSequence): void {
  const native = nativeContextOf(sequence.context) as { disposeSequence(seqId: number): boolean };
  native.disposeSequence(sequenceIdOf(sequence));
}

/** Completes the last lazy prefill's pruned tokens from the aux cache (each layer computed once). */
export function revivePruned(llama: Llama, sequence: LlamaContextSequence): Promise<{ revived: number; ms: number }> {
  return requireAddon(llama, 'siftRevive')(nativeContextOf(sequence.context), sequenceIdOf(sequence));
}

/**
 * Tells node-llama-cpp's sequence that `tokens` are in its cache (they were prefilled natively),
 * the way node-llama-cpp itself does after loading a saved state, so generation continues after them.
 */
export function adoptNativeTokens(sequence: LlamaContextSequence, tokens: readonly number[]): void {
  const internal = sequence as unknown as { _contextTokens: number[]; _nextTokenIndex: number };
  internal._contextTokens = [...tokens];
  internal._nextTokenIndex = tokens.length;
}

/** Forgets the last lazy prefill's masks and aux cache, before the cells are reused. */
export function resetLazyState(llama: Llama, context: LlamaContext): void {
  addonOf(llama).siftReset?.(nativeContextOf(context));
}

/** The running lazy prefill's progress as a fraction (0 before it starts). */
export function readPrefillProgress(llama: Llama, context: LlamaContext): number {
  const progress = addonOf(llama).siftGetProgress?.(nativeContextOf(context));
  return progress && progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
}

/** Stops the running lazy prefill or revival inside the ubatch in flight (CPU backends; after it elsewhere); its promise then rejects. */
export function cancelPrefill(llama: Llama, context: LlamaContext): void {
  addonOf(llama).siftCancel?.(nativeContextOf(context));
}

export function isPrefillCancelled(error: unknown): boolean {
  return error instanceof Error && error.message.includes('lazy prefill cancelled');
}

/** Each layer's last observation, with the prompt position held by every cell it covers. */
export function readObservationWithPositions(
  llama: Llama,
  sequence: LlamaContextSequence,
  layers: number,
): { positions: Int32Array; layers: LayerObservation[] } {
  const observed = readObservation(llama, sequence.context, layers);
  const nCells = Math.max(0, ...observed.map((l) => l.nKv));
  return { positions: readCellPositions(llama, sequence.context, sequenceIdOf(sequence), nCells), layers: observed };
}

export function hasKvBudgets(llama: Llama): boolean {
  return typeof addonOf(llama).siftSetNextContextLayout === 'function';
}

/**
 * Contexts created from now on give these (lazy) layers a cache of their own holding only the first
 * `sink` and the last `window` positions (SimLayerKV), until an empty list clears it. Set it right
 * before createContext and clear it after: one layout per process, contexts are created one at a time.
 */
export function setNextContextLayout(llama: Llama, trimmedLayers: readonly number[], sink: number, window: number): void {
  requireAddon(llama, 'siftSetNextContextLayout')(Int32Array.from(trimmedLayers), sink, window);
}

/** L1 norm of each cell's value vector in `layer`, per KV head: norms[h * nCells + cell]. */
export function readValueNorms(llama: Llama, context: LlamaContext, layer: number): { nCells: number; nHeadKv: number; norms: Float32Array } | null {
  return requireAddon(llama, 'siftGetValueNorms')(nativeContextOf(context), layer);
}

/**
 * Cosine of each cell's key in `layer` to the mean unit key of the used cells, per KV head:
 * similarity[h * nCells + cell]; null for a layer outside the full layers' cache.
 */
export function readKeySimilarity(llama: Llama, context: LlamaContext, layer: number): { nCells: number; nHeadKv: number; similarity: Float32Array } | null {
  return requireAddon(llama, 'siftGetKeySimilarity')(nativeContextOf(context), layer);
}

/** Bytes the backends allocated for the context's KV cache (llama_get_memory_breakdown). */
export function readKvMemoryBytes(llama: Llama, context: LlamaContext): number | null {
  const read = addonOf(llama).siftMemoryBytes;
  return typeof read === 'function' ? read(nativeContextOf(context)).kv : null;
}

/** Where the weights, the KV cache and the compute buffers live, per buffer type; null without the patch. */
export function readMemoryByBuffer(llama: Llama, context: LlamaContext): BufferMemory[] | null {
  return readMemoryOfAddonContext(llama, nativeContextOf(context));
}

/** The same reading of an addon context node-llama-cpp does not wrap (a dry run's, dryRun.ts). */
export function readMemoryOfAddonContext(llama: Llama, addonContext: unknown): BufferMemory[] | null {
  const read = addonOf(llama).siftMemoryByBuffer;
  if (typeof read !== 'function') return null;
  return read(addonContext).map((entry) => ({
    bufferType: entry.bufferType,
    device: entry.device,
    isHost: entry.isHost,
    modelBytes: entry.model,
    kvBytes: entry.context,
    computeBytes: entry.compute,
  }));
}

/** ggml's RPC backend in this build: how a `sift worker` serves and the engine adds workers (rpcWorkers.ts). */
export function rpcBindings(llama: Llama): Required<Pick<SiftAddon, 'siftRpcAddWorker' | 'siftRpcServe'>> | null {
  const addon = addonOf(llama);
  if (typeof addon.siftRpcAddWorker !== 'function' || typeof addon.siftRpcServe !== 'function') return null;
  return { siftRpcAddWorker: addon.siftRpcAddWorker, siftRpcServe: addon.siftRpcServe };
}
