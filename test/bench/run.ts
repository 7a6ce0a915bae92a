// `npm run bench`: measures TTFT, prefill speed, passkey accuracy and fidelity to full KV for
// every row of the suite (test/bench/suite.ts) on the test model, and for the KV-memory rows KV
// bytes, eviction and follow-up accuracy; then appends the results to docs/BENCHMARKS.md, with
// JSON and SVG plots (the KV frontier among them) in docs/bench/. Progress goes to stderr. Ctrl-C
// cancels the turn in flight and closes every engine process; an interrupted run writes nothing.
// With --prose it runs the real-document QA benchmark instead (issue 13; test/bench/proseRun.ts),
// with --conversation follow-up questions on one document (issue 16; test/bench/conversationRun.ts),
// with --reopen a document opened again from its saved cache (test/bench/reopenRun.ts), with --long
// documents longer than the context read through an evicting cache (test/bench/longRun.ts).
import os from 'node:os';
import { testModelPath } from '../helpers/testModel.js';
import { runBench, type RawRun } from './benchRun.js';
import { BenchCache, defaultCacheDir } from './cache.js';
import { EnginePool } from './engines.js';
import { describeMachine, type MachineInfo } from './machine.js';
import { describeCpuCode, describeGpu } from '../../src-common/engineSummary.js';
import { identifyModel, type ModelIdentity } from './modelIdentity.js';
import { parseOptions, USAGE, UsageError, type BenchOptions } from './options.js';
import type { ActiveTurn } from './passkeyTurn.js';
import { Progress } from './progress.js';
import { readSourceState, type SourceState } from './sourceState.js';
import type { BenchResults } from './results.js';
import { buildProseSuite, type ProseSuite } from './proseSuite.js';
import { rewriteHeader } from './proseFrontier.js';
import { runProseBench } from './proseRun.js';
import { CONVERSATION_LENGTHS, CONVERSATION_POLICIES, runConversationBench, type ConversationContext } from './conversationRun.js';
import { writeConversationOutputs, type DocumentRunResults } from './conversationReport.js';
import { REOPEN_LENGTHS, REOPEN_POLICIES, runReopenBench } from './reopenRun.js';
import { writeReopenOutputs } from './reopenReport.js';
import { LONG_LENGTHS, LONG_POLICIES, runLongBench } from './longRun.js';
import { writeLongOutputs } from './longReport.js';
import { assembleProseResults, writeProseOutputs } from './proseReport.js';
import { buildSuite, contextSizeFor, isKvRow, rowLabel, runsAtLength, type BenchSuite } from './suite.js';
import { referenceReports, rowReports, summarizeCells } from './summarize.js';
import { writeOutputs } from './writeOutputs.js';
import { runWorkersBench } from './workersRun.js';
import { runShipFrontierBench } from './shipFrontierRun.js';
import { runAutoBench } from './autoRun.js';

let stopping = false;

