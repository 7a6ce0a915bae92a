// The real-document frontier at the top of docs/BENCHMARKS.md (issue 13): for each model, length
// and row, the latest full-mode real-document QA measurement (answers kept of full's correct ones,
// TTFT against stock full KV, KV against patched full KV), as a table and a plot. Built from the
// JSON files in docs/bench every time a run writes BENCHMARKS.md, so it is never typed in.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderFigure, type ChartSeries } from './charts.js';
import { documentHeadline } from './documentHeadline.js';
import { asMeasured, refreshHeadline } from './headline.js';
import { benchmarksHeader, runLog, withCurrentHeader } from './markdownReport.js';
import { paretoFrontier } from './plots.js';
import { keptOfFull, type ProseResults } from './proseReport.js';

export interface FrontierPoint {
  model: string;
  length: number;
  rowId: string;
  label: string;
  kept: number;
  fullCorrect: number;
  keptShare: number | null;
  correct: number;
  questions: number;
  /** Answers identical to full's (normalised): meaningful even where full itself is wrong. */
  sameAsFull: number;
  /** Forced through full's answers: top-1 agreement over every position, and the mean KL; null if not measured. */
  forced: { top1Agreement: number; meanKl: number } | null;
  ttftRatio: number | null;
  /** Rows that revive after the first token: stock's TTFT / (TTFT + revival), the second token's wait counted. */
  ttftWithRevivalRatio: number | null;
  kvRatio: number | null;
  /** The run it comes from: docs/bench/<file>. */
  file: string;
  startedAt: string;
}

export const FRONTIER_PLOT = 'bench/prose-frontier.svg';

/** Full-mode runs only (20 depths): quick runs are smoke tests. Later runs replace earlier cells. */
export function collectFrontier(runs: ReadonlyArray<{ file: string; results: ProseResults }>): FrontierPoint[] {
  const latest = new Map<string, FrontierPoint>();
  const ordered = [...runs].filter((r) => r.results.mode === 'full').sort((a, b) => a.results.startedAt.localeCompare(b.results.startedAt));
  for (const { file, results } of ordered) {
    for (const c of results.cells) {
      if (c.rowId.startsWith('stock/full/')) continue;
      const { rowId, label } = asMeasured(c.rowId, c.label, results.source?.commit ?? '');
      latest.set(`${results.model.id}|${c.length}|${rowId}`, {
        model: results.model.id,
        length: c.length,
        rowId,
        label,
        kept: c.kept,
        fullCorrect: c.fullCorrect,
        keptShare: c.fullId === c.rowId ? 1 : c.keptShare,
        correct: c.correct,
        questions: c.questions,
        sameAsFull: c.fullId === c.rowId ? c.questions : c.sameAsFull,
        forced: c.fullId === c.rowId ? { top1Agreement: 1, meanKl: 0 } : (c.forced ?? null),
        ttftRatio: c.ttftRatio,
        ttftWithRevivalRatio: c.ttftWithRevivalRatio ?? null,
        kvRatio: c.rowId.startsWith('patched/full/') ? 1 : c.kvRatio,
        file,
        startedAt: results.startedAt,
      });
    }
  }
  return [...latest.values()].sort((a, b) => a.model.localeCompare(b.model) || a.length - b.length || (b.ttftRatio ?? 0) - (a.ttftRatio ?? 0));
}

export function readProseRuns(benchDir: string): Array<{ file: string; results: ProseResults }> {
  if (!existsSync(benchDir)) return [];
  return readdirSync(benchDir)
    .filter((f) => /-prose(-quick)?-[a-z0-9]+(-\d+)?\.json$/.test(f))
    .flatMap((f) => {
      try {
        const results = JSON.parse(readFileSync(path.join(benchDir, f), 'utf8')) as ProseResults;
        return results.task === 'prose-qa' ? [{ file: `bench/${f}`, results }] : [];
      } catch {
        return [];
      }
    });
}

