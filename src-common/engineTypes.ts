// Sift's own engine vocabulary. Everything above src-engine speaks these types, never
// node-llama-cpp's, so the native layer can change without touching the app.
import type { ModelFrontier } from './policy/frontier.js';
import type { LayerProfile } from './policy/simLayerKvLayers.js';
import type { KvCost } from './policy/contextPlan.js';
import type { ModelShapeFacts } from './modelShape.js';

/** Which native build runs a turn: Sift's patched llama.cpp, or the same source unpatched. */
export type BuildKind = 'patched' | 'stock';

export interface BuildInfo {
  kind: BuildKind;
  /** Identifier the native library reports (patched) or the build folder's key (stock). */
  id: string;
  /** Native features that are available; empty on the stock build. */
  features: string[];
  /** Absolute path of the addon that was loaded, or 'prebuilt' for node-llama-cpp's own binary. */
  addonPath: string;
  cpu: CpuInfo;
  gpu: GpuInfo;
}

/** The GPU backend a build carries and what it found on this machine. */
export interface GpuInfo {
  /** The backend built in; `cpu` when none. */
  built: 'cpu' | 'vulkan' | 'cuda' | 'metal';
  /** The backend that found a device here; null when everything runs on the CPU. */
  active: 'vulkan' | 'cuda' | 'metal' | null;
  /** The devices it found, by name. */
  devices: string[];
}

/** A device a `sift worker` serves to this engine over llama.cpp's RPC backend. */
export interface WorkerDevice {
  /** ggml's device name: "RPC0", "RPC1", … (buffers on it are named after it). */
  name: string;
  /** The worker's address, host:port. */
  endpoint: string;
  /** Memory as the worker reported it when it was added. */
  freeBytes: number;
  totalBytes: number;
}

/** How a model's layers are split between this machine and its workers. */
export interface WorkerSplit {
  /** Layers (llama.cpp's count: blocks plus the output layer) given to the workers. */
  offloadedLayers: number;
  devices: WorkerDevice[];
  /** About how many layers each device holds (llama.cpp rounds its own split), and this machine. */
  layersPerDevice: number[];
  localLayers: number;
  /** The split in words, for the notice and `sift plan`. */
  why: string;
}

/** How the engine's CPU code was built and which of it runs in this process. */
export interface CpuInfo {
  /**
   * `variants`: one library per instruction-set level, the best chosen at load; `native`:
   * -march=native; `avx2`: one x86-64-v3 library.
   */
  build: 'variants' | 'native' | 'avx2' | 'prebuilt';
  /** The variant ggml loaded (haswell, zen4, …) when the build has variants and the OS says which. */
  variant: string | null;
  /** Variants switched off on this machine because they crashed the engine. */
  disabledVariants: string[];
  /** The CPU features ggml's CPU backend was built with and uses (AVX2, AVX512, AMX_INT8, …). */
  features: string[];
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  maxTokens: number;
  seed?: number;
}

export interface TurnRequest {
  messages: ChatMessage[];
  sampling: SamplingOptions;
  /** Policy spec, e.g. "full" or "kv:type=q8_0"; see docs/POLICIES.md. */
  policy: string;
  /** The model's calibrated SimLayerKV profile (sift calibrate), for policies that use it. */
  layerProfile?: LayerProfile | null;
  /** For policy auto: the model's measured frontiers by prompt length (sift calibrate, or shipped); none: not calibrated. */
  frontiers?: ModelFrontier[];
  /**
   * For policy auto: free RAM and free VRAM (the one where the KV lives is used) and the margin
   * kept beside the turn, as the caller states them (tests, `sift ask --free-ram/--free-vram`); by
   * default the OS's or the GPU's figure.
   */
  memory?: StatedMemory | null;
  /**
   * Evaluate only what follows the leading tokens the engine's cache already holds from the last
   * turn (default true); false reads the whole prompt again (the bench's reference, as
   * llama-server's cache_prompt=false).
   */
  cachePrompt?: boolean;
  /** What a cache this turn saves on disk is listed as (the documents' names); the engine's own otherwise. */
  cacheLabel?: string;
}

/** Per-layer KV statistics read from the native library after a turn. */
export interface LayerKvStats {
  layer: number;
  /** Cells holding a token in this layer. */
  cells: number;
  /** Bytes allocated for this layer's K and V. */
  bytes: number;
  /** Prompt tokens computed at this layer in the prefill (fewer than the prompt under lazy prefill). */
  computed?: number;
  /** Keys this layer's prefill attention spanned (fewer under lazy prefill: gathered). */
  keys?: number;
  /** SimLayerKV: the layer keeps only `sink` first and `window` recent tokens, in a cache of its own. */
  trimmed?: boolean;
  sink?: number;
  window?: number;
}

