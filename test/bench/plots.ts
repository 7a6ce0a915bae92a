// The report's plots: TTFT against prompt length, one line per row; the accuracy/speed curve,
// passkey accuracy against TTFT speedup over stock, one panel per prompt length with every row;
// and the KV-memory frontier, fidelity against steady KV bytes relative to full f16.
import { renderFigure, type ChartPoint, type ChartSeries } from './charts.js';
import { compactLabel } from './kvReport.js';
import type { BenchResults, CellResult, RowReport } from './results.js';

function lengthTag(length: number): string {
  return length % 1024 === 0 ? `${length / 1024}k` : String(length);
}

function seriesFor(row: RowReport, cells: CellResult[], point: (c: CellResult) => { x: number; y: number } | null): ChartSeries {
  return {
    name: row.label,
    // flash attention on is drawn as the dashed/hollow variant of the same build and policy
    colourKey: `${row.build}/${row.policy}`,
    variant: row.flashAttention,
    points: cells.filter((c) => c.rowId === row.id).flatMap((c) => point(c) ?? []),
  };
}

export function ttftPlot(results: BenchResults): string {
  const rows = results.rows.filter((row) => row.available);
  return renderFigure({
    title: `TTFT vs prompt length (${results.mode} run ${results.startedAt.slice(0, 10)}, median over depths)`,
    panelSize: { width: 600, height: 400 },
    panels: [
      {
        title: 'all rows',
        xLabel: 'prompt tokens',
        yLabel: 'time to first token (s)',
        kind: 'line',
        series: rows.map((row) =>
          seriesFor(row, results.cells, (c) => (c.ttftMedianMs === null ? null : { x: c.promptTokens, y: c.ttftMedianMs / 1000 })),
        ),
      },
    ],
  });
}

export function accuracySpeedPlot(results: BenchResults): string {
  const rows = results.rows.filter((row) => row.available);
  const speedups = results.cells.flatMap((c) => (c.speedup === null ? [] : [c.speedup]));
  const maxSpeedup = Math.ceil(Math.max(1.5, ...speedups) * 2) / 2;
  return renderFigure({
    title: `Passkey accuracy vs TTFT speedup over stock (${results.mode} run ${results.startedAt.slice(0, 10)})`,
    panels: results.suite.lengths.map((length) => {
      const cells = results.cells.filter((c) => c.length === length);
      return {
        title: `${lengthTag(length)} prompt (${cells[0]?.promptTokens ?? '?'} tokens)`,
        xLabel: 'speedup vs stock, same flash attention (×)',
        yLabel: 'passkey accuracy (%)',
        kind: 'scatter' as const,
        series: rows.map((row) =>
          seriesFor(row, cells, (c) => (c.speedup === null ? null : { x: c.speedup, y: c.passkey.accuracy * 100 })),
        ),
        xRange: [0, maxSpeedup] as [number, number],
        yRange: [0, 105] as [number, number],
        formatX: (v: number) => `${v}×`,
        formatY: (v: number) => (v <= 100 ? `${v}%` : ''),
        guides: [{ axis: 'x' as const, value: 1, label: 'stock' }],
      };
    }),
  });
}

/** Points no other point beats on both axes (less memory and more fidelity), by increasing memory. */
export function paretoFrontier(points: readonly ChartPoint[]): ChartPoint[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || b.y - a.y);
  const front: ChartPoint[] = [];
  for (const p of sorted) if (front.length === 0 || p.y > (front.at(-1) as ChartPoint).y) front.push(p);
  return front;
}

function top1Percent(c: CellResult): number | null {
  return c.fidelity.status === 'measured' ? c.fidelity.top1Agreement * 100 : null;
}

/**
 * The memory-vs-fidelity frontier of the KV-memory rows: per prompt length, top-1 agreement with
 * full KV (left) and passkey accuracy (right) against steady KV bytes / full f16's, one point per
 * row; the grey line joins the points nothing beats on both axes. Null when the run has no KV rows.
 */
export function frontierPlot(results: BenchResults): string | null {
  const cells = results.cells.filter((c) => c.kv !== null && c.kv.steadyRatio !== null);
  if (cells.length === 0) return null;
  const lengths = [...new Set(cells.map((c) => c.length))].sort((a, b) => a - b);
  const rows = results.rows.filter((row) => row.available && cells.some((c) => c.rowId === row.id));
  const memoryGuides = [
    { axis: 'x' as const, value: 0.2, label: '5×' },
    { axis: 'x' as const, value: 0.1, label: '10×' },
  ];
  const panel = (length: number, metric: 'top-1' | 'passkey') => {
    const here = cells.filter((c) => c.length === length);
    const value = (c: CellResult) => (metric === 'top-1' ? top1Percent(c) : c.passkey.total > 0 ? c.passkey.accuracy * 100 : null);
    const point = (c: CellResult) => {
      const y = value(c);
      return y === null || c.kv?.steadyRatio == null ? null : { x: c.kv.steadyRatio, y };
    };
    const series = rows.map((row) => ({ ...seriesFor(row, here, point), name: compactLabel(row.label) }));
    return {
      title: `${lengthTag(length)} prompt: ${metric === 'top-1' ? 'top-1 agreement with full KV' : 'passkey accuracy'}`,
      xLabel: 'steady KV bytes / full f16 (0.2 = 5× smaller)',
      yLabel: metric === 'top-1' ? 'top-1 agreement, 64 forced tokens (%)' : `passkey accuracy, ${results.suite.depths.length} depths (%)`,
      kind: 'scatter' as const,
      series,
      frontier: paretoFrontier(series.flatMap((s) => s.points)),
      xRange: [0, 1.05] as [number, number],
      yRange: [0, 105] as [number, number],
      formatX: (v: number) => String(Number(v.toFixed(2))),
      formatY: (v: number) => (v <= 100 ? `${v}%` : ''),
      guides: metric === 'top-1' ? [...memoryGuides, { axis: 'y' as const, value: 90, label: 'top-1 90%' }] : memoryGuides,
    };
  };
  return renderFigure({
    title: `KV memory vs fidelity (${results.mode} run ${results.startedAt.slice(0, 10)}; steady bytes from the backend, per length)`,
    panels: lengths.flatMap((length) => [panel(length, 'top-1'), panel(length, 'passkey')]),
  });
}
