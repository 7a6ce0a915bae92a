// The shape of a benchmark run's results: what docs/bench/<date>-<mode>.json holds and what the
// Markdown tables and plots are drawn from. Issue 5's memory rows extend `memory`, not the rest.
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

export type FidelityResult =
  | { status: 'reference' }
  | { status: 'measured'; positions: number; top1Agreement: number; meanKl: number; maxKl: number; cached: boolean }
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
  /**
   * KV memory from the engine's statistics (patched builds). Peak is null until the engine reports
   * kvBytesPeak (issue 5); allocated and used after the turn are the steady state.
   */
  /** Lazy prefill statistics the engine reports (medians over runs); null for rows that do not prune. */
  lazy: { pruned: number | null; revived: number | null; reviveMs: number | null } | null;
  memory: { kvBytesPeakMedian: number | null; kvBytesAllocated: number | null; kvBytesUsedMedian: number | null };
  trials: TrialRecord[];
}

export interface ReferenceReport {
  length: number;
  promptTokens: number;
  continuation: string;
  forcedTokens: number;
  selfConsistent: number;
  cached: boolean;
}

export interface BenchResults {
  format: 1;
  /** The Sift source the run used: HEAD and whether the working tree had changes. */
  source: { commit: string; dirtyFiles: number };
  mode: BenchMode;
  startedAt: string;
  durationSec: number;
  command: string;
  machine: MachineInfo & { loadAverageAtEnd: number };
  model: { fileName: string; name: string; architecture: string; sizeBytes: number; sha256: string; shape: Record<string, number> };
  builds: Record<string, { id: string; addonPath: string }>;
  engine: { contextSize: number; threads: number; ubatch: string };
  suite: { lengths: number[]; depths: number[]; fidelityTokens: number; answerTokens: number };
  notes: string[];
  rows: RowReport[];
  references: ReferenceReport[];
  cells: CellResult[];
  cacheHits: number;
}