/** What KV eviction (VATP or a baseline) did in a turn. */
export interface EvictionTurnMetrics {
  method: string;
  /** Cells the full-layer cache was created with (the budget), and tokens kept after each eviction round. */
  budgetTokens: number;
  keptTokens: number;
  /** Tokens evicted during the turn, and in how many rounds. */
  evicted: number;
  rounds: number;
  /** Rounds that ran before the whole prompt was seen (the budget was below the prompt length). */
  prefillRounds: number;
  evictMs: number;
  /** Question tokens evaluated ahead to rank the prefill's rounds (lookahead=question), summed over rounds. */
  lookaheadTokens?: number;
  /** How many times it read the question ahead (lookaheadTokens / lookaheads: the question's length). */
  lookaheads?: number;
  /** recall=N: kept tokens erased where they sat and read again just before the question. */
  recalledTokens?: number;
  /** Their text, in the order read (the highest ranked last). */
  recalledText?: string | null;
  /** reuse=disk: how much of the prompt came from the stored full KV, and what storing it cost. */
  reuse?: DocumentReuseMetrics | null;
  /** Evicted once after a lazy prefill, the tokens it pruned first. */
  afterLazy?: boolean;
}

export interface DocumentReuseMetrics {
  /** Leading prompt tokens restored from the stored full KV instead of being evaluated again. */
  reusedTokens: number;
  /** Milliseconds to load the stored state, and to save this prompt's full KV for the next turn. */
  restoreMs: number;
  storeMs: number;
  /** Bytes on disk of the full KV this turn stored. */
  storedBytes: number;
}

/** What lazy prefill did in a turn, measured by the native prefill. */
export interface LazyTurnMetrics {
  pruneLayers: number[];
  keep: number[];
  /** How tokens were scored: max-pooling kernel, and the first layer summed (-1: the prune point's previous layer only). */
  pool: number;
  scoreFrom: number;
  /** Whole sentences of at most this many tokens ranked by their best token (0: each token alone). */
  span: number;
  /** Prompt tokens whose attention scored the others (the last ones: with window=question, the question's). */
  obsWindow: number;
  segments: Array<{ firstLayer: number; tokens: number; ms: number }>;
  /** Tokens whose deeper layers were skipped, held in the aux cache. */
  pruned: number;
  auxBytes: number;
  /** Pruned tokens completed after the first answer token, and what that took. */
  revived: number;
  reviveMs: number;
}

export interface SimLayerKvDecisionMetrics {
  rule: 'prefill' | 'decode';
  delta: number;
  /** Per layer: the observed queries' attention mass on the sinks and the recent window. */
  scores: number[];
  trimmedLayers: number[];
  /** Moving the sequence into the trimmed context: saving, rewriting and loading its state. */
  moveMs: number;
}

/** How a turn used the cache the previous turn left, and what it leaves for the next one. */
export interface ConversationCacheMetrics {
  /** Leading prompt tokens already in the cache from the previous turn, not evaluated again. */
  reusedTokens: number;
  /**
   * The previous lazy turn's pruned tokens, completed while the engine was idle: how many, how
   * long that took, and how long this turn waited for it to finish.
   */
  revived: { tokens: number; ms: number; waitedMs: number } | null;
  /**
   * lazy+simlayerkv: before this turn, the conversation the last one read lazily was rewritten for
   * the trimmed layers and moved into their smaller cache (after its revival): how many tokens,
   * the KV bytes before and after, how long the move took, and how long this turn waited for it
   * (the revival included).
   */
  moved?: { tokens: number; trimmedLayers: number; fromBytes: number; toBytes: number; ms: number; waitedMs: number } | null;
  /**
   * A follow-up under an evictor (followup=kept): it went on from the `tokens` the last turn's
   * cache kept of the conversation's first `covered` tokens (its `reusedTokens`), reading only the
   * prompt after them.
   */
  continued?: { tokens: number; covered: number } | null;
  /**
   * What stays for the next question: the conversation whole ('whole'), whole once the pruned
   * tokens are revived while idle ('reviving'), what an evictor kept, which the next question goes
   * on from ('kept', see `nextReason`), or nothing ('none', see `nextReason`).
   */
  next: 'whole' | 'reviving' | 'kept' | 'none';
  /**
   * Why the next question reads the conversation again ('none'), what it goes on from ('kept'), or
   * what becomes of the cache meanwhile ('whole', 'reviving': lazy+simlayerkv moves it into the
   * trimmed layers' cache); null: nothing to add.
   */
  nextReason: string | null;
  /**
   * The cache saved on disk by an earlier turn (another chat on the same document, or before a
   * restart), loaded instead of reading its tokens: how many, its size, and how long loading took.
   */
  restored?: { tokens: number; bytes: number; ms: number; savedAt: number } | null;
  /**
   * The document (the prompt's tokens before the question) saved on disk mid-prefill, for a cache
   * with windowed layers (it cannot be cut back to the document after the turn); its time is in the TTFT.
   */
  saved?: { tokens: number; ms: number } | null;
}

