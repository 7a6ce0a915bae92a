// From raw samples to the figures the report shows: medians, paired speedups, FLOP limits,
// passkey accuracy, fidelity and memory, one cell per (row, length).
import type { LengthRun, RawRun, RowState } from './benchRun.js';
import type { FollowUpSample } from './followUp.js';
import { isLazyPolicy, measuredWorkRatio, rowFlopLimit } from './lazyWork.js';
import type { ModelIdentity } from './modelIdentity.js';
import type { TurnSample } from './passkeyTurn.js';
import type { CellResult, KvCellResult, ReferenceReport, RowReport, TrialRecord } from './results.js';
import { median, pairedSpeedup } from './stats.js';
import { baselineOf, fullKvOf, isKvRow, measuresKv, rowId, rowLabel, runsAtLength, type BenchSuite } from './suite.js';

function trialRecord(sample: TurnSample): TrialRecord {
  return {
    depth: sample.depth,
    passkey: sample.passkey,
    found: sample.found,
    answer: sample.answer,
    promptTokens: sample.promptTokens,
    ttftMs: sample.ttftMs,
    prefillTokensPerSec: sample.prefillTokensPerSec,
    decodeTokensPerSec: sample.decodeTokensPerSec,
    cached: sample.cached,
  };
}

function ttftByRound(samples: readonly TurnSample[]): Map<number, number> {
  return new Map(samples.map((s) => [s.depthIndex, s.ttftMs]));
}

/** What the engine said about a row's turns: its notices, and a lazy policy that did not prune. */
function engineNotes(run: RawRun, state: RowState): string[] {
  const samples = run.lengths.flatMap((l) => l.samples.get(state.id) ?? []).filter((s) => !s.cached);
  const notes = new Set(samples.flatMap((s) => (s.extras?.notice ? [`engine: ${s.extras.notice}`] : [])));
  if (state.failure) notes.add(state.failure);
  if (samples.length > 0 && isLazyPolicy(state.row.policy) && !samples.some((s) => s.extras?.lazy)) {
    notes.add('the engine accepted the policy but reported no lazy statistics: these turns ran unpruned');
  }
  return [...notes];
}

export function rowReports(run: RawRun, suite: BenchSuite): RowReport[] {
  return run.rows.map((state: RowState) => ({
    id: state.id,
    label: rowLabel(state.row),
    build: state.row.build,
    policy: state.row.policy,
    flashAttention: state.row.flashAttention,
    available: state.available,
    note: state.note,
    buildId: state.slot.client.build.id,
    baselineId: rowId(baselineOf(state.row, suite.rows) ?? state.row),
    engineNotes: engineNotes(run, state),
  }));
}

export function referenceReports(run: RawRun): ReferenceReport[] {
  return run.lengths.flatMap((l) =>
    l.references.map((reference) => ({
      length: l.length,
      depth: reference.depth,
      promptTokens: reference.promptTokens,
      continuation: reference.continuation,
      forcedTokens: reference.follow.length,
      selfConsistent: reference.selfConsistent,
      cached: reference.cached,
    })),
  );
}

function lazyStats(samples: readonly TurnSample[]): CellResult['lazy'] {
  const reports = samples.flatMap((s) => (s.extras?.lazy ? [s.extras.lazy] : []));
  if (reports.length === 0) return null;
  const med = (pick: (r: (typeof reports)[number]) => number | null) => median(reports.flatMap((r) => (pick(r) === null ? [] : [pick(r) as number])));
  return { pruned: med((r) => r.pruned), revived: med((r) => r.revived), reviveMs: med((r) => r.reviveMs) };
}

function numbers(values: ReadonlyArray<number | null | undefined>): number[] {
  return values.flatMap((v) => (typeof v === 'number' && Number.isFinite(v) ? [v] : []));
}

function memoryStats(samples: readonly TurnSample[]): CellResult['memory'] {
  const peaks = numbers(samples.map((s) => s.extras?.kvBytesPeak));
  return {
    kvBytesPeakMax: peaks.length ? Math.max(...peaks) : null,
    kvBytesSteadyMedian: median(numbers(samples.map((s) => s.extras?.kvBytesSteady))),
    kvBytesAllocated: samples.at(-1)?.kvBytesAllocated ?? null,
    kvBytesUsedMedian: median(numbers(samples.map((s) => s.kvBytesUsed))),
    contextSize: median(numbers(samples.map((s) => s.extras?.contextSize))),
  };
}

function evictionStats(samples: readonly TurnSample[]): KvCellResult['eviction'] {
  const reports = samples.flatMap((s) => (s.extras?.eviction ? [s.extras.eviction] : []));
  const first = reports[0];
  if (!first) return null;
  return {
    method: first.method,
    budgetTokens: median(numbers(reports.map((r) => r.budgetTokens))) ?? first.budgetTokens,
    keptTokens: median(numbers(reports.map((r) => r.keptTokens))),
    evicted: median(numbers(reports.map((r) => r.evicted))),
    rounds: median(numbers(reports.map((r) => r.rounds))),
    prefillRounds: median(numbers(reports.map((r) => r.prefillRounds))),
    evictMs: median(numbers(reports.map((r) => r.evictMs))),
  };
}