function stopOnSignal(pool: EnginePool, activeTurn: () => ActiveTurn | null): void {
  const stop = (signal: string) => {
    // a second Ctrl-C leaves at once; the engines exit by themselves when their parent is gone
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\n[bench] ${signal}: cancelling the turn in flight and closing the engines; nothing is written\n`);
    const turn = activeTurn();
    void (async () => {
      if (turn) await turn.client.cancel(turn.turnId).catch(() => undefined);
      await pool.closeAll();
      process.exit(130);
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function runNotes(suite: BenchSuite, raw: RawRun): string[] {
  const notes: string[] = [];
  if (suite.mode === 'quick') {
    const kvRows = suite.rows.filter(isKvRow);
    const kvLengths = suite.lengths.filter((l) => kvRows.some((r) => runsAtLength(r, l)));
    notes.push(
      `Quick mode: lengths ${suite.lengths.join(', ')}, ${suite.depths.length} needle depths per length instead of 20, ` +
        'and only the rows marked quick in test/bench/suite.ts (flash attention off: no FA-on, q8_0 or q4_0 rows); ' +
        `of the KV-memory rows ${kvRows.map((r) => r.policy).join(', ') || 'none'}` +
        `${kvLengths.length ? ` at ${kvLengths.join(', ')} tokens, with ${suite.followUps || 'no'} follow-up case(s)` : ''}. ` +
        'Treat it as a smoke run of the harness and a rough look, not as the benchmark.',
    );
  }
  for (const state of raw.rows) {
    if (state.slot.problem) notes.push(`${rowLabel(state.row)}: ${state.slot.problem}`);
  }
  notes.push(`Prompt sizing: ${raw.fit.tokensPerBlock.toFixed(2)} tokens per filler block, measured on this model's tokenizer and chat template.`);
  return notes;
}

function assembleResults(
  options: BenchOptions,
  suite: BenchSuite,
  raw: RawRun,
  model: ModelIdentity,
  machine: MachineInfo,
  source: SourceState,
  startedAt: Date,
  cacheHits: number,
): BenchResults {
  const builds: BenchResults['builds'] = {};
  for (const state of raw.rows) {
    const build = state.slot.client.build;
    builds[state.row.build] = { id: build.id, addonPath: build.addonPath, runsOn: `${describeCpuCode(build.cpu)}; ${describeGpu(build.gpu)}` };
  }
  return {
    format: 2,
    source,
    mode: suite.mode,
    startedAt: startedAt.toISOString(),
    durationSec: (Date.now() - startedAt.getTime()) / 1000,
    command: options.command,
    machine: { ...machine, loadAverageAtEnd: os.loadavg()[0] ?? 0 },
    model: {
      fileName: model.fileName,
      name: model.name,
      architecture: model.architecture,
      sizeBytes: model.sizeBytes,
      sha256: model.sha256,
      shape: { ...model.shape },
    },
    builds,
    engine: {
      contextSizes: raw.lengths.map((l) => ({ length: l.length, contextSize: l.contextSize })),
      // the engine's defaults (src-engine/engine.ts): one thread per available core, batch 512
      threads: os.availableParallelism(),
      ubatch: 'batch 512 (engine default)',
    },
    suite: {
      lengths: suite.lengths,
      depths: suite.depths,
      fidelityTokens: suite.fidelityTokens,
      fidelityPrompts: suite.fidelityPrompts,
      answerTokens: suite.answerTokens,
      followUps: suite.followUps,
    },
    notes: runNotes(suite, raw),
    rows: rowReports(raw, suite),
    references: referenceReports(raw),
    cells: summarizeCells(raw, suite, model),
    cacheHits,
  };
}

/** A --rows or --lengths choice the suite cannot run is the caller's mistake: say it as usage. */
function suiteOrUsageError<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** What every run records as it starts; the source is read now: the tree the engines start from. */
function startRun() {
  return { startedAt: new Date(), machine: describeMachine(), source: readSourceState(), progress: new Progress() };
}

async function proseMain(options: BenchOptions): Promise<void> {
  const suite: ProseSuite = suiteOrUsageError(() =>
    buildProseSuite(options.mode, { lengths: options.lengths, depths: options.depths, rows: options.rows, policies: options.policies, ...(options.seed ? { seed: options.seed } : {}) }),
  );
  const { startedAt, machine, source, progress } = startRun();
  progress.note(
    `real-document QA, ${suite.mode}: lengths ${suite.lengths.join(', ')}; ${suite.depths.length} fact depths; ${suite.rows.length} rows; model ${options.model}`,
  );
  const model = await identifyModel(testModelPath(options.model));
  const pool = new EnginePool(model.path, contextSizeFor(suite.lengths[0] ?? 1024));
  const cache = new BenchCache(defaultCacheDir(), options.useCache);
  let activeTurn: ActiveTurn | null = null;
  stopOnSignal(pool, () => activeTurn);
  try {
    const raw = await runProseBench({ suite, pool, progress, cache, modelSha256: model.sha256, setActiveTurn: (turn) => (activeTurn = turn), isStopping: () => stopping });
    const results = assembleProseResults({ raw, suite, model: { ...model, id: options.model }, machine, source, startedAt, command: options.command });
    const files = writeProseOutputs(options.outputDir, results);
    progress.note(`done in ${progress.elapsed}: ${files.markdown}, ${files.json}`);
  } finally {
    await pool.closeAll();
  }
}

/** A run over one real-prose document per length (--conversation, --reopen): what differs between them. */
interface DocumentRun<Raw> {
  title: string;
  lengths: Record<BenchOptions['mode'], number[]>;
  policies: string[];
  run(ctx: ConversationContext): Promise<Raw & { buildId: string }>;
  write(outputDir: string, results: RunHeader & Raw & { buildId: string }): { markdown: string; json: string };
}

type RunHeader = Omit<DocumentRunResults<string, unknown>, 'task' | 'buildId' | 'documents' | 'cells'>;

async function documentRunMain<Raw>(options: BenchOptions, spec: DocumentRun<Raw>): Promise<void> {
  const lengths = options.lengths ?? spec.lengths[options.mode];
  // a filter ending in $ names one row whole (the long run's rows contain each other)
  const matches = (row: string, filter: string) => (filter.endsWith('$') ? row === filter.slice(0, -1) : row.includes(filter));
  const policies = options.rows ? spec.policies.filter((p) => options.rows!.some((r) => matches(p, r))) : spec.policies;
  if (policies.length === 0) throw new UsageError(`--rows matches none of ${spec.policies.join(', ')}`);
  const { startedAt, machine, source, progress } = startRun();
  progress.note(`${spec.title}: lengths ${lengths.join(', ')}; policies ${policies.join(', ')}; model ${options.model}`);
  const model = await identifyModel(testModelPath(options.model));
  let activeTurn: ActiveTurn | null = null;
  process.on('SIGINT', () => {
    stopping = true;
    const turn = activeTurn;
    if (turn) void turn.client.cancel(turn.turnId).catch(() => undefined);
  });
  const raw = await spec.run({ modelPath: model.path, lengths, policies, progress, setActiveTurn: (t) => (activeTurn = t), isStopping: () => stopping, depths: options.depths, mode: options.mode, modelSha256: model.sha256, resume: options.resume });
  const files = spec.write(options.outputDir, {
    format: 1,
    source,
    mode: options.mode,
    startedAt: startedAt.toISOString(),
    durationSec: (Date.now() - startedAt.getTime()) / 1000,
    command: options.command,
    machine,
    model: { fileName: model.fileName, name: model.name, sha256: model.sha256 },
    ...raw,
  });
  progress.note(`done in ${progress.elapsed}: ${files.markdown}, ${files.json}`);
}

const conversationRun: DocumentRun<Awaited<ReturnType<typeof runConversationBench>>> = {
  title: 'follow-up questions',
  lengths: CONVERSATION_LENGTHS,
  policies: CONVERSATION_POLICIES,
  run: runConversationBench,
  write: (dir, results) => writeConversationOutputs(dir, { task: 'conversation', ...results }),
};

const reopenRun: DocumentRun<Awaited<ReturnType<typeof runReopenBench>>> = {
  title: 'a document opened again',
  lengths: REOPEN_LENGTHS,
  policies: REOPEN_POLICIES,
  run: runReopenBench,
  write: (dir, results) => writeReopenOutputs(dir, { task: 'reopen', ...results }),
};

const longRun: DocumentRun<Awaited<ReturnType<typeof runLongBench>>> = {
  title: 'documents longer than the context',
  lengths: LONG_LENGTHS,
  policies: LONG_POLICIES,
  run: runLongBench,
  write: (dir, results) => writeLongOutputs(dir, { task: 'long', ...results }),
};

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  if (options.refreshFrontier) {
    console.log(`[bench] ${rewriteHeader(options.outputDir)}: header and real-document frontier rewritten`);
    return;
  }
  if (options.workers) return runWorkersBench(options, options.workers);
  if (options.auto) return runAutoBench(options);
  if (options.shipFrontier) return runShipFrontierBench(options);
  if (options.prose) return proseMain(options);
  if (options.conversation) return documentRunMain(options, conversationRun);
  if (options.reopen) return documentRunMain(options, reopenRun);
  if (options.long) return documentRunMain(options, longRun);
  const suite: BenchSuite = suiteOrUsageError(() =>
    buildSuite(options.mode, { lengths: options.lengths, depths: options.depths, rows: options.rows, followUps: options.followUps, fidelityPrompts: options.fidelityPrompts, kvOnly: options.kvOnly }),
  );
  const { startedAt, machine, source, progress } = startRun();
  progress.note(
    `${suite.mode} run: lengths ${suite.lengths.join(', ')}; ${suite.depths.length} depths; ${suite.rows.length} rows declared; ` +
      `${machine.availableParallelism} threads; cache ${options.useCache ? 'on' : 'off (refreshing)'}`,
  );

  const model = await identifyModel(testModelPath(options.model));
  const cache = new BenchCache(defaultCacheDir(), options.useCache);
  const pool = new EnginePool(model.path, contextSizeFor(suite.lengths[0] ?? 1024));
  let activeTurn: ActiveTurn | null = null;
  stopOnSignal(pool, () => activeTurn);

  try {
    const raw = await runBench({ suite, pool, cache, progress, model, setActiveTurn: (turn) => (activeTurn = turn), isStopping: () => stopping });
    const results = assembleResults(options, suite, raw, model, machine, source, startedAt, cache.hitCount);
    const files = writeOutputs(options.outputDir, results);
    const written = [files.markdown, files.json, files.ttftSvg, files.accuracySvg, ...(files.frontierSvg ? [files.frontierSvg] : [])];
    progress.note(`done in ${progress.elapsed}: ${written.join(', ')}`);
  } finally {
    await pool.closeAll();
  }
}

main().catch((err: unknown) => {
  // after Ctrl-C the turn in flight fails on purpose; the signal handler exits once engines are closed
  if (stopping) return;
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
