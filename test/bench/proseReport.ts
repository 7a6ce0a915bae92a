// The real-document QA run's results: per row and length, answers correct (against the ground
// truth), answers kept (of those the same build's full KV got right), answers identical to full's,
// TTFT ratio against stock full KV in the same run and KV bytes against patched full KV. Written
// as docs/bench/<date>-prose[-quick].json and a section of docs/BENCHMARKS.md.
import { appendRunSection } from './appendRun.js';
import type { MachineInfo } from './machine.js';
import type { ModelIdentity } from './modelIdentity.js';
import { normalizeAnswer, PROSE_SOURCE_FILES } from '../../src-main/models/proseCases.js';
import type { ProseRawRun, ProseTurn } from './proseRun.js';
import { patchedFull, sameBuildFull, stockFull, type ProseSuite } from './proseSuite.js';
import type { SourceState } from './sourceState.js';
import { median, pairedSpeedup } from './stats.js';
import { rowId, rowLabel, type BenchMode } from './suite.js';

/**
 * "18/19 (94.7%)": the share is cut, never rounded, to a tenth of a percent, so a row below the
 * issue's 95% target never reads as meeting it.
 */
export function keptOfFull(kept: number, fullCorrect: number, share: number): string {
  const tenths = Math.floor(share * 1000 + 1e-9) / 10;
  return `${kept}/${fullCorrect} (${Number.isInteger(tenths) ? tenths : tenths.toFixed(1)}%)`;
}

export interface ProseCell {
  rowId: string;
  label: string;
  length: number;
  promptTokensMedian: number | null;
  questions: number;
  correct: number;
  single: { correct: number; total: number };
  twoPassage: { correct: number; total: number };
  /** The same build's full-KV row it is compared with (itself for a full row). */
  fullId: string | null;
  /** Cases full got right, and of those the ones this row got right too. */
  fullCorrect: number;
  kept: number;
  /** keptShare = kept / fullCorrect (the issue's target: ≥ 0.95). */
  keptShare: number | null;
  /** Answers identical to full's after normalisation. */
  sameAsFull: number;
  /** Forced through full's answers (suite.forcedFidelity): positions pooled over the questions, and their mean KL; null if not measured. */
  forced: { questions: number; positions: number; top1Agreement: number; meanKl: number } | null;
  ttftMedianMs: number | null;
  /** Stock full KV's TTFT / this row's, median over cases paired by prompt. */
  ttftRatio: number | null;
  /** Rows that revive after the first token: stock's TTFT / (this row's TTFT + its revival), paired; the wait before the second token counted. */
  ttftWithRevivalRatio?: number | null;
  reviveMedianMs?: number | null;
  kvBytesSteadyMedian: number | null;
  /** Patched full KV's steady bytes / this row's (5 = 5× smaller). */
  kvRatio: number | null;
  turns: ProseTurn[];
}

export interface ProseResults {
  task: 'prose-qa';
  format: 1;
  source: SourceState;
  mode: BenchMode;
  startedAt: string;
  durationSec: number;
  command: string;
  machine: MachineInfo;
  model: { id: string; fileName: string; name: string; architecture: string; sizeBytes: number; sha256: string };
  builds: Record<string, string>;
  suite: { lengths: number[]; depths: number[]; answerTokens: number; seed: string; corpus: string[] };
  charsPerToken: Record<string, number>;
  documents: Array<{ length: number; index: number; sourceId: string; promptTokens: number; facts: Array<{ depth: number; placedDepth: number; sentence: string }> }>;
  questions: Array<{ length: number; round: number; document: number; kind: string; depths: number[]; question: string; answer: string }>;
  notes: string[];
  skipped: Array<{ id: string; note: string }>;
  cells: ProseCell[];
}

function ratioOf(numerator: number | null, denominator: number | null): number | null {
  return numerator === null || denominator === null || denominator === 0 ? null : numerator / denominator;
}

/** Top-1 agreement and KL over every forced position of the row's questions (each position weighs the same). */
export function pooledFidelity(turns: readonly ProseTurn[]): ProseCell['forced'] {
  const measured = turns.flatMap((t) => (t.fidelity ? [t.fidelity] : []));
  const positions = measured.reduce((n, f) => n + f.positions, 0);
  if (positions === 0) return null;
  return {
    questions: measured.length,
    positions,
    top1Agreement: measured.reduce((n, f) => n + f.top1Agreement * f.positions, 0) / positions,
    meanKl: measured.reduce((n, f) => n + f.meanKl * f.positions, 0) / positions,
  };
}

