// The long-document run's results (longRun.ts): per length and row, how many needles were found,
// TTFT, prefill tokens/s and the KV peak; the truncating baselines beside the evicting rows.
// Written as docs/bench/<date>-long[-quick].json and a section of docs/BENCHMARKS.md.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { appendRunSection } from './appendRun.js';
import { documentRunHead, type DocumentRunResults } from './conversationReport.js';
import { LONG_CONTEXT, type LongCell, type LongResults } from './longRun.js';
import { median } from './stats.js';
import { formatBytes } from '../../src-common/format.js';

export type LongRunResults = DocumentRunResults<'long', LongCell> & Pick<LongResults, 'buildId'>;

export interface LongSummary {
  length: number;
  policy: string;
  found: number;
  asked: number;
  /** Truncating rows: needles the cut left in the prompt. */
  inPrompt: number;
  /** Truncating rows: cells not run because the cut left the needle out. */
  notAsked: number;
  medianTtftMs: number | null;
  medianTokensPerSec: number | null;
  maxKvBytesPeak: number | null;
  maxContextSize: number;
  depthsFound: number[];
  /** Evicting rows' follow-ups (the key asked again, going on from the kept cache): found, asked, median TTFT and its share of the first turn's, median tokens read. */
  followUps: { found: number; asked: number; medianTtftMs: number | null; medianShare: number | null; medianRead: number | null } | null;
}

export function summarizeLong(cells: readonly LongCell[]): LongSummary[] {
  const keys = [...new Set(cells.map((c) => `${c.length}\u0000${c.policy}`))];
  return keys.map((key) => {
    const [length, policy] = key.split('\u0000') as [string, string];
    const group = cells.filter((c) => c.length === Number(length) && c.policy === policy);
    // times and sizes of the turns that ran (a truncated prompt without the needle is not asked)
    const ran = group.filter((c) => c.asked !== false);
    const peaks = ran.map((c) => c.kvBytesPeak).filter((b): b is number => b !== null);
    return {
      length: Number(length),
      policy,
      found: group.filter((c) => c.found).length,
      asked: group.length,
      inPrompt: group.filter((c) => c.needleInPrompt).length,
      notAsked: group.length - ran.length,
      medianTtftMs: median(ran.map((c) => c.ttftMs)),
      medianTokensPerSec: median(ran.map((c) => c.prefillTokensPerSec)),
      maxKvBytesPeak: peaks.length ? Math.max(...peaks) : null,
      maxContextSize: Math.max(0, ...ran.map((c) => c.contextSize)),
      depthsFound: group.filter((c) => c.found).map((c) => c.depth),
      followUps: summarizeFollowUps(group),
    };
  });
}

function summarizeFollowUps(group: readonly LongCell[]): LongSummary['followUps'] {
  const asked = group.filter((c) => c.followUp);
  if (asked.length === 0) return null;
  return {
    found: asked.filter((c) => c.followUp!.found).length,
    asked: asked.length,
    medianTtftMs: median(asked.map((c) => c.followUp!.ttftMs)),
    medianShare: median(asked.map((c) => c.followUp!.ttftMs / c.ttftMs)),
    medianRead: median(asked.map((c) => c.followUp!.prefillTokens)),
  };
}

function followUpCell(f: LongSummary['followUps']): string {
  if (!f) return '—';
  const ttft = f.medianTtftMs === null ? '—' : `${(f.medianTtftMs / 1000).toFixed(2)} s (${((f.medianShare ?? 0) * 100).toFixed(1)}%)`;
  return `${f.found}/${f.asked}, ${ttft}, ${f.medianRead ?? '—'} read`;
}

function row(s: LongSummary): string {
  const truncating = s.policy.startsWith('truncate:');
  const share = `${s.found}/${s.asked} (${Math.round((s.found / Math.max(1, s.asked)) * 100)}%)`;
  return (
    `| ${s.length} | \`${s.policy}\` | **${share}** | ${truncating ? `${s.inPrompt}/${s.asked}` : 'all'} | ${s.depthsFound.join(', ') || '—'} | ` +
    `${s.medianTtftMs === null ? '—' : `${(s.medianTtftMs / 1000).toFixed(1)} s`} | ${s.medianTokensPerSec === null ? '—' : Math.round(s.medianTokensPerSec)} | ` +
    `${s.maxKvBytesPeak === null ? '—' : formatBytes(s.maxKvBytesPeak)} | ${s.maxContextSize || '—'} | ${followUpCell(s.followUps)} |`
  );
}

