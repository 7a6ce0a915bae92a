// The headline figures at the very top of docs/BENCHMARKS.md: one line per row (build, policy,
// flash attention), with the latest full-mode pass-key run's figures and the latest full-mode
// real-document run's side by side, each at the longest length that run measured, and a link to the
// run's section. Built from the JSON files in docs/bench every time a run writes BENCHMARKS.md.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ProseCell, ProseResults } from './proseReport.js';
import type { BenchResults, CellResult } from './results.js';

export interface BenchRun<R> {
  /** docs/bench/<file>, as BENCHMARKS.md links it: bench/<name>.json. */
  file: string;
  results: R;
}

/**
 * Lazy defaults that have changed since runs were made (issue 13): a run at one of these commits
 * ran a bare `lazy` row with `bare`, and a lazy row that leaves a parameter out with the value
 * `then` gives it. Such rows are shown under what they ran, not as today's spec. The lists hold
 * every commit of a run in docs/bench made before 18f2fc9 (the prose default, window=question).
 */
const EARLIER_LAZY_DEFAULTS: Array<{ commits: string[]; bare: string; then: Record<string, string> }> = [
  // before 4c93c82 (pooled, layer-summed scores): LazyLLM's rule, the prune point's previous layer, unpooled
  {
    commits: ['496045b56e95', 'a4236e57236b', '6ee27c8fe7bd', '07cae86613de', 'db620e600b3e', 'fab9266bbd5f'],
    bare: 'lazy:at=4/12/20,keep=0.5/0.3/0.2,pool=1,from=last,window=8',
    then: { pool: '1', from: 'last', window: '8' },
  },
  // 4c93c82 to 18f2fc9: the pass-key schedule, pooled scores summed from layer 3, the last 8 tokens scoring
  {
    commits: ['1d81c3278c9d', 'aabe96a1a8ad', 'c840888a26e8', '89961dce488d', '23539c04f2e5', '10d894cb48d4', 'e438a7c42673'],
    bare: 'lazy:at=4/8/16,keep=0.35/0.2/0.1,from=3,window=8',
    then: { window: '8' },
  },
];

/** The row a run measured, under the lazy spec it ran (a bare `lazy` row's label says it was the default then). */
export function asMeasured(rowId: string, label: string, commit: string): { rowId: string; label: string } {
  const earlier = commit === '' ? undefined : EARLIER_LAZY_DEFAULTS.find((d) => d.commits.some((c) => commit.startsWith(c)));
  const [, build, policy, fa] = /^([^/]+)\/(.+)\/(fa-on|fa-off)$/.exec(rowId) ?? [];
  if (!earlier || !build || !policy || !fa) return { rowId, label };
  const [lazy = '', ...rest] = policy.split('+');
  if (lazy !== 'lazy' && !lazy.startsWith('lazy:')) return { rowId, label };
  const given = lazy === 'lazy' ? [] : lazy.slice('lazy:'.length).split(',');
  const left = Object.entries(earlier.then).filter(([key]) => !given.some((p) => p.startsWith(`${key}=`)));
  const spelled = lazy === 'lazy' ? earlier.bare : `lazy:${[...given, ...left.map(([key, value]) => `${key}=${value}`)].join(',')}`;
  const measured = [spelled, ...rest].join('+');
  const note = lazy === 'lazy' ? ' (the default then)' : '';
  return { rowId: `${build}/${measured}/${fa}`, label: label.replace(` · ${policy} · `, ` · ${measured}${note} · `) };
}