export function summarizeProse(raw: ProseRawRun, suite: ProseSuite): ProseCell[] {
  const cells: ProseCell[] = [];
  for (const run of raw.lengths) {
    for (const state of raw.rows) {
      const turns = run.turns.get(state.id);
      if (!turns || turns.length === 0) continue;
      const full = sameBuildFull(state.row, suite.rows);
      const fullTurns = full ? run.turns.get(rowId(full)) : undefined;
      const fullByRound = new Map((fullTurns ?? []).map((t) => [t.round, t]));
      const stock = stockFull(state.row, suite.rows);
      const stockTurns = stock ? run.turns.get(rowId(stock)) : undefined;
      const kvFull = patchedFull(state.row, suite.rows);
      const kvFullTurns = kvFull ? run.turns.get(rowId(kvFull)) : undefined;
      const compared = turns.filter((t) => fullByRound.get(t.round)?.correct === true);
      const steady = median(turns.flatMap((t) => (t.kvBytesSteady === null ? [] : [t.kvBytesSteady])));
      const fullSteady = median((kvFullTurns ?? []).flatMap((t) => (t.kvBytesSteady === null ? [] : [t.kvBytesSteady])));
      const count = (kind: ProseTurn['kind']) => ({
        correct: turns.filter((t) => t.kind === kind && t.correct).length,
        total: turns.filter((t) => t.kind === kind).length,
      });
      cells.push({
        rowId: state.id,
        label: rowLabel(state.row),
        length: run.length,
        promptTokensMedian: median(turns.map((t) => t.promptTokens)),
        questions: turns.length,
        correct: turns.filter((t) => t.correct).length,
        single: count('single'),
        twoPassage: count('two-passage'),
        fullId: full ? rowId(full) : null,
        fullCorrect: compared.length,
        kept: compared.filter((t) => t.correct).length,
        keptShare: compared.length ? compared.filter((t) => t.correct).length / compared.length : null,
        sameAsFull: turns.filter((t) => {
          const f = fullByRound.get(t.round);
          return f !== undefined && normalizeAnswer(f.answer) === normalizeAnswer(t.answer);
        }).length,
        forced: pooledFidelity(turns),
        ttftMedianMs: median(turns.map((t) => t.ttftMs)),
        ttftRatio: stockTurns ? pairedSpeedup(new Map(stockTurns.map((t) => [t.round, t.ttftMs])), new Map(turns.map((t) => [t.round, t.ttftMs]))) : null,
        ...revivalCost(stockTurns, turns),
        kvBytesSteadyMedian: steady,
        kvRatio: ratioOf(fullSteady, steady),
        turns,
      });
    }
  }
  return cells;
}

/** What reviving after the first token costs: the second token comes only after it. */
function revivalCost(stockTurns: ProseTurn[] | undefined, turns: ProseTurn[]): { ttftWithRevivalRatio: number | null; reviveMedianMs: number | null } {
  const revived = turns.filter((t) => t.reviveMs !== null && t.reviveMs !== undefined);
  if (revived.length === 0) return { ttftWithRevivalRatio: null, reviveMedianMs: null };
  const untilFull = new Map(turns.map((t) => [t.round, t.ttftMs + (t.reviveMs ?? 0)]));
  return {
    ttftWithRevivalRatio: stockTurns ? pairedSpeedup(new Map(stockTurns.map((t) => [t.round, t.ttftMs])), untilFull) : null,
    reviveMedianMs: median(revived.map((t) => t.reviveMs!)),
  };
}

function lengthTag(length: number): string {
  return length % 1024 === 0 ? `${length / 1024}k` : String(length);
}

