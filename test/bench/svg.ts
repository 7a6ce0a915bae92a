// A tiny SVG writer: the few elements the benchmark's charts need, as strings. No dependency,
// and the output diffs cleanly in git (fixed number formatting, one element per line).

export type Attributes = Record<string, string | number | undefined>;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function attributes(attrs: Attributes): string {
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? formatNumber(v) : escapeXml(v as string)}"`)
    .join('');
}

export function element(name: string, attrs: Attributes, content?: string): string {
  return content === undefined ? `<${name}${attributes(attrs)}/>` : `<${name}${attributes(attrs)}>${content}</${name}>`;
}

export function line(x1: number, y1: number, x2: number, y2: number, attrs: Attributes = {}): string {
  return element('line', { x1, y1, x2, y2, stroke: '#000', ...attrs });
}

export function polyline(points: ReadonlyArray<readonly [number, number]>, attrs: Attributes = {}): string {
  const path = points.map(([x, y]) => `${formatNumber(x)},${formatNumber(y)}`).join(' ');
  return element('polyline', { points: path, fill: 'none', ...attrs });
}

export function circle(cx: number, cy: number, r: number, attrs: Attributes = {}): string {
  return element('circle', { cx, cy, r, ...attrs });
}

export function rect(x: number, y: number, width: number, height: number, attrs: Attributes = {}): string {
  return element('rect', { x, y, width, height, ...attrs });
}

export function text(x: number, y: number, content: string, attrs: Attributes = {}): string {
  return element('text', { x, y, ...attrs }, escapeXml(content));
}

export function svgDocument(width: number, height: number, body: readonly string[]): string {
  const open = element('svg', {
    xmlns: 'http://www.w3.org/2000/svg',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    'font-family': 'system-ui, sans-serif',
    'font-size': 12,
  }, '\n' + body.join('\n') + '\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${open}\n`;
}