/** Every run in docs/bench, by task: the pass-key runs (no `task`) and the real-document QA runs. */
export function readBenchRuns(benchDir: string): { passkey: Array<BenchRun<BenchResults>>; prose: Array<BenchRun<ProseResults>> } {
  const runs = { passkey: [] as Array<BenchRun<BenchResults>>, prose: [] as Array<BenchRun<ProseResults>> };
  if (!existsSync(benchDir)) return runs;
  for (const f of readdirSync(benchDir).filter((name) => name.endsWith('.json'))) {
    try {
      const results = JSON.parse(readFileSync(path.join(benchDir, f), 'utf8')) as (BenchResults | ProseResults) & { task?: string };
      if (!Array.isArray(results.cells)) continue;
      if (results.task === 'prose-qa') runs.prose.push({ file: `bench/${f}`, results: results as ProseResults });
      else if (results.task === undefined) runs.passkey.push({ file: `bench/${f}`, results: results as BenchResults });
    } catch {
      // not a run's results: nothing to show
    }
  }
  return runs;
}

/** Where a row's figures come from: the run, and its cell at the longest length that run measured. */
export interface Measured<C> {
  file: string;
  startedAt: string;
  model: string;
  /** The test model's id (smollm2, qwen2): prose rows are shown per model. */
  modelId: string;
  cell: C;
}

export interface HeadlineRow {
  /** build/policy/fa-on|fa-off, under the lazy spec the run measured (asMeasured). */
  rowId: string;
  /** The policy as shown: the build too when it is not the patched one. */
  policy: string;
  flashAttention: boolean;
  passkey: Measured<CellResult> | null;
  /** The latest real-document run of each model that measured the row, by model id. */
  prose: Array<Measured<ProseCell>>;
}

interface RunCells<C> {
  file: string;
  startedAt: string;
  model: string;
  modelId: string;
  commit: string;
  cells: readonly C[];
}

function rowLabelOf(rowId: string): string {
  const [, build = '', policy = '', fa = ''] = /^([^/]+)\/(.+)\/(fa-on|fa-off)$/.exec(rowId) ?? [];
  return `${build} · ${policy} · FA ${fa === 'fa-on' ? 'on' : 'off'}`;
}

/**
 * Per row (per row and model with `perModel`), the latest full-mode run that measured it, at the
 * longest length that run measured: later runs replace earlier ones whatever lengths they ran.
 * Stock rows are the baselines, not rows. The map's key is the row id, then `|model` when per model.
 */
function latestLongest<C extends { rowId: string; length: number }>(runs: ReadonlyArray<RunCells<C>>, perModel = false): Map<string, { label: string; measured: Measured<C> }> {
  const latest = new Map<string, { label: string; measured: Measured<C> }>();
  for (const run of [...runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt))) {
    const longest = new Map<string, { label: string; cell: C }>();
    for (const cell of run.cells) {
      if (cell.rowId.startsWith('stock/')) continue;
      const { rowId, label } = asMeasured(cell.rowId, rowLabelOf(cell.rowId), run.commit);
      const seen = longest.get(rowId);
      if (!seen || cell.length > seen.cell.length) longest.set(rowId, { label, cell });
    }
    for (const [rowId, { label, cell }] of longest) {
      latest.set(perModel ? `${rowId}|${run.modelId}` : rowId, { label, measured: { file: run.file, startedAt: run.startedAt, model: run.model, modelId: run.modelId, cell } });
    }
  }
  return latest;
}

/** The label's policy part (with its "(the default then)"), the build in front unless it is the patched one. */
function shownPolicy(label: string): string {
  return label.replace(/^patched · /, '').replace(/ · FA (on|off)$/, '');
}