const tag = (length: number) => (length % 1024 === 0 ? `${length / 1024}k` : String(length));
const times = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)}×`);

/** SVG: per model and length, answers kept and top-1 on full's answers, against TTFT speed-up (left) and KV reduction (right). */
export function frontierPlot(points: readonly FrontierPoint[]): string | null {
  const groups = [...new Set(points.map((p) => `${p.model}|${p.length}`))];
  if (groups.length === 0) return null;
  const panels = groups.flatMap((g) => {
    const [model, length] = g.split('|') as [string, string];
    const here = points.filter((p) => `${p.model}|${p.length}` === g);
    const value = (p: FrontierPoint, metric: 'kept' | 'top-1') => (metric === 'kept' ? p.keptShare : (p.forced?.top1Agreement ?? null));
    const panel = (axis: 'ttftRatio' | 'kvRatio', metric: 'kept' | 'top-1') => {
      const series: ChartSeries[] = here.flatMap((p) => {
        const y = value(p, metric);
        return p[axis] === null || y === null ? [] : [{ name: p.label, colourKey: p.rowId.replace(/\/fa-(on|off)$/, ''), variant: p.rowId.endsWith('/fa-on'), points: [{ x: p[axis] as number, y: y * 100 }] }];
      });
      const xMax = Math.max(2, ...series.flatMap((s) => s.points.map((q) => q.x))) * 1.1;
      return {
        title: `${model}, ${tag(Number(length))}: ${metric === 'kept' ? 'answers kept' : "top-1 on full's answers"} vs ${axis === 'ttftRatio' ? 'TTFT' : 'KV size'}`,
        xLabel: axis === 'ttftRatio' ? 'TTFT speed-up over stock full KV (×)' : 'KV smaller than full KV (×)',
        yLabel: metric === 'kept' ? "answers kept of full's correct (%)" : "top-1 agreement, forced through full's answers (%)",
        kind: 'scatter' as const,
        series,
        // the best trade-offs: faster (or smaller) and keeping more, nothing beats them on both
        frontier: paretoFrontier(series.flatMap((s) => s.points).map((q) => ({ x: -q.x, y: q.y }))).map((q) => ({ x: -q.x, y: q.y })),
        xRange: [0, xMax] as [number, number],
        yRange: [0, 105] as [number, number],
        formatX: (v: number) => `${Number(v.toFixed(1))}`,
        formatY: (v: number) => (v <= 100 ? `${v}%` : ''),
        guides: [
          { axis: 'y' as const, value: metric === 'kept' ? 95 : 90, label: metric === 'kept' ? 'target 95%' : '90%' },
          { axis: 'x' as const, value: axis === 'ttftRatio' ? 2.5 : 5, label: axis === 'ttftRatio' ? '2.5×' : '5×' },
        ],
      };
    };
    return [panel('ttftRatio', 'kept'), panel('kvRatio', 'kept'), panel('ttftRatio', 'top-1'), panel('kvRatio', 'top-1')];
  });
  return renderFigure({ title: 'Real-document QA: answers kept vs speed and memory (latest full run per model, length and row)', panels });
}

/** A row that revives after the first token also says when the answer goes on: the revival is waited for. */
export function withRevival(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '' : ` (${times(ratio)} counting the revival before the second token)`;
}

export function frontierSection(points: readonly FrontierPoint[], plotFile: string | null): string {
  if (points.length === 0) return '';
  const lines = [
    '## Real-document frontier (latest full runs)',
    '',
    'Real prose with invented facts, 20 depths per length (the task is described under Method, "Real-document QA"). ' +
      "**Kept** is the share of the questions the same build's full KV answers correctly that the row answers correctly too " +
      '(target ≥ 95%); where full itself answers few questions, **same answer as full** (normalised answers equal, over every question) says more. ' +
      'TTFT is paired per question against stock full KV; KV is against patched full KV. Each cell is the latest full-mode run ' +
      'of that model, length and row; the run is linked.',
    '',
  ];
  if (plotFile) lines.push(`![answers kept vs TTFT and KV](${plotFile})`, '');
    lines.push("| model | length | row | kept of full's correct | same answer as full | forced through full's answers: top-1, KL | correct / questions | TTFT vs stock full | KV smaller | run |", '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of points) {
    const isFull = p.rowId.startsWith('patched/full/');
    lines.push(
      `| ${p.model} | ${tag(p.length)} | ${p.label} | ${isFull ? 'reference' : p.keptShare === null ? '— (full got none)' : keptOfFull(p.kept, p.fullCorrect, p.keptShare)} | ` +
        `${isFull ? 'reference' : `${p.sameAsFull}/${p.questions}`} | ${isFull ? 'reference' : p.forced ? `${(p.forced.top1Agreement * 100).toFixed(1)}%, ${p.forced.meanKl.toFixed(3)}` : '—'} | ${p.correct}/${p.questions} | ${times(p.ttftRatio)}${withRevival(p.ttftWithRevivalRatio)} | ${isFull ? 'reference' : times(p.kvRatio)} | [${p.startedAt.slice(0, 10)}](${p.file}) |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** The frontier block for BENCHMARKS.md's top, writing its plot next to the runs. */
export function refreshFrontier(outputDir: string): string {
  const points = collectFrontier(readProseRuns(path.join(outputDir, 'bench')));
  const svg = frontierPlot(points);
  if (svg) writeFileSync(path.join(outputDir, FRONTIER_PLOT), svg);
  return frontierSection(points, svg ? FRONTIER_PLOT : null);
}

/**
 * The generated blocks atop BENCHMARKS.md, in order: the headline figures, then the real-document
 * frontier. `log` is the file's run sections as they will be written (the headline links into them).
 */
export function headerBlocks(outputDir: string, log: string): string[] {
  return [refreshHeadline(outputDir, log), refreshFrontier(outputDir), documentHeadline(path.join(outputDir, 'bench'), log)];
}

/** BENCHMARKS.md with its header, headline and frontier rebuilt from the runs in bench/ (the sections untouched). */
export function rewriteHeader(outputDir: string): string {
  const markdown = path.join(outputDir, 'BENCHMARKS.md');
  const existing = existsSync(markdown) ? readFileSync(markdown, 'utf8') : '';
  const blocks = headerBlocks(outputDir, runLog(existing));
  writeFileSync(markdown, existing ? withCurrentHeader(existing, ...blocks) : benchmarksHeader(...blocks));
  return markdown;
}
