// The report's plots: TTFT against prompt length, one line per row; and the accuracy/speed curve,
// passkey accuracy against TTFT speedup over stock, one panel per prompt length with every row.
import { renderFigure, type ChartSeries } from './charts.js';
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