function ratio(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}×`;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function proseSection(results: ProseResults, jsonFile: string): string {
  const m = results.machine;
  const date = results.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const quick = results.mode === 'quick';
  const lines: string[] = [];
  lines.push(`## ${date.slice(0, 10)} — real-document QA${quick ? ' (`--prose --quick`, a smoke run, not the full benchmark)' : ''}`, '');
  lines.push(`- Command: \`${results.command}\``);
  lines.push(`- Date: ${date}, took ${Math.round(results.durationSec)} s`);
  lines.push(
    `- Machine: ${m.cpuModel}, ${m.logicalCores} logical cores, ${(m.ramBytes / 1024 ** 3).toFixed(1)} GiB RAM, ${m.os}, Node ${m.node}; ` +
      `1-min load average ${m.loadAverageAtStart.toFixed(2)} at start`,
  );
  lines.push(`- Model: ${results.model.name} (${results.model.fileName}, ${results.model.architecture}, sha256 \`${results.model.sha256}\`)`);
  const dirty = results.source.dirtyFiles > 0 ? ` plus ${results.source.dirtyFiles} uncommitted changes` : '';
  lines.push(`- Sift source: \`${results.source.commit.slice(0, 12)}\`${dirty}; builds: ${Object.entries(results.builds).map(([k, id]) => `${k} \`${id}\``).join(', ')}`);
  lines.push(
    `- Task: ${results.suite.depths.length} fact depths per length${quick ? '' : ''}, dealt to documents of up to 4 facts, one two-passage question per document; ` +
      `corpus ${results.suite.corpus.join(', ')} (resources/prose); seed \`${results.suite.seed}\`; greedy, up to ${results.suite.answerTokens} answer tokens; ` +
      `the default system prompt and composeUserMessage; every row ran every question, interleaved`,
  );
  lines.push(`- Machine-readable: [${jsonFile}](${jsonFile})`);
  for (const note of results.notes) lines.push(`- ${note}`);
  lines.push('');
  lines.push(
    table(
      ['length', 'prompt tokens', 'row', 'correct (ground truth)', 'single / two-passage', 'kept of full\'s correct', 'same answer as full', "forced through full's answers: top-1, mean KL", 'TTFT (s)', 'TTFT vs stock full', 'KV smaller than full'],
      results.cells.map((c) => {
        const isFull = c.fullId === c.rowId;
        return [
          lengthTag(c.length),
          c.promptTokensMedian === null ? '—' : String(Math.round(c.promptTokensMedian)),
          c.label,
          `${c.correct}/${c.questions}`,
          `${c.single.correct}/${c.single.total} · ${c.twoPassage.correct}/${c.twoPassage.total}`,
          isFull ? 'reference' : c.keptShare === null ? `— (full got none)` : keptOfFull(c.kept, c.fullCorrect, c.keptShare),
          isFull ? 'reference' : `${c.sameAsFull}/${c.questions}`,
          isFull ? 'reference' : c.forced ? `${(c.forced.top1Agreement * 100).toFixed(1)}% of ${c.forced.positions}, ${c.forced.meanKl.toFixed(3)}` : '—',
          c.ttftMedianMs === null ? '—' : (c.ttftMedianMs / 1000).toFixed(2),
          c.rowId.startsWith('stock/full/') ? 'baseline' : ratio(c.ttftRatio),
          c.rowId.startsWith('patched/full/') ? 'reference' : ratio(c.kvRatio),
        ];
      }),
    ),
  );
  lines.push('');
  for (const c of results.cells.filter((x) => x.reviveMedianMs !== null && x.reviveMedianMs !== undefined)) {
    lines.push(
      `- ${lengthTag(c.length)} ${c.label} completed its pruned tokens after the first answer token (revive=on) in a median ${(c.reviveMedianMs! / 1000).toFixed(2)} s, ` +
        `which the second token waits for: first token plus revival is ${ratio(c.ttftWithRevivalRatio ?? null)} stock's TTFT, against ${ratio(c.ttftRatio)} for the first token alone.`,
    );
  }
  if (results.cells.some((x) => x.reviveMedianMs !== null && x.reviveMedianMs !== undefined)) lines.push('');
  const lost = results.cells.filter((c) => c.fullId !== c.rowId && c.kept < c.fullCorrect);
  if (lost.length) {
    lines.push("Answers lost (full of the same build answered; the question's fact depths, then this row's answer):", '');
    for (const c of lost) {
      const full = results.cells.find((x) => x.rowId === c.fullId && x.length === c.length);
      const fullRight = new Set((full?.turns ?? []).filter((t) => t.correct).map((t) => t.round));
      const missed = c.turns.filter((t) => fullRight.has(t.round) && !t.correct);
      lines.push(`- ${lengthTag(c.length)} ${c.label}: ${missed.map((t) => `${t.depths.map((d) => d.toFixed(2)).join('+')} “${t.answer.replace(/\s+/g, ' ').slice(0, 60)}”`).join('; ')}`);
    }
    lines.push('');
  }
  if (results.skipped.length) {
    lines.push('Skipped rows:', '', ...results.skipped.map((s) => `- ${s.id}: ${s.note}`), '');
  }
  return lines.join('\n');
}

