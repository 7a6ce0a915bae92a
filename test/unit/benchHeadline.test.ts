// The headline figures atop BENCHMARKS.md (test/bench/headline.ts): per row, the latest full-mode
// run's cell at the longest length that run measured, pass-key and real-document side by side,
// each linked to its run's section by the heading's GitHub anchor (or to the JSON file).
import { describe, expect, it } from 'vitest';
import { asMeasured, collectHeadline, headingAnchors, headlineSection, sectionAnchorsByFile, type BenchRun } from '../bench/headline.js';
import { benchmarksHeader, withCurrentHeader } from '../bench/markdownReport.js';
import type { ProseCell, ProseResults } from '../bench/proseReport.js';
import type { BenchResults, CellResult } from '../bench/results.js';

function passkeyCell(rowId: string, length: number, over: Partial<CellResult> = {}): CellResult {
  return {
    rowId, length, promptTokens: length - 80, runs: 20, cachedRuns: 0, ttftMedianMs: 1000, prefillTokensPerSecMedian: 1000, decodeTokensPerSecMedian: 50,
    speedup: 2, flopLimit: 3, measuredWorkRatio: null, passkey: { found: 20, total: 20, accuracy: 1 },
    fidelity: { status: 'measured', positions: 256, top1Agreement: 0.9, meanKl: 0.1, maxKl: 1, cached: false, perPrompt: [] },
    lazy: null, memory: { kvBytesPeakMax: null, kvBytesSteadyMedian: null, kvBytesAllocated: null, kvBytesUsedMedian: null, contextSize: null }, kv: null, trials: [],
    ...over,
  };
}

function proseCell(rowId: string, length: number, over: Partial<ProseCell> = {}): ProseCell {
  return {
    rowId, label: rowId, length, promptTokensMedian: length - 80, questions: 25, correct: 10, single: { correct: 8, total: 20 }, twoPassage: { correct: 2, total: 5 },
    fullId: 'patched/full/fa-off', fullCorrect: 10, kept: 9, keptShare: 0.9, sameAsFull: 20, forced: null, ttftMedianMs: 1000, ttftRatio: 1.5, kvBytesSteadyMedian: 1, kvRatio: 4, turns: [],
    ...over,
  };
}

// only the fields the headline reads: the rest of a run's JSON is irrelevant here
function passkeyRun(file: string, startedAt: string, mode: 'full' | 'quick', cells: CellResult[]): BenchRun<BenchResults> {
  return { file, results: { mode, startedAt, model: { name: 'SmolLM2' }, source: { commit: 'f00d', dirtyFiles: 0 }, cells } as unknown as BenchResults };
}

function proseRun(file: string, startedAt: string, mode: 'full' | 'quick', cells: ProseCell[], modelId = 'smollm2'): BenchRun<ProseResults> {
  return { file, results: { task: 'prose-qa', mode, startedAt, model: { id: modelId, name: modelId }, source: { commit: 'f00d', dirtyFiles: 0 }, cells } as unknown as ProseResults };
}

const passkeyRuns = [
  passkeyRun('bench/2026-11-22-full.json', '2026-11-22T09:00:00Z', 'full', [passkeyCell('stock/full/fa-off', 8192, { speedup: 1 }), passkeyCell('patched/lazy/fa-off', 8192, { speedup: 9 })]),
  // later, and shorter: the latest run wins whatever length it ran; within it the longest length
  passkeyRun('bench/2026-11-22-full-2.json', '2026-11-22T10:00:00Z', 'full', [
    passkeyCell('patched/lazy/fa-off', 1024, { speedup: 3 }),
    passkeyCell('patched/lazy/fa-off', 4096, { speedup: 4.1, passkey: { found: 18, total: 20, accuracy: 0.9 } }),
    passkeyCell('patched/vatp:budget=0.2/fa-off', 2048, { speedup: 0.9, kv: { steadyRatio: 0.25, referenceId: 'patched/full/fa-off' } as CellResult['kv'] }),
  ]),
  passkeyRun('bench/2026-11-23-quick.json', '2026-11-23T00:00:00Z', 'quick', [passkeyCell('patched/lazy/fa-off', 2048, { speedup: 99 })]),
];

const proseRuns = [
  proseRun('bench/2026-12-02-prose-smollm2.json', '2026-12-02T00:00:00Z', 'full', [
    proseCell('stock/full/fa-off', 2048, { fullId: 'stock/full/fa-off', ttftRatio: 1 }),
    proseCell('patched/full/fa-off', 2048, { fullId: 'patched/full/fa-off', ttftRatio: 1, kvRatio: 1 }),
    proseCell('patched/vatp:budget=0.2/fa-off', 1024, { kept: 2 }),
    proseCell('patched/vatp:budget=0.2/fa-off', 2048, { kept: 4, fullCorrect: 9 }),
  ]),
  proseRun('bench/2026-12-03-prose-quick-smollm2.json', '2026-12-03T00:00:00Z', 'quick', [proseCell('patched/vatp:budget=0.2/fa-off', 4096, { kept: 0 })]),
  // a later run of another model replaces none of the first model's figures: both are shown
  proseRun('bench/2026-12-04-prose-qwen2.json', '2026-12-04T00:00:00Z', 'full', [proseCell('patched/vatp:budget=0.2/fa-off', 2048, { kept: 3, fullCorrect: 8 })], 'qwen2'),
];