function followUpStats(samples: readonly FollowUpSample[] | undefined): KvCellResult['followUp'] {
  if (!samples || samples.length === 0) return null;
  const found = samples.filter((s) => s.found).length;
  return {
    found,
    firstFound: samples.filter((s) => s.firstFound).length,
    total: samples.length,
    accuracy: found / samples.length,
    secondTtftMsMedian: median(samples.map((s) => s.ttftMs)),
    trials: samples.map((s) => ({
      passkeyDepth: s.passkeyDepth,
      doorDepth: s.doorDepth,
      firstFound: s.firstFound,
      found: s.found,
      firstAnswer: s.firstAnswer,
      secondAnswer: s.secondAnswer,
      promptTokens: s.promptTokens,
      ttftMs: s.ttftMs,
      reusedTokens: s.extras.eviction?.reuse?.reusedTokens ?? 0,
    })),
  };
}

function ratioOf(value: number | null, reference: number | null): number | null {
  return value === null || reference === null || reference <= 0 ? null : value / reference;
}

/** KV bytes and decode speed against the full-f16 row of the same length, eviction and follow-ups. */
function kvCell(run: RawRun, length: LengthRun, state: RowState, suite: BenchSuite, cells: readonly CellResult[]): KvCellResult | null {
  const kvHere = run.rows.some((s) => s.available && isKvRow(s.row) && runsAtLength(s.row, length.length));
  if (!kvHere || !measuresKv(state.row, suite.rows)) return null;
  const full = isKvRow(state.row) ? fullKvOf(state.row, suite.rows) : state.row;
  const referenceId = full ? rowId(full) : state.id;
  const own = cells.find((c) => c.rowId === state.id && c.length === length.length);
  const reference = cells.find((c) => c.rowId === referenceId && c.length === length.length);
  const samples = length.samples.get(state.id) ?? [];
  const fullSteady = reference?.memory.kvBytesSteadyMedian ?? null;
  return {
    referenceId,
    fullKvBytesSteady: fullSteady,
    steadyRatio: ratioOf(own?.memory.kvBytesSteadyMedian ?? null, fullSteady),
    peakRatio: ratioOf(own?.memory.kvBytesPeakMax ?? null, fullSteady),
    decodeVsFull: ratioOf(own?.decodeTokensPerSecMedian ?? null, reference?.decodeTokensPerSecMedian ?? null),
    trimmedLayers: samples.at(-1)?.extras?.trimmedLayers ?? [],
    eviction: evictionStats(samples),
    followUp: followUpStats(length.followUps.get(state.id)),
  };
}

export function summarizeCells(run: RawRun, suite: BenchSuite, model: ModelIdentity): CellResult[] {
  const cells: CellResult[] = [];
  for (const length of run.lengths) {
    for (const state of run.rows.filter((s) => s.available && length.samples.has(s.id))) {
      const samples = length.samples.get(state.id) ?? [];
      const baseline = baselineOf(state.row, suite.rows);
      const baselineSamples = baseline ? length.samples.get(rowId(baseline)) ?? [] : [];
      const promptTokens = median(samples.map((s) => s.promptTokens)) ?? length.targetTokens;
      const found = samples.filter((s) => s.found).length;
      const lastSample = samples.at(-1);
      cells.push({
        rowId: state.id,
        length: length.length,
        promptTokens,
        runs: samples.length,
        cachedRuns: samples.filter((s) => s.cached).length,
        ttftMedianMs: median(samples.map((s) => s.ttftMs)),
        prefillTokensPerSecMedian: median(samples.map((s) => s.prefillTokensPerSec)),
        decodeTokensPerSecMedian: median(samples.map((s) => s.decodeTokensPerSec).filter((v) => v > 0)),
        speedup: pairedSpeedup(ttftByRound(baselineSamples), ttftByRound(samples)),
        // the declared schedule, or the one the engine reports it ran (a bare `lazy` gets the model's default)
        flopLimit: rowFlopLimit(model.shape, promptTokens, state.row.policy, samples.find((s) => s.extras?.lazy)?.extras.lazy ?? null),
        measuredWorkRatio: lastSample ? measuredWorkRatio(model.shape, lastSample.promptTokens, lastSample.perLayer) : null,
        passkey: { found, total: samples.length, accuracy: samples.length ? found / samples.length : 0 },
        fidelity: length.fidelity.get(state.id) ?? { status: 'unsupported', note: 'not run' },
        lazy: lazyStats(samples),
        memory: memoryStats(samples),
        kv: null,
        trials: samples.map(trialRecord),
      });
    }
  }
  // second pass: a KV row's figures are relative to its full-KV row's cell
  for (const length of run.lengths) {
    for (const state of run.rows) {
      const cell = cells.find((c) => c.rowId === state.id && c.length === length.length);
      if (cell) cell.kv = kvCell(run, length, state, suite, cells);
    }
  }
  return cells;
}
