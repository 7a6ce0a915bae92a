// The real-document frontier at the top of BENCHMARKS.md (test/bench/proseFrontier.ts): the latest
// full-mode cell per model, length and row, never a quick run, as a table and a plot.
import { describe, expect, it } from 'vitest';
import { collectFrontier, frontierPlot, frontierSection } from '../bench/proseFrontier.js';
import { keptOfFull, proseSection, type ProseCell, type ProseResults } from '../bench/proseReport.js';
import { benchmarksHeader, withCurrentHeader } from '../bench/markdownReport.js';

function cell(rowId: string, over: Partial<ProseCell> = {}): ProseCell {
  return {
    rowId, label: rowId.split('/')[1]!, length: 4096, promptTokensMedian: 4000, questions: 25, correct: 10,
    single: { correct: 8, total: 20 }, twoPassage: { correct: 2, total: 5 }, fullId: 'patched/full/fa-off',
    fullCorrect: 10, kept: 9, keptShare: 0.9, sameAsFull: 20, forced: { questions: 25, positions: 400, top1Agreement: 0.9, meanKl: 0.1 }, ttftMedianMs: 1000, ttftRatio: 2, kvBytesSteadyMedian: 1, kvRatio: 1, turns: [],
    ...over,
  };
}

function run(startedAt: string, mode: 'full' | 'quick', cells: ProseCell[]): { file: string; results: ProseResults } {
  return { file: `bench/${startedAt.slice(0, 10)}-prose-smollm2.json`, results: { task: 'prose-qa', mode, startedAt, model: { id: 'smollm2' }, cells } as unknown as ProseResults };
}

describe('keptOfFull', () => {
  it('cuts the share to a tenth of a percent, so 18 of 19 never reads as the 95% target', () => {
    expect(keptOfFull(18, 19, 18 / 19)).toBe('18/19 (94.7%)');
    expect(keptOfFull(19, 19, 1)).toBe('19/19 (100%)');
    expect(keptOfFull(9, 10, 0.9)).toBe('9/10 (90%)');
    expect(keptOfFull(17, 21, 17 / 21)).toBe('17/21 (80.9%)');
  });
});

describe('collectFrontier', () => {
  const runs = [
    run('2026-12-01T00:00:00Z', 'full', [cell('stock/full/fa-off', { fullId: 'stock/full/fa-off' }), cell('patched/full/fa-off', { fullId: 'patched/full/fa-off', ttftRatio: 1 }), cell('patched/lazy/fa-off', { kept: 2, keptShare: 0.2, ttftRatio: 3.5 })]),
    run('2026-12-02T00:00:00Z', 'full', [cell('patched/lazy/fa-off', { kept: 10, keptShare: 1, ttftRatio: 1.5 })]),
    run('2026-12-03T00:00:00Z', 'quick', [cell('patched/lazy/fa-off', { kept: 0, keptShare: 0, ttftRatio: 9 })]),
  ];

  it('keeps the latest full-mode cell of each row, drops stock full (the baseline) and quick runs', () => {
    const points = collectFrontier(runs);
    expect(points.map((p) => p.rowId)).toEqual(['patched/lazy/fa-off', 'patched/full/fa-off']);
    expect(points[0]).toMatchObject({ kept: 10, keptShare: 1, ttftRatio: 1.5, startedAt: '2026-12-02T00:00:00Z' });
    expect(points[1]).toMatchObject({ keptShare: 1, kvRatio: 1 });
  });

  it('writes a table and a plot, and puts the table above the method', () => {
    const points = collectFrontier(runs);
    const section = frontierSection(points, 'bench/prose-frontier.svg');
    expect(section).toContain('| smollm2 | 4k | lazy | 10/10 (100%) | 20/25 | 90.0%, 0.100 | 10/25 | 1.50× |');
    expect(section).toContain('![answers kept vs TTFT and KV](bench/prose-frontier.svg)');
    expect(frontierPlot(points)).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*target 95%[\s\S]*<\/svg>\s*$/);
    const header = benchmarksHeader(section);
    expect(header.indexOf('## Real-document frontier')).toBeLessThan(header.indexOf('## Method'));
    expect(withCurrentHeader('# old\n\n## 2026-11-22 — run\n\nbody\n', section)).toMatch(/## Real-document frontier[\s\S]*## Method[\s\S]*## 2026-11-22 — run\n\nbody/);
    expect(frontierSection([], null)).toBe('');
  });

  it("shows a bare lazy row of a run made before the default changed under the schedule it ran", () => {
    const old = run('2026-12-02T02:16:15Z', 'full', [cell('patched/lazy/fa-off', { label: 'patched · lazy · FA off' })]);
    old.results.source = { commit: '10d894cb48d429d4ad7dcb16f3d5bf4658c7884b', dirtyFiles: 0 };
    const [point] = collectFrontier([old]);
    expect(point).toMatchObject({ rowId: 'patched/lazy:at=4/8/16,keep=0.35/0.2/0.1,from=3,window=8/fa-off', label: 'patched · lazy:at=4/8/16,keep=0.35/0.2/0.1,from=3,window=8 (the default then) · FA off' });
  });
});

describe('a row that revives after the first token', () => {
  const revived = cell('patched/lazy:revive=on/fa-off', { ttftRatio: 2.4, ttftWithRevivalRatio: 0.96, reviveMedianMs: 5200 });

  it('shows beside its TTFT what the second token waits for, in the frontier and in its run', () => {
    const [point] = collectFrontier([run('2026-12-06T00:00:00Z', 'full', [revived])]);
    expect(frontierSection([point!], null)).toContain('| 2.40× (0.96× counting the revival before the second token) |');
    const results = {
      ...run('2026-12-06T00:00:00Z', 'full', [revived]).results,
      machine: { cpuModel: 'cpu', logicalCores: 2, ramBytes: 2 ** 30, os: 'linux', node: 'v22', loadAverageAtStart: 0 },
      model: { id: 'qwen2', name: 'Qwen', fileName: 'q.gguf', architecture: 'qwen2', sha256: 'x' },
      source: { commit: 'abc', dirtyFiles: 0 }, builds: {}, command: 'npm run bench', durationSec: 1,
      suite: { lengths: [4096], depths: [0], answerTokens: 48, seed: 's', corpus: ['a'] }, notes: [], skipped: [],
    } as unknown as ProseResults;
    expect(proseSection(results, 'bench/x.json')).toContain(
      "completed its pruned tokens after the first answer token (revive=on) in a median 5.20 s, which the second token waits for: first token plus revival is 0.96× stock's TTFT, against 2.40× for the first token alone.",
    );
  });
});