/** Full-mode runs only: quick runs are smoke tests. Rows sorted full KV first, then by policy, FA off before on. */
export function collectHeadline(passkeyRuns: ReadonlyArray<BenchRun<BenchResults>>, proseRuns: ReadonlyArray<BenchRun<ProseResults>>): HeadlineRow[] {
  const passkey = latestLongest(
    passkeyRuns
      .filter((r) => r.results.mode === 'full')
      .map((r) => ({ file: r.file, startedAt: r.results.startedAt, model: r.results.model.name, modelId: r.results.model.fileName, commit: r.results.source?.commit ?? '', cells: r.results.cells })),
  );
  const proseByModel = latestLongest(
    proseRuns
      .filter((r) => r.results.mode === 'full')
      .map((r) => ({ file: r.file, startedAt: r.results.startedAt, model: r.results.model.name, modelId: r.results.model.id, commit: r.results.source?.commit ?? '', cells: r.results.cells })),
    true,
  );
  const prose = new Map<string, { label: string; measured: Array<Measured<ProseCell>> }>();
  for (const [key, { label, measured }] of [...proseByModel].sort(([a], [b]) => a.localeCompare(b))) {
    const rowId = key.slice(0, key.lastIndexOf('|'));
    const seen = prose.get(rowId);
    if (seen) seen.measured.push(measured);
    else prose.set(rowId, { label, measured: [measured] });
  }
  const rows = [...new Set([...passkey.keys(), ...prose.keys()])].map((rowId): HeadlineRow => {
    const label = (passkey.get(rowId) ?? prose.get(rowId))?.label ?? rowLabelOf(rowId);
    return { rowId, policy: shownPolicy(label), flashAttention: rowId.endsWith('/fa-on'), passkey: passkey.get(rowId)?.measured ?? null, prose: prose.get(rowId)?.measured ?? [] };
  });
  const isFull = (r: HeadlineRow) => (r.policy === 'full' ? 0 : 1);
  return rows.sort((a, b) => isFull(a) - isFull(b) || a.policy.localeCompare(b.policy) || Number(a.flashAttention) - Number(b.flashAttention));
}

/** GitHub's heading anchor (github-slugger): lowercase, punctuation other than hyphens (and `_`) dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Every heading's anchor in order of appearance; a repeated heading gets -1, -2 … as on GitHub. */
export function headingAnchors(markdown: string): Array<{ level: number; anchor: string; line: number }> {
  const occurrences = new Map<string, number>();
  const anchors: Array<{ level: number; anchor: string; line: number }> = [];
  let fence: string | null = null;
  markdown.split('\n').forEach((text, line) => {
    const fenceMark = /^ {0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (fenceMark && (fence === null || fenceMark.startsWith(fence))) fence = fence === null ? fenceMark : null;
    const heading = fence === null ? /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(text) : null;
    if (!heading?.[1]) return;
    const slug = headingSlug(heading[2] ?? '');
    let anchor = slug;
    while (occurrences.has(anchor)) {
      const n = (occurrences.get(slug) ?? 0) + 1;
      occurrences.set(slug, n);
      anchor = `${slug}-${n}`;
    }
    occurrences.set(anchor, 0);
    anchors.push({ level: heading[1].length, anchor, line });
  });
  return anchors;
}

/**
 * The anchor of the section that links each bench/*.json file (its "Machine-readable:" line): the
 * first section that links a file is the run's own. Sections are the `##` headings' spans. The run
 * log's headings all begin with a date, so the header's headings above it cannot collide with them.
 */
export function sectionAnchorsByFile(runLog: string): Map<string, string> {
  const sectionAt = new Map(headingAnchors(runLog).filter((h) => h.level <= 2).map((h) => [h.line, h.anchor]));
  const byFile = new Map<string, string>();
  let section: string | null = null;
  runLog.split('\n').forEach((text, line) => {
    section = sectionAt.get(line) ?? section;
    if (section === null) return;
    for (const link of text.matchAll(/\]\((bench\/[^)\s]+\.json)\)/g)) if (link[1] && !byFile.has(link[1])) byFile.set(link[1], section);
  });
  return byFile;
}

const tag = (length: number) => (length % 1024 === 0 ? `${length / 1024}k` : String(length));
const at = (text: string, length: number) => `${text} (${tag(length)})`;
const times = (v: number | null, digits: number) => (v === null ? null : `${v.toFixed(digits)}×`);

