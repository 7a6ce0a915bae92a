// Figures on the SVG writer: one or more panels (small multiples) with linear axes and round
// ticks, and one legend on the right. A series' colour comes from its colour key, so the same
// policy keeps its colour in every panel and its flash-attention variant differs only in stroke
// (dashed line, hollow marker).
import { circle, line, polyline, rect, svgDocument, text } from './svg.js';

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  name: string;
  /** Series with the same key share a colour (e.g. the same build and policy). */
  colourKey: string;
  /** Dashed line, hollow marker: the variant of a colour (flash attention on). */
  variant: boolean;
  points: ChartPoint[];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  kind: 'line' | 'scatter';
  series: ChartSeries[];
  /** Axis ranges; by default from 0 to just above the data. */
  xRange?: [number, number];
  yRange?: [number, number];
  /** Dotted guides, e.g. x = 1 for "as fast as stock". */
  guides?: Array<{ axis: 'x' | 'y'; value: number; label: string }>;
  /** A grey line under the markers through these points, in order (e.g. a Pareto frontier). */
  frontier?: ChartPoint[];
  formatX?: (value: number) => string;
  formatY?: (value: number) => string;
}

export interface Figure {
  title: string;
  panels: Panel[];
  /** Pixel size of each panel; small multiples by default. */
  panelSize?: { width: number; height: number };
}

// ten strong colours, then ten darker ones: the KV-memory plot has up to 16 policies
const PALETTE = [
  '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22',
  '#393b79', '#843c39', '#637939', '#8c6d31', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363',
];
const PANEL_SIZE = { width: 380, height: 300 };
const PANEL_MARGIN = { left: 62, right: 16, top: 30, bottom: 44 };
const PANELS_PER_ROW = 2;
const TITLE_HEIGHT = 34;
const LEGEND_LINE = 18;
/** Rough width of a character at the legend's 11px font. */
const CHAR_WIDTH = 6.2;

/** Round tick values covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** From 0 to the first round tick above the data, with a little headroom so no point sits on the frame. */
function range(values: number[], fixed: [number, number] | undefined): [number, number] {
  if (fixed) return fixed;
  const max = Math.max(0, ...values) * 1.05 || 1;
  const ticks = niceTicks(0, max);
  const step = ticks.length > 1 ? (ticks[1] as number) - (ticks[0] as number) : max;
  return [0, Math.ceil(max / step) * step];
}

function colourMap(figure: Figure): Map<string, string> {
  const colours = new Map<string, string>();
  for (const series of figure.panels.flatMap((p) => p.series)) {
    if (!colours.has(series.colourKey)) colours.set(series.colourKey, PALETTE[colours.size % PALETTE.length] as string);
  }
  return colours;
}

function marker(x: number, y: number, colour: string, variant: boolean): string {
  return variant ? circle(x, y, 3.5, { fill: '#fff', stroke: colour, 'stroke-width': 1.5 }) : circle(x, y, 4, { fill: colour });
}

