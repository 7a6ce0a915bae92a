// The follow-up run's results (conversationRun.ts): per policy and length, the first question's
// TTFT, the follow-ups' TTFT with the conversation's cache reused and with the conversation read
// again, and whether the two answers agree. Written as docs/bench/<date>-conversation[-quick].json
// and a section of docs/BENCHMARKS.md.
import { appendRunSection } from './appendRun.js';
import type { MachineInfo } from './machine.js';
import type { SourceState } from './sourceState.js';
import { median } from './stats.js';
import type { ConversationCell } from './conversationRun.js';

/** What a run over one real-prose document per length records (this one, and reopenReport.ts). */
export interface DocumentRunResults<Task extends string, Cell> {
  task: Task;
  format: 1;
  source: SourceState;
  mode: 'full' | 'quick';
  startedAt: string;
  durationSec: number;
  command: string;
  machine: MachineInfo;
  model: { fileName: string; name: string; sha256: string };
  buildId: string;
  documents: Array<{ length: number; sourceId: string; promptTokens: number }>;
  cells: Cell[];
}

export type ConversationResults = DocumentRunResults<'conversation', ConversationCell>;

const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);

/** Median follow-up TTFT with the cache reused, as a fraction of the cold first question's. */
export function followUpShare(cell: ConversationCell): number | null {
  const reused = median(cell.followUps.map((f) => f.reused.ttftMs));
  return reused === null || cell.first.ttftMs <= 0 ? null : reused / cell.first.ttftMs;
}

function row(cell: ConversationCell): string {
  const reused = median(cell.followUps.map((f) => f.reused.ttftMs));
  const reread = median(cell.followUps.map((f) => f.reread.ttftMs));
  const evaluated = median(cell.followUps.map((f) => f.reused.prefillTokens));
  const same = cell.followUps.filter((f) => f.sameAnswer).length;
  const correct = `${cell.followUps.filter((f) => f.reused.correct).length}/${cell.followUps.filter((f) => f.reread.correct).length}`;
  const pause = cell.afterPause ? `${seconds(cell.afterPause.turn.ttftMs)} (${percent(cell.afterPause.turn.ttftMs / cell.first.ttftMs)})` : '—';
  const revived = cell.followUps[0]?.reused.revived;
  const moved = cell.followUps[0]?.reused.moved;
  const move = moved ? `; moved into the trimmed layers in ${seconds(moved.ms)} (KV ${mib(moved.fromBytes)} → ${mib(moved.toBytes)} MiB), waited ${seconds(moved.waitedMs)}` : '';
  const revival = revived ? `${revived.tokens} in ${seconds(revived.ms)}, waited ${seconds(revived.waitedMs)}${move}` : move ? move.slice(2) : '—';
  return (
    `| ${cell.length} | \`${cell.policy}\` | ${seconds(cell.first.ttftMs)} | ${seconds(reused)} | **${percent(followUpShare(cell))}** | ` +
    `${evaluated ?? '—'} | ${seconds(reread)} | ${same}/${cell.followUps.length} | ${correct} | ${pause} | ${revival} |`
  );
}

/** A document run's section head: title, command, model, build, machine, and the documents it read. */
export function documentRunHead<Task extends string>(results: DocumentRunResults<Task, unknown>, title: string, flag: string, jsonFile: string): string[] {
  const m = results.machine;
  return [
    `## ${results.startedAt.slice(0, 10)} — ${title} (\`${flag}${results.mode === 'quick' ? ' --quick' : ''}\`, real prose)`,
    '',
    `Command: \`${results.command}\`; ${results.model.name} (${results.model.fileName}), patched build ${results.buildId}; ` +
      `${m.cpuModel}, ${m.availableParallelism} threads, load ${m.loadAverageAtStart.toFixed(2)} at start; ${Math.round(results.durationSec / 60)} min. Results: [${jsonFile}](${jsonFile}).`,
    '',
    `One real-prose document per length (${results.documents.map((d) => `${d.length}: ${d.sourceId}, ${d.promptTokens} prompt tokens`).join('; ')})`,
  ];
}

export function conversationSection(results: ConversationResults, jsonFile: string): string {
  const [title = '', ...head] = documentRunHead(results, 'follow-up questions', '--conversation', jsonFile);
  const documents = head.pop() ?? '';
  const lines = [
    title,
    ...head,
    documents +
      ', asked one question cold and then two follow-ups in the same conversation (greedy, 32 tokens). ' +
      '**Follow-up** is the median TTFT of the follow-ups with the cache the last turn left (issue 16 target: ≤ 10% of the first question), ' +
      '**re-read** the same prompts read whole again under the same policy (cachePrompt=false; an evictor then selects for the follow-up from the whole conversation, where the follow-up in the conversation went on from the tokens kept for the earlier questions); **same answer** compares the two normalised answers, ' +
      '**correct** counts answers with the fact (reused/re-read). For lazy prefill, **after a pause** asks the first follow-up after waiting as long as the first turn took, ' +
      'so its pruned tokens were revived while idle; the follow-ups in the conversation come at once and wait for the revival (**revival**; ' +
      'with simlayerkv the conversation then moves into the trimmed layers\' smaller cache, and the follow-up waits for that too).',
    '',
    '| length | policy | first question | follow-up | follow-up / first | tokens evaluated | re-read | same answer | correct | after a pause | revival |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.cells.map(row),
    '',
  ];
  // what a cache that is not whole left for the follow-ups, in the engine's words
  const partial = results.cells.filter((c) => /^(none|kept): /.test(c.first.next ?? ''));
  const said = new Set(partial.map((c) => `- \`${c.policy}\` after its first turn: ${c.first.next!.replace(/^(none|kept): /, '')}`));
  if (said.size) lines.push(...said, '');
  return lines.join('\n');
}

/** docs/bench/<date>-conversation[-quick].json and a section appended to docs/BENCHMARKS.md. */
export function writeConversationOutputs(outputDir: string, results: ConversationResults): { markdown: string; json: string } {
  const base = `${results.startedAt.slice(0, 10)}-conversation${results.mode === 'quick' ? '-quick' : ''}`;
  return appendRunSection(outputDir, base, results, (json) => conversationSection(results, json));
}