/** Which cells an earlier run measured (--resume), and on which CPUs: times compare only within one machine. */
export function longProvenance(cells: readonly LongCell[]): string | null {
  const resumed = cells.filter((c) => c.resumed);
  const byCpu = new Map<string, LongCell[]>();
  for (const cell of cells) if (cell.measured) byCpu.set(cell.measured.cpu, [...(byCpu.get(cell.measured.cpu) ?? []), cell]);
  const lines: string[] = [];
  if (resumed.length > 0) {
    const days = [...new Set(resumed.map((c) => c.measured?.at.slice(0, 10) ?? 'unknown'))].sort();
    lines.push(
      `**${resumed.length} of ${cells.length} cells were measured by an earlier run** and read back (\`--resume\`: the same engine code, native build, model and prompt), measured ${days.join(', ')}.`,
    );
  }
  if (byCpu.size > 1) {
    const parts = [...byCpu].map(([cpu, group]) => `${cpu}: ${group.length} cells, median ${Math.round(median(group.filter((c) => c.asked !== false).map((c) => c.prefillTokensPerSec)) ?? 0)} tok/s`);
    lines.push(`Measured on more than one CPU (${parts.join('; ')}): TTFT and tok/s compare only between cells of the same CPU.`);
  }
  lines.push(...sharedCpuLines(cells));
  return lines.length > 0 ? lines.join(' ') : null;
}

/** Other processes' average cores while a cell ran, from which its times are called shared (a build or tests on a 2-core machine take 1–2). */
export const SHARED_CPU_CORES = 0.25;

/** Per row, the cells that shared the CPU with other work, and the median tok/s of those that had it to themselves. */
function sharedCpuLines(cells: readonly LongCell[]): string[] {
  const ran = cells.filter((c) => c.asked !== false && typeof c.measured?.otherCores === 'number');
  const rows = [...new Set(ran.map((c) => `${c.length}\u0000${c.policy}`))];
  return rows.flatMap((key) => {
    const group = ran.filter((c) => `${c.length}\u0000${c.policy}` === key);
    const shared = group.filter((c) => c.measured!.otherCores! >= SHARED_CPU_CORES);
    if (shared.length === 0) return [];
    const alone = median(group.filter((c) => c.measured!.otherCores! < SHARED_CPU_CORES).map((c) => c.prefillTokensPerSec));
    const cores = shared.map((c) => c.measured!.otherCores!);
    return [
      `\`${group[0]!.policy}\` at ${group[0]!.length}: ${shared.length} of ${group.length} cells shared the CPU with other work (${Math.min(...cores).toFixed(2)}–${Math.max(...cores).toFixed(2)} cores on average; depths ${shared.map((c) => c.depth).join(', ')}), ` +
        (alone === null ? 'none ran alone.' : `median of the cells that ran alone: ${Math.round(alone)} tok/s.`),
    ];
  });
}

/** An earlier long run as docs/bench keeps it: enough to say what rate it measured, where and when. */
export type EarlierLongRun = Pick<LongRunResults, 'mode' | 'startedAt' | 'cells'> & { file: string };

/** The cells whose times stand for a row: those that had the CPU to themselves, where any is known to have. */
function timedCells(cells: readonly LongCell[]): LongCell[] {
  const ran = cells.filter((c) => c.asked !== false);
  const alone = ran.filter((c) => typeof c.measured?.otherCores === 'number' && c.measured.otherCores < SHARED_CPU_CORES);
  return alone.length > 0 ? alone : ran;
}

/**
 * Issue 16 asks that the prefill rate stay flat as the document grows: per evicting row, its
 * prompt tokens per second at each length on this run's CPU, from the latest full run measuring
 * that length (this one included), so 8k, 32k and 64k measured in different runs read side by side.
 */