// the run log as runSection and proseSection write it: the same heading twice, one run without a section
const runLog = [
  '## 2026-11-22 — full run',
  '',
  '- Machine-readable: [bench/2026-11-22-full.json](bench/2026-11-22-full.json)',
  '',
  '## 2026-11-22 — full run',
  '',
  '- Machine-readable: [bench/2026-11-22-full-2.json](bench/2026-11-22-full-2.json)',
  '',
].join('\n');

describe('collectHeadline', () => {
  const rows = collectHeadline(passkeyRuns, proseRuns);

  it('keeps one row per non-stock row, full KV first, from full-mode runs only', () => {
    expect(rows.map((r) => r.rowId)).toEqual(['patched/full/fa-off', 'patched/lazy/fa-off', 'patched/vatp:budget=0.2/fa-off']);
  });

  it("takes the latest run's cell at the longest length that run measured, never a quick run's", () => {
    const lazy = rows.find((r) => r.rowId === 'patched/lazy/fa-off');
    expect(lazy?.passkey).toMatchObject({ file: 'bench/2026-11-22-full-2.json', cell: { length: 4096, speedup: 4.1 } });
    expect(lazy?.prose).toEqual([]);
    const vatp = rows.find((r) => r.rowId === 'patched/vatp:budget=0.2/fa-off');
    expect(vatp?.prose).toMatchObject([
      { file: 'bench/2026-12-04-prose-qwen2.json', modelId: 'qwen2', cell: { length: 2048, kept: 3 } },
      { file: 'bench/2026-12-02-prose-smollm2.json', modelId: 'smollm2', cell: { length: 2048, kept: 4 } },
    ]);
  });

  it('shows a bare lazy row of a run made before the default changed under the schedule it ran', () => {
    expect(asMeasured('patched/lazy/fa-on', 'patched · lazy · FA on', '89961dce488dbd6d039fcb9af56a31919d112150')).toEqual({
      rowId: 'patched/lazy:at=4/8/16,keep=0.35/0.2/0.1,from=3,window=8/fa-on',
      label: 'patched · lazy:at=4/8/16,keep=0.35/0.2/0.1,from=3,window=8 (the default then) · FA on',
    });
    // a schedule written out still scored by the window of its day
    expect(asMeasured('patched/lazy:at=4/12/20,keep=0.5/0.3/0.2/fa-off', 'x', 'e438a7c42673').rowId).toBe('patched/lazy:at=4/12/20,keep=0.5/0.3/0.2,window=8/fa-off');
    expect(asMeasured('patched/lazy/fa-off', 'patched · lazy · FA off', '18f2fc9fd151').rowId).toBe('patched/lazy/fa-off');
  });
});

describe('headline anchors', () => {
  it('suffixes a repeated heading -1, -2 … in order, as GitHub does', () => {
    const anchors = headingAnchors(`${runLog}\n## 2026-11-22 — full run\n\n## 2026-12-02 — real-document QA (\`--prose --quick\`, a smoke run)\n`);
    expect(anchors.map((a) => a.anchor)).toEqual(['2026-11-22--full-run', '2026-11-22--full-run-1', '2026-11-22--full-run-2', '2026-12-02--real-document-qa---prose---quick-a-smoke-run']);
  });

  it('links each run to the section that links its JSON file', () => {
    expect(sectionAnchorsByFile(runLog)).toEqual(new Map([['bench/2026-11-22-full.json', '2026-11-22--full-run'], ['bench/2026-11-22-full-2.json', '2026-11-22--full-run-1']]));
  });
});

describe('headlineSection', () => {
  const section = headlineSection(collectHeadline(passkeyRuns, proseRuns), runLog);

  it('writes one line per row, both tasks side by side, the length in each cell and the model in each prose line', () => {
    expect(section).toContain('| lazy | off | 4.10× (4k) | — | 18/20 (4k) | 90.0% (4k) | — | — | — |');
    expect(section).toContain(
      '| vatp:budget=0.2 | off | 0.90× (2k) | 4.0× (2k) | 20/20 (2k) | 90.0% (2k) | 3/8 (2k, qwen2)<br>4/9 (2k, smollm2) | 1.50× (2k, qwen2)<br>1.50× (2k, smollm2) | 4.0× (2k, qwen2)<br>4.0× (2k, smollm2) |',
    );
    expect(section).toContain('| full | off | — | — | — | — | reference (2k, smollm2) | 1.00× (2k, smollm2) | reference (2k, smollm2) |');
  });

  it("links a run's section by its anchor, and the JSON file when no section links it", () => {
    expect(section).toContain('[2026-11-22-full-2](#2026-11-22--full-run-1), [2026-12-04-prose-qwen2](bench/2026-12-04-prose-qwen2.json), [2026-12-02-prose-smollm2](bench/2026-12-02-prose-smollm2.json) |');
  });

  it('goes first in the header, above the real-document frontier and the method; the run log is kept', () => {
    const header = withCurrentHeader(`# old\n\n${runLog}`, section, '## Real-document frontier (latest full runs)\n');
    expect(header).toMatch(/^# Benchmarks[\s\S]*\n## Headline figures \(latest full run per policy\)\n[\s\S]*\n## Real-document frontier[\s\S]*\n## Method\n[\s\S]*\n## 2026-11-22 — full run\n/);
    expect(benchmarksHeader('', '')).toBe(benchmarksHeader());
    expect(headlineSection([], runLog)).toBe('');
  });
});
