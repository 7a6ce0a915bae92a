// The documents block near the top of docs/BENCHMARKS.md (issue 16): documents longer than the
// context, follow-up questions and a document opened again, each row the latest full run that
// measured that length and policy, linked to its section. Built from docs/bench's JSON files every
// time a run writes BENCHMARKS.md, beside the headline and the real-document frontier.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatBytes } from '../../src-common/format.js';
import { followUpShare, type ConversationResults } from './conversationReport.js';
import { sectionAnchorsByFile } from './headline.js';
import { summarizeLong, type LongRunResults } from './longReport.js';
import { reopenShare, type ReopenResults } from './reopenReport.js';

export const DOCUMENT_HEADLINE_HEADING = '## Long documents, follow-ups and reopening (latest full runs)';

type DocumentRun = LongRunResults | ConversationResults | ReopenResults;

interface Latest<Cell> {
  file: string;
  cells: Cell[];
}

/** Full-mode runs of one task in `benchDir`, oldest first. */
function fullRuns<R extends DocumentRun>(benchDir: string, task: R['task']): Array<{ file: string; results: R }> {
  if (!existsSync(benchDir)) return [];
  return readdirSync(benchDir)
    .filter((name) => name.endsWith('.json'))
    .flatMap((name) => {
      try {
        const results = JSON.parse(readFileSync(path.join(benchDir, name), 'utf8')) as R;
        return results.task === task && results.mode === 'full' && Array.isArray(results.cells) ? [{ file: `bench/${name}`, results }] : [];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.results.startedAt.localeCompare(b.results.startedAt));
}

/** Per (length, policy), the cells of the latest run that measured it, in length then first-seen order. */
export function latestByRow<Cell extends { length: number; policy: string }>(runs: ReadonlyArray<{ file: string; results: { cells: readonly Cell[] } }>): Latest<Cell>[] {
  const latest = new Map<string, Latest<Cell>>();
  for (const { file, results } of runs) {
    const keys = new Set(results.cells.map((c) => `${c.length}\u0000${c.policy}`));
    for (const key of keys) latest.set(key, { file, cells: results.cells.filter((c) => `${c.length}\u0000${c.policy}` === key) });
  }
  return [...latest.values()].sort((a, b) => a.cells[0]!.length - b.cells[0]!.length);
}

const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);
const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);

function link(file: string, anchors: ReadonlyMap<string, string>): string {
  const anchor = anchors.get(file);
  return `[${path.basename(file, '.json')}](${anchor ? `#${anchor}` : file})`;
}

function longRows(runs: ReadonlyArray<{ file: string; results: LongRunResults }>, anchors: ReadonlyMap<string, string>): string[] {
  return latestByRow(runs).flatMap(({ file, cells }) =>
    summarizeLong(cells).map((s) => {
      const cache = s.maxContextSize > 0 ? `${s.maxContextSize.toLocaleString('en-US')} cells${s.maxKvBytesPeak !== null ? `, ${formatBytes(s.maxKvBytesPeak)}` : ''}` : '—';
      const rate = s.medianTokensPerSec === null ? '—' : `${Math.round(s.medianTokensPerSec)}`;
      return `| ${s.length.toLocaleString('en-US')} | \`${s.policy}\` | **${s.found}/${s.asked}** | ${cache} | ${seconds(s.medianTtftMs)} | ${rate} | ${link(file, anchors)} |`;
    }),
  );
}

function conversationRows(runs: ReadonlyArray<{ file: string; results: ConversationResults }>, anchors: ReadonlyMap<string, string>): string[] {
  return latestByRow(runs).flatMap(({ file, cells }) =>
    cells.map((cell) => {
      const same = `${cell.followUps.filter((f) => f.sameAnswer).length}/${cell.followUps.length}`;
      // lazy prefill: the follow-up asked at once waits for the revival; one asked after the person read the answer does not
      const afterPause = cell.afterPause && cell.first.ttftMs > 0 ? ` (after a pause: ${percent(cell.afterPause.turn.ttftMs / cell.first.ttftMs)})` : '';
      return `| ${cell.length.toLocaleString('en-US')} | \`${cell.policy}\` | ${seconds(cell.first.ttftMs)} | **${percent(followUpShare(cell))}**${afterPause} | ${same} | ${link(file, anchors)} |`;
    }),
  );
}

function reopenRows(runs: ReadonlyArray<{ file: string; results: ReopenResults }>, anchors: ReadonlyMap<string, string>): string[] {
  return latestByRow(runs).flatMap(({ file, cells }) =>
    cells.map((cell) => `| ${cell.length.toLocaleString('en-US')} | \`${cell.policy}\` | ${seconds(cell.cold.ttftMs)} | **${percent(reopenShare(cell))}** | ${cell.sameAnswer ? 'yes' : 'no'} | ${link(file, anchors)} |`),
  );
}

/** The block, '' when no full document run exists; `runLog` is BENCHMARKS.md from its first run section on, as it will be written. */
export function documentHeadline(benchDir: string, runLog: string): string {
  const anchors = sectionAnchorsByFile(runLog);
  const runs = { long: fullRuns<LongRunResults>(benchDir, 'long'), conversation: fullRuns<ConversationResults>(benchDir, 'conversation'), reopen: fullRuns<ReopenResults>(benchDir, 'reopen') };
  const long = longRows(runs.long, anchors);
  const conversation = conversationRows(runs.conversation, anchors);
  const reopen = reopenRows(runs.reopen, anchors);
  if (long.length + conversation.length + reopen.length === 0) return '';
  const models = [...new Set([...runs.long, ...runs.conversation, ...runs.reopen].map((r) => r.results.model.name))];
  const lines = [
    DOCUMENT_HEADLINE_HEADING,
    '',
    `Real prose; model ${models.join(', ')}; each row is the latest full run that measured it, on the machine its section names, linked. Issue 16's targets in brackets.`,
    '',
  ];
  if (long.length) {
    lines.push(
      '**Longer than the context** (a pass key at evenly spread depths, the document read whole through the cache, or cut to a context-full; [found at ≥ 80% of the depths at 32k and 64k, the cache within 8k]):',
      '',
      '| length | row | found | cache (peak) | median TTFT | tok/s | run |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...long,
      '',
    );
  }
  if (conversation.length) {
    lines.push(
      "**Follow-up questions** (the median follow-up's TTFT as a share of the first question's, the cache the last turn left reused [≤ 10% at 8k]; answers equal to the conversation read again; for lazy prefill, whose follow-up asked at once waits for the pruned tokens' revival, also the follow-up asked after a pause as long as the first turn):",
      '',
      '| length | policy | first question | follow-up / first | same answer | run |',
      '| --- | --- | --- | --- | --- | --- |',
      ...conversation,
      '',
    );
  }
  if (reopen.length) {
    lines.push(
      "**A document opened again** in a new engine process (its TTFT as a share of the cold read's [≤ 10% at 8k]; answer equal to the prompt read whole):",
      '',
      '| length | policy | cold | reopened / cold | same answer | run |',
      '| --- | --- | --- | --- | --- | --- |',
      ...reopen,
      '',
    );
  }
  return lines.join('\n');
}