export function ratesByLength(current: LongRunResults, earlier: readonly EarlierLongRun[]): string[] {
  const cpu = current.cells.find((c) => c.measured)?.measured?.cpu;
  if (!cpu) return [];
  const runs = [...earlier.filter((r) => r.mode === 'full').sort((a, b) => a.startedAt.localeCompare(b.startedAt)), { ...current, file: null }];
  const rows = [...new Set(current.cells.filter((c) => !c.policy.startsWith('truncate:')).map((c) => c.policy))];
  return rows.flatMap((policy) => {
    const byLength = new Map<number, { rate: number; cells: number; when: string }>();
    for (const run of runs) {
      const cells = run.cells.filter((c) => c.policy === policy && c.measured?.cpu === cpu);
      for (const length of new Set(cells.map((c) => c.length))) {
        const timed = timedCells(cells.filter((c) => c.length === length));
        const rate = median(timed.map((c) => c.prefillTokensPerSec));
        if (rate !== null) byLength.set(length, { rate, cells: timed.length, when: run.file === null ? 'this run' : `${run.startedAt.slice(0, 10)}, ${run.file}` });
      }
    }
    if (byLength.size < 2) return [];
    const parts = [...byLength].sort(([a], [b]) => a - b).map(([length, m]) => `${length.toLocaleString('en-US')}: ${Math.round(m.rate)} (${m.cells} cells, ${m.when})`);
    return [`\`${policy}\` on ${cpu}, prompt tokens per second by document length, the latest full run of each: ${parts.join('; ')}.`];
  });
}

/** The full long runs already in docs/bench, but the one being written. */
function earlierLongRuns(outputDir: string, jsonFile: string): EarlierLongRun[] {
  const benchDir = path.join(outputDir, 'bench');
  return readdirSync(benchDir)
    .filter((name) => /-long(-\d+)?\.json$/.test(name) && `bench/${name}` !== jsonFile)
    .map((name) => ({ ...(JSON.parse(readFileSync(path.join(benchDir, name), 'utf8')) as LongRunResults), file: `bench/${name}` }));
}

export function longSection(results: LongRunResults, jsonFile: string, earlier: readonly EarlierLongRun[] = []): string {
  const head = documentRunHead(results, 'documents longer than the context', '--long', jsonFile);
  const documents = head.pop() ?? '';
  return [
    ...head,
    documents.replace('One real-prose document per length', 'Real prose per length (the three corpus sources one after another, as a binder; repeated past about 35k tokens)') +
      `, a needle ("The pass key is N. Remember it. N is the pass key.", its own paragraph, a different N per depth) at evenly spread depths, asked "What is the pass key number?" after the document, as the app composes it. ` +
      `SmolLM2 was trained on ${LONG_CONTEXT} tokens and is loaded with that context; each document is read whole through an evicting cache of that size ` +
      '(positions stay within it: erasing shifts later tokens down), or cut to the first or last context-full and read with full KV (**truncate**, what peers effectively do). ' +
      '`question-first/` puts the question before the document as well as after it. Greedy, 16 tokens; **found**: the answer contains the key; **in prompt**: needles the cut left in (a truncated prompt cannot find the rest; since 2026-12-06 those are not asked, and its TTFT and tok/s are of the prompts that were). ' +
      '**tok/s**: prompt tokens per second of TTFT (issue 16: flat as the document grows). **KV peak**: the backend\'s KV bytes, largest over the turns; **context**: cells allocated. ' +
      'Issue 16 target: found at ≥ 80% of the depths at 32k and 64k, the cache never above the 8k budget. ' +
      '**Follow-up** (evicting rows): "Please repeat the pass key number." asked next in the same conversation, going on from the tokens the cache kept (followup=kept): keys named, median TTFT (its share of the first turn) and prompt tokens read.',
    '',
    '| length | row | found | in prompt | depths found | median TTFT | tok/s | KV peak | context | follow-up |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...summarizeLong(results.cells).map(row),
    '',
    ...[longProvenance(results.cells)].filter((line): line is string => line !== null).flatMap((line) => [line, '']),
    ...ratesByLength(results, earlier).flatMap((line) => [line, '']),
  ].join('\n');
}

/** docs/bench/<date>-long[-quick].json and a section appended to docs/BENCHMARKS.md. */
export function writeLongOutputs(outputDir: string, results: LongRunResults): { markdown: string; json: string } {
  const base = `${results.startedAt.slice(0, 10)}-long${results.mode === 'quick' ? '-quick' : ''}`;
  return appendRunSection(outputDir, base, results, (json) => longSection(results, json, earlierLongRuns(outputDir, json)));
}
