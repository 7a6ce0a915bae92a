// The shape of a benchmark run's results: what docs/bench/<date>-<mode>.json holds and what the
// Markdown tables and plots are drawn from. Format 2 (issue 5): per-length contexts, KV bytes
// (peak and steady), and `kv` for the KV-memory rows.
import type { MachineInfo } from './machine.js';
import type { BenchMode } from './suite.js';

export interface RowReport {
  id: string;
  label: string;
  build: 'stock' | 'patched';
  policy: string;
  flashAttention: boolean;
  available: boolean;
  /** Why a row was skipped. */
  note: string | null;
  buildId: string | null;
  /** The stock/full row its speed is compared with. */
  baselineId: string;
  /** Engine notices about this row's turns, and a lazy policy that ran unpruned. */
  engineNotes: string[];
}

export interface TrialRecord {
  depth: number;
  passkey: string;
  found: boolean;
  answer: string;
  promptTokens: number;
  ttftMs: number;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  cached: boolean;
}

/** One fidelity prompt's share of a row's fidelity. */
export interface PromptFidelity {
  depth: number;
  positions: number;
  top1Agreement: number;
  meanKl: number;
}

export type FidelityResult =
  | { status: 'reference' }
  | {
      status: 'measured';
      /** Pooled over the fidelity prompts: every forced position of every prompt counts once. */
      positions: number;
      top1Agreement: number;
      meanKl: number;
      maxKl: number;
      cached: boolean;
      perPrompt: PromptFidelity[];
    }
  | { status: 'unsupported'; note: string }
  | { status: 'failed'; note: string };

export interface CellResult {
  rowId: string;
  length: number;
  promptTokens: number;
  runs: number;
  /** Runs read from the stock cache rather than measured now. */
  cachedRuns: number;
  ttftMedianMs: number | null;
  prefillTokensPerSecMedian: number | null;
  decodeTokensPerSecMedian: number | null;
  /** Baseline TTFT / this row's TTFT, median over rounds (1 for the baseline itself). */
  speedup: number | null;
  /** Stock FLOPs / this schedule's FLOPs; 1 for rows that do not prune; null if unknown. */
  flopLimit: number | null;
  /** Stock FLOPs / the FLOPs the engine reports doing; null until it reports per-layer `computed`. */
  measuredWorkRatio: number | null;
  passkey: { found: number; total: number; accuracy: number };
  fidelity: FidelityResult;
  /** Lazy prefill statistics the engine reports (medians over runs); null for rows that do not prune. */
  lazy: { pruned: number | null; revived: number | null; reviveMs: number | null } | null;
  /**
   * KV memory over the passkey turns (patched build; null on stock). Peak and steady are the bytes
   * the backend allocated for KV (llama_get_memory_breakdown): the most seen during a turn (the
   * largest over turns) and after it (median). Allocated and used are the native per-layer
   * statistics after the turn (used: cells holding a token).
   */
  memory: {
    kvBytesPeakMax: number | null;
    kvBytesSteadyMedian: number | null;
    kvBytesAllocated: number | null;
    kvBytesUsedMedian: number | null;
    /** The context the turns ran in (median): an eviction budget sizes it to the budget plus one prefill chunk. */
    contextSize: number | null;
  };
  /** KV-memory rows (issue 5) and the full-KV rows they are compared with; null for other rows. */
  kv: KvCellResult | null;
  trials: TrialRecord[];
}

export interface FollowUpRecord {
  passkeyDepth: number;
  doorDepth: number;
  firstFound: boolean;
  found: boolean;
  firstAnswer: string;
  secondAnswer: string;
  promptTokens: number;
  /** Turn 2's time to first token, and the prompt tokens it restored from the stored full KV (reuse=disk). */
  ttftMs: number;
  reusedTokens: number;
}

export interface KvCellResult {
  /** The patched full-KV row (f16) at the same length this row is compared with. */
  referenceId: string;
  fullKvBytesSteady: number | null;
  /** This row's bytes / full f16's steady bytes (0.2 = 5× smaller). */
  steadyRatio: number | null;
  peakRatio: number | null;
  /** This row's median decode tok/s / the full-KV row's. */
  decodeVsFull: number | null;
  /** Layers the engine reports lazy (SimLayerKV), from the last passkey turn. */
  trimmedLayers: number[];
  /** Eviction per passkey turn (medians); null when no turn evicted under a budget. */
  eviction: {
    method: string;
    /** Cells the budgeted context was created with (context sizes are rounded up: 512 cells for a 393-token budget). */
    budgetTokens: number;
    /** Tokens left after each eviction round (the rest is room for the next chunk or decode steps). */
    keptTokens: number | null;
    evicted: number | null;
    rounds: number | null;
    prefillRounds: number | null;
    evictMs: number | null;
  } | null;
  /** Two-turn follow-up cases: `found` counts second answers naming the door code. */
  followUp: { found: number; firstFound: number; total: number; accuracy: number; secondTtftMsMedian: number | null; trials: FollowUpRecord[] } | null;
}

export interface ReferenceReport {
  length: number;
  /** The fidelity prompt's needle depth (older runs had one prompt per length, at 0.5). */
  depth: number;
  promptTokens: number;
  continuation: string;
  forcedTokens: number;
  selfConsistent: number;
  cached: boolean;
}

export interface BenchResults {
  format: 2;
  /** The Sift source the run used: HEAD and whether the working tree had changes. */
  source: { commit: string; dirtyFiles: number };
  mode: BenchMode;
  startedAt: string;
  durationSec: number;
  command: string;
  machine: MachineInfo & { loadAverageAtEnd: number };
  model: { fileName: string; name: string; architecture: string; sizeBytes: number; sha256: string; shape: Record<string, number> };
  /** `runsOn`: the CPU code and GPU each build ran with (absent in older results). */
  builds: Record<string, { id: string; addonPath: string; runsOn?: string }>;
  /** contextSizes: the context every engine held for each length (engines are reloaded between lengths). */
  engine: { contextSizes: Array<{ length: number; contextSize: number }>; threads: number; ubatch: string };
  suite: { lengths: number[]; depths: number[]; fidelityTokens: number; fidelityPrompts: number; answerTokens: number; followUps: number };
  notes: string[];
  rows: RowReport[];
  references: ReferenceReport[];
  cells: CellResult[];
  cacheHits: number;
}