function passkeyCells(m: Measured<CellResult> | null): string[] {
  if (!m) return ['—', '—', '—', '—'];
  const c = m.cell;
  const steady = c.kv?.steadyRatio ?? null;
  const kv = c.kv?.referenceId === c.rowId ? 'reference' : times(steady === null || steady === 0 ? null : 1 / steady, 1);
  const top1 = c.fidelity.status === 'measured' ? `${(c.fidelity.top1Agreement * 100).toFixed(1)}%` : null;
  return [times(c.speedup, 2), kv, `${c.passkey.found}/${c.passkey.total}`, top1].map((v) => (v === null ? '—' : at(v, c.length)));
}

/** One line per model in each cell, the model named beside the length: a 135M model's answers are not a 0.5B model's. */
function proseCells(measured: ReadonlyArray<Measured<ProseCell>>): string[] {
  if (measured.length === 0) return ['—', '—', '—'];
  const perModel = measured.map((m) => {
    const c = m.cell;
    const kept = c.fullId === c.rowId ? 'reference' : `${c.kept}/${c.fullCorrect}`;
    const kv = c.rowId.startsWith('patched/full/') ? 'reference' : times(c.kvRatio, 1);
    const ttft = times(c.ttftRatio, 2);
    const revival = c.ttftWithRevivalRatio === null || c.ttftWithRevivalRatio === undefined ? '' : `, ${times(c.ttftWithRevivalRatio, 2)} with revival`;
    return [kept, ttft === null ? null : `${ttft}${revival}`, kv].map((v) => (v === null ? '—' : `${v} (${tag(c.length)}, ${m.modelId})`));
  });
  return [0, 1, 2].map((i) => perModel.map((cells) => cells[i]).join('<br>'));
}

function runLink(m: Measured<unknown> | null, anchors: ReadonlyMap<string, string>): string[] {
  if (!m) return [];
  const anchor = anchors.get(m.file);
  return [`[${path.basename(m.file, '.json')}](${anchor ? `#${anchor}` : m.file})`];
}

export const HEADLINE_HEADING = '## Headline figures (latest full run per policy)';

/** The headline block for BENCHMARKS.md's top; `runLog` is the file from its first run section on, as it will be written. */
export function headlineSection(rows: readonly HeadlineRow[], runLog: string): string {
  if (rows.length === 0) return '';
  const anchors = sectionAnchorsByFile(runLog);
  // each model once, with the id its prose lines name
  const ids = new Map(rows.flatMap((r) => r.prose.map((m): [string, string] => [m.model, m.modelId])));
  const names = [...new Set(rows.flatMap((r) => [r.passkey?.model, ...r.prose.map((m) => m.model)]).filter((m): m is string => m !== undefined))];
  const models = names.map((name) => (ids.has(name) ? `${name} (${ids.get(name)})` : name));
  const lines = [
    HEADLINE_HEADING,
    '',
    "Each row is a policy on the patched build (stock full KV is the baseline); each task's figures come from the latest full-mode run that measured the row, " +
      'at the longest length that run measured (in brackets): **pass-key** (synthetic) TTFT speed-up over stock full KV, steady KV smaller than full f16, ' +
      "pass keys found and top-1 agreement with stock full KV; **prose** (real-document QA) answers kept of the same build's full KV's correct ones, " +
      `TTFT against stock full KV and KV smaller than patched full KV, one line per model (named beside the length); a dash where the task has no measurement; models ${models.join(', ')}; the runs are linked.`,
    '',
    '| policy | FA | pass-key TTFT | pass-key KV | pass keys | top-1 | prose kept | prose TTFT | prose KV | runs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const runs = [...runLink(r.passkey, anchors), ...r.prose.flatMap((m) => runLink(m, anchors))].join(', ');
    lines.push(`| ${r.policy} | ${r.flashAttention ? 'on' : 'off'} | ${[...passkeyCells(r.passkey), ...proseCells(r.prose)].join(' | ')} | ${runs} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** The headline block from every run in `<outputDir>/bench`, its links resolved in `runLog`. */
export function refreshHeadline(outputDir: string, runLog: string): string {
  const runs = readBenchRuns(path.join(outputDir, 'bench'));
  return headlineSection(collectHeadline(runs.passkey, runs.prose), runLog);
}
