// The reopen run's results (reopenRun.ts): per policy and length, the cold first question's TTFT,
// another question's TTFT in a new engine process restoring the saved cache, the same prompt read
// whole, and whether the answers agree. Written as docs/bench/<date>-reopen[-quick].json and a
// section of docs/BENCHMARKS.md.
import { appendRunSection } from './appendRun.js';
import { documentRunHead, type DocumentRunResults } from './conversationReport.js';
import type { ReopenCell } from './reopenRun.js';
import { formatBytes } from '../../src-common/format.js';

export type ReopenResults = DocumentRunResults<'reopen', ReopenCell>;

const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);

/** The reopened question's TTFT as a fraction of the cold one's (issue 16 target: ≤ 10%). */
export function reopenShare(cell: ReopenCell): number | null {
  return cell.cold.ttftMs > 0 ? cell.reopened.ttftMs / cell.cold.ttftMs : null;
}

function row(cell: ReopenCell): string {
  const share = reopenShare(cell);
  const note = cell.reopened.restoredTokens === 0 ? `not restored${cell.reopened.notice ? `: ${cell.reopened.notice}` : ''}` : '';
  return (
    `| ${cell.length} | \`${cell.policy}\` | ${seconds(cell.cold.ttftMs)} | ${seconds(cell.reopened.ttftMs)} | **${share === null ? '—' : `${(share * 100).toFixed(1)}%`}** | ` +
    `${cell.reopened.restoredTokens} | ${seconds(cell.reopened.restoreMs)} | ${formatBytes(cell.savedBytes)} | ${seconds(cell.saveWaitMs)} | ${seconds(cell.reread.ttftMs)} | ` +
    `${cell.sameAnswer ? 'yes' : 'no'} | ${cell.reopened.correct ? 1 : 0}/${cell.reread.correct ? 1 : 0} | ${note} |`
  );
}

export function reopenSection(results: ReopenResults, jsonFile: string): string {
  const head = documentRunHead(results, 'a document opened again', '--reopen', jsonFile);
  const documents = head.pop() ?? '';
  return [
    ...head,
    documents +
      '. **Cold**: a fresh engine process with an empty saved-cache folder answers the first question (greedy, 32 tokens); the cache is saved while idle ' +
      '(**save wait**: how long listing the folder then waited for it). **Reopened**: a new engine process on the same folder (a restart, or a new chat) asks the second question about the document, ' +
      'loading the saved cache (**restored** tokens, **load**) and reading the rest; issue 16 target: ≤ 10% of cold. **Re-read**: the same prompt read whole (cachePrompt=false); ' +
      '**same answer** compares the normalised answers, **correct** counts answers with the fact (reopened/re-read).',
    '',
    '| length | policy | cold | reopened | reopened / cold | restored | load | saved | save wait | re-read | same answer | correct | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.cells.map(row),
    '',
  ].join('\n');
}

/** docs/bench/<date>-reopen[-quick].json and a section appended to docs/BENCHMARKS.md. */
export function writeReopenOutputs(outputDir: string, results: ReopenResults): { markdown: string; json: string } {
  const base = `${results.startedAt.slice(0, 10)}-reopen${results.mode === 'quick' ? '-quick' : ''}`;
  return appendRunSection(outputDir, base, results, (json) => reopenSection(results, json));
}