/** A conversation's KV cache saved on disk (src-engine/savedKvStore.ts). */
export interface SavedKvEntry {
  id: string;
  /** Model fingerprint, build and what the cache holds: a turn restores only from its own scope. */
  scope: string;
  /** What the person knows it by: the documents' names, or the chat's first words. */
  label: string;
  policy: string;
  /** The model's name, and the build's id, it was saved with. */
  model: string;
  build: string;
  tokens: number;
  bytes: number;
  savedAt: number;
  usedAt: number;
}

/** The saved caches, their folder (null: a temporary one, deleted on exit) and its disk budget. */
export interface SavedKvState {
  folder: string | null;
  budgetBytes: number;
  totalBytes: number;
  entries: SavedKvEntry[];
}

/** Free memory as a caller states it for policy auto, instead of measuring it. */
export interface StatedMemory {
  freeRamBytes?: number;
  freeVramBytes?: number;
  marginBytes?: number;
  /** The most KV auto may plan: bytes, or tokens of full-precision KV on the loaded model (a chat's KV budget setting). */
  kvBudgetBytes?: number;
  kvBudgetTokens?: number;
}

/** What policy auto decided before a turn (src-common/policy/select.ts). */
export interface AutoSelectionMetrics {
  /** As asked: "auto" or "auto:prefer=fast". */
  requested: string;
  preference: 'exact' | 'balanced' | 'fast';
  policy: string;
  lossy: boolean;
  /** Predicted before the turn: weights still to load, KV, compute, and the peak and steady sums. */
  predictedBytes: { model: number; kv: number; compute: number; peak: number; steady: number };
  /** Free memory where the KV lives, and what auto kept aside of it. */
  freeBytes: number;
  marginBytes: number;
  memoryName: string;
  explanation: string;
}

/** Every figure is measured during the turn, but kvPredicted and selection, which say so. */
export interface TurnMetrics {
  build: BuildKind;
  policy: string;
  promptTokens: number;
  /** Tokens actually evaluated for the prompt (less than promptTokens when a prefix was reused). */
  prefillTokens: number;
  generatedTokens: number;
  ttftMs: number;
  totalMs: number;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  /** From the patched build's native statistics; null on a build without them. */
  kvBytesAllocated: number | null;
  kvBytesUsed: number | null;
  contextSize: number;
  perLayer: LayerKvStats[];
  /** KV bytes the backend allocated (llama_get_memory_breakdown): the most seen during the turn, and after it. */
  kvBytesPeak: number | null;
  kvBytesSteady: number | null;
  /** The same two as the presses' cost model predicted them before the turn (contextPlan.ts). */
  kvPredicted?: KvCost | null;
  /** Where the bytes live after the turn, per buffer type (patched build; null elsewhere). */
  memory?: BufferMemory[] | null;
  /** Present when the turn evicted tokens under a budget. */
  eviction: EvictionTurnMetrics | null;
  /** What of the prompt an evictor's cache kept at the end of the turn; absent when it kept everything. */
  kept?: KeptText | null;
  /** Present when the turn used lazy prefill. */
  lazy: LazyTurnMetrics | null;
  /** Present when SimLayerKV chose this prompt's trimmed layers itself (simlayerkv:rule=prefill|decode). */
  simLayerKvDecision?: SimLayerKvDecisionMetrics | null;
  /** Present when policy auto chose the turn's policy: what it chose, from what memory, and why. */
  selection?: AutoSelectionMetrics | null;
  /** How the turn used the previous turn's cache, and what it keeps for the next (absent in chats saved before Sift kept it). */
  conversation?: ConversationCacheMetrics | null;
  /** Why a requested policy did not (fully) apply, if it did not. */
  notice: string | null;
}