export function assembleProseResults(input: {
  raw: ProseRawRun;
  suite: ProseSuite;
  model: ModelIdentity & { id: string };
  machine: MachineInfo;
  source: SourceState;
  startedAt: Date;
  command: string;
}): ProseResults {
  const { raw, suite, model } = input;
  const builds: Record<string, string> = {};
  for (const s of raw.rows) builds[s.row.build] = s.slot.client.build.id;
  const notes: string[] = [];
  if (suite.mode === 'quick') notes.push(`Quick mode: lengths ${suite.lengths.join(', ')}, ${suite.depths.length} fact depths per length instead of 20, and only the rows marked quick in test/bench/proseSuite.ts. A smoke run, not the benchmark.`);
  for (const s of raw.rows) if (s.failure) notes.push(`${rowLabel(s.row)}: ${s.failure}`);
  for (const s of raw.rows) {
    const lazy = raw.lengths.flatMap((l) => l.turns.get(s.id) ?? []).find((t) => t.lazy)?.lazy;
    if (lazy) {
      const from = lazy.scoreFrom < 0 ? "each point's previous layer" : `layers from ${lazy.scoreFrom}`;
      // pool and span are absent from runs recorded before sentence ranking
      const ranking = lazy.span ? `, whole sentences of up to ${lazy.span} tokens ranked by their best` : '';
      const pooled = lazy.pool !== undefined ? `, pooled over ${lazy.pool}` : '';
      notes.push(`${rowLabel(s.row)} ran prune points ${lazy.pruneLayers.join('/')} keeping ${lazy.keep.map((k) => `${Math.round(k * 100)}%`).join('/')}, scored by ${from}${pooled}${ranking} (first question: ${lazy.obsWindow} scoring tokens)`);
    }
  }
  const noticed = new Set(raw.lengths.flatMap((l) => [...l.turns.entries()].flatMap(([id, turns]) => turns.flatMap((t) => (t.notice ? [`${id}: ${t.notice}`] : [])))));
  notes.push(...[...noticed].slice(0, 10));
  return {
    task: 'prose-qa',
    format: 1,
    source: input.source,
    mode: suite.mode,
    startedAt: input.startedAt.toISOString(),
    durationSec: (Date.now() - input.startedAt.getTime()) / 1000,
    command: input.command,
    machine: input.machine,
    model: { id: model.id, fileName: model.fileName, name: model.name, architecture: model.architecture, sizeBytes: model.sizeBytes, sha256: model.sha256 },
    builds,
    suite: { lengths: suite.lengths, depths: suite.depths, answerTokens: suite.answerTokens, seed: suite.seed, corpus: PROSE_SOURCE_FILES },
    charsPerToken: raw.charsPerToken,
    documents: raw.lengths.flatMap((l) =>
      l.plan.documents.map((d, i) => ({
        length: l.length,
        index: d.index,
        sourceId: d.sourceId,
        promptTokens: l.documentTokens[i] ?? 0,
        facts: d.facts.map((f) => ({ depth: f.depth, placedDepth: f.placedDepth, sentence: f.sentence })),
      })),
    ),
    questions: raw.lengths.flatMap((l) =>
      l.plan.cases.map((c) => ({ length: l.length, round: c.round, document: c.document, kind: c.kind, depths: c.depths, question: c.question, answer: c.answer })),
    ),
    notes,
    skipped: raw.rows.filter((s) => !s.available).map((s) => ({ id: s.id, note: s.note ?? 'not available' })),
    cells: summarizeProse(raw, suite),
  };
}

/** docs/bench/<date>-prose[-quick]-<model>.json and a section appended to docs/BENCHMARKS.md. */
export function writeProseOutputs(outputDir: string, results: ProseResults): { markdown: string; json: string } {
  const base = `${results.startedAt.slice(0, 10)}-prose${results.mode === 'quick' ? '-quick' : ''}-${results.model.id}`;
  return appendRunSection(outputDir, base, results, (json) => proseSection(results, json));
}