function renderPanel(
  panel: Panel,
  size: { width: number; height: number },
  origin: { x: number; y: number },
  colours: Map<string, string>,
): string[] {
  const plotW = size.width - PANEL_MARGIN.left - PANEL_MARGIN.right;
  const plotH = size.height - PANEL_MARGIN.top - PANEL_MARGIN.bottom;
  const left = origin.x + PANEL_MARGIN.left;
  const top = origin.y + PANEL_MARGIN.top;
  const all = panel.series.flatMap((s) => s.points);
  const [x0, x1] = range(all.map((p) => p.x), panel.xRange);
  const [y0, y1] = range(all.map((p) => p.y), panel.yRange);
  const sx = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const fx = panel.formatX ?? ((v: number) => String(v));
  const fy = panel.formatY ?? ((v: number) => String(v));

  const body: string[] = [text(left, origin.y + 20, panel.title, { 'font-size': 13, 'font-weight': 600 })];
  for (const t of niceTicks(x0, x1)) {
    body.push(line(sx(t), top, sx(t), top + plotH, { stroke: '#e5e5e5' }));
    body.push(text(sx(t), top + plotH + 15, fx(t), { 'text-anchor': 'middle', fill: '#444', 'font-size': 11 }));
  }
  for (const t of niceTicks(y0, y1)) {
    body.push(line(left, sy(t), left + plotW, sy(t), { stroke: '#e5e5e5' }));
    body.push(text(left - 6, sy(t) + 4, fy(t), { 'text-anchor': 'end', fill: '#444', 'font-size': 11 }));
  }
  body.push(rect(left, top, plotW, plotH, { fill: 'none', stroke: '#888' }));
  body.push(text(left + plotW / 2, origin.y + size.height - 8, panel.xLabel, { 'text-anchor': 'middle', 'font-size': 11 }));
  const yMid = top + plotH / 2;
  body.push(text(origin.x + 14, yMid, panel.yLabel, { 'text-anchor': 'middle', 'font-size': 11, transform: `rotate(-90 ${origin.x + 14} ${yMid})` }));

  for (const guide of panel.guides ?? []) {
    const style = { stroke: '#555', 'stroke-dasharray': '2 3' };
    if (guide.axis === 'x' && guide.value >= x0 && guide.value <= x1) {
      body.push(line(sx(guide.value), top, sx(guide.value), top + plotH, style));
      body.push(text(sx(guide.value) + 4, top + plotH - 6, guide.label, { fill: '#555', 'font-size': 10 }));
    } else if (guide.axis === 'y' && guide.value >= y0 && guide.value <= y1) {
      body.push(line(left, sy(guide.value), left + plotW, sy(guide.value), style));
      body.push(text(left + 4, sy(guide.value) - 4, guide.label, { fill: '#555', 'font-size': 10 }));
    }
  }

  if (panel.frontier && panel.frontier.length > 1) {
    body.push(polyline(panel.frontier.map((p) => [sx(p.x), sy(p.y)] as const), { stroke: '#bbb', 'stroke-width': 6, 'stroke-linejoin': 'round' }));
  }
  for (const series of panel.series) {
    const colour = colours.get(series.colourKey) ?? '#000';
    const points = [...series.points].sort((a, b) => a.x - b.x);
    if (panel.kind === 'line' && points.length > 1) {
      const dash = series.variant ? '6 4' : undefined;
      body.push(polyline(points.map((p) => [sx(p.x), sy(p.y)] as const), { stroke: colour, 'stroke-width': 2, 'stroke-dasharray': dash }));
    }
    for (const p of points) body.push(marker(sx(p.x), sy(p.y), colour, series.variant));
  }
  return body;
}

function renderLegend(figure: Figure, originX: number, originY: number, colours: Map<string, string>): string[] {
  const seen = new Set<string>();
  const body: string[] = [];
  const withLines = figure.panels.some((p) => p.kind === 'line');
  for (const series of figure.panels.flatMap((p) => p.series)) {
    if (seen.has(series.name)) continue;
    seen.add(series.name);
    const colour = colours.get(series.colourKey) ?? '#000';
    const y = originY + seen.size * LEGEND_LINE;
    if (withLines) {
      body.push(line(originX, y, originX + 20, y, { stroke: colour, 'stroke-width': 2.5, 'stroke-dasharray': series.variant ? '6 4' : undefined }));
    }
    body.push(marker(originX + 10, y, colour, series.variant));
    body.push(text(originX + 28, y + 4, series.name, { 'font-size': 11 }));
  }
  return body;
}

export function renderFigure(figure: Figure): string {
  const colours = colourMap(figure);
  const names = new Set(figure.panels.flatMap((p) => p.series.map((s) => s.name)));
  const legendWidth = 40 + Math.max(0, ...[...names].map((n) => n.length)) * CHAR_WIDTH;
  const columns = Math.min(PANELS_PER_ROW, figure.panels.length);
  const panelRows = Math.ceil(figure.panels.length / columns);
  const size = figure.panelSize ?? PANEL_SIZE;
  const width = Math.ceil(columns * size.width + legendWidth);
  const height = Math.max(TITLE_HEIGHT + panelRows * size.height, TITLE_HEIGHT + (names.size + 1) * LEGEND_LINE) + 8;

  const body: string[] = [rect(0, 0, width, height, { fill: '#fff' }), text(12, 22, figure.title, { 'font-size': 15, 'font-weight': 600 })];
  figure.panels.forEach((panel, i) => {
    const origin = { x: (i % columns) * size.width, y: TITLE_HEIGHT + Math.floor(i / columns) * size.height };
    body.push(...renderPanel(panel, size, origin, colours));
  });
  body.push(...renderLegend(figure, columns * size.width + 8, TITLE_HEIGHT + 10, colours));
  return svgDocument(width, height, body);
}