/** One buffer type's share of llama_get_memory_breakdown: weights, KV cache and compute bytes. */
export interface BufferMemory {
  /** ggml's name: "CPU", "CPU_REPACK", "Vulkan0", "Vulkan_Host", "CUDA0", … */
  bufferType: string;
  /** The device it belongs to ("" when ggml names none). */
  device: string;
  /** Host memory (RAM), even when a GPU backend owns the buffer type. */
  isHost: boolean;
  modelBytes: number;
  kvBytes: number;
  computeBytes: number;
}

export type StopReason = 'eos' | 'maxTokens' | 'cancelled';

/**
 * What of the prompt the cache held at the end of a turn whose evictor dropped tokens: the
 * document heatmap's data. Ranges are flat [start, end, start, end, …], end exclusive.
 */
export interface KeptText {
  /**
   * evicted: ranges are what an evictor's cache still holds (the rest is gone); computed: every
   * token is held, and each range's weight is the share of the layers a lazy prefill computed it in.
   */
  basis: 'evicted' | 'computed';
  /** Prompt tokens still in the cache (computed: computed through every layer), of the turn's prompt tokens. */
  keptTokens: number;
  promptTokens: number;
  /** Per message of the request: the characters of its content whose tokens the cache kept (engine). */
  messages?: Array<{ index: number } & WeightedRanges>;
  /** Per attached document: the characters of its text whose tokens the cache kept (the app fills this in). */
  documents?: Array<{ documentId: string; chars: number } & WeightedRanges>;
}

/** Flat [start, end, …] ranges; `weights`, one per range, in (0, 1] when they differ (absent: all 1). */
export interface WeightedRanges {
  ranges: number[];
  weights?: number[];
}

/** One context a policy would create for a prompt, as llama.cpp's dry run and Sift's formula size it. */
export interface DryRunContext {
  /** prefill: a full-size context a stage reads the prompt in first; turn: the one the answer runs in. */
  stage: 'prefill' | 'turn';
  contextSize: number;
  /** llama.cpp's answer per buffer (the model loaded with no_alloc, the context created on it). */
  measured: BufferMemory[];
  /** Sift's formula from the model's shape (contextPlan.ts, computeBytes.ts) for the same context. */
  formula: { kvBytes: number; computeBytes: number };
}

export interface DryRunResult {
  policy: string;
  promptTokens: number;
  contexts: DryRunContext[];
}

/** The cache as a turn reads its prompt, sampled between evaluations (liveReadings.ts). */
export interface LiveCacheReading {
  /** Tokens each layer holds K/V for now, index = layer; during a lazy prefill, the tokens computed so far. */
  layers?: number[];
  /** KV bytes in use now, and allocated for the turn's context (its budget); absent while a native lazy prefill runs. */
  kvBytesUsed?: number;
  kvBytesAllocated?: number;
  /** Free memory where the KV lives. */
  free?: FreeMemoryReading;
}

export type TurnEvent =
  | {
      type: 'progress';
      phase: 'prefill';
      done: number;
      total: number;
      /** Under a budget: tokens the cache holds now, and evicted so far (a prompt longer than the cache streams through it). */
      cache?: { held: number; evicted: number; capacity: number };
      /** What the live indicators show: the cache per layer and in bytes, and the memory left. */
      live?: LiveCacheReading;
    }
  | { type: 'token'; text: string }
  | { type: 'done'; answer: string; stopReason: StopReason; metrics: TurnMetrics };

/** Free memory where the KV lives: RAM, VRAM, or RAM here plus the workers' when they hold layers. */
export interface FreeMemoryReading {
  bytes: number;
  where: 'RAM' | 'VRAM' | 'RAM and workers';
}

/** A loaded model: its file, its shape as the GGUF header states it, and how it was loaded. */
export interface ModelInfo extends Omit<ModelShapeFacts, 'name'> {
  path: string;
  name: string;
  sizeBytes: number;
  /** The context the engine opens (the model's trained one, at most the configured size). */
  contextSize: number;
  /** Layers node-llama-cpp put on a GPU device (0 when everything runs on the CPU). */
  offloadedLayers: number;
  /** CPU threads every context of the model runs with. */
  threads: number;
  /** Whether contexts use flash attention (a quantized KV type turns it on for its own context). */
  flashAttention: boolean;
  /** Present when workers hold some of the layers (docs/SCALE_OUT.md). */
  workerSplit?: WorkerSplit | null;
}
