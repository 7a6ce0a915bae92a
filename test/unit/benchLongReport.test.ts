// `npm run bench -- --long`: the rows it runs parse as policies, and its summary counts needles
// found per length and row, with what a truncating baseline could have found at all.
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../bench/options.js';
import { LONG_CONTEXT, LONG_POLICIES, type LongCell } from '../bench/longRun.js';
import { longSection, summarizeLong, type LongRunResults } from '../bench/longReport.js';
import { parsePolicy } from '../../src-common/policy/spec.js';

function cell(policy: string, depth: number, found: boolean, extra: Partial<LongCell> = {}): LongCell {
  return {
    policy,
    length: 32768,
    depth,
    passkey: '12345',
    answer: found ? 'The pass key is 12345.' : 'The pass key is 1.',
    found,
    needleInPrompt: true,
    promptTokens: 32768,
    ttftMs: 300_000,
    prefillTokensPerSec: 109,
    kvBytesPeak: 180 * 2 ** 20,
    contextSize: LONG_CONTEXT,
    evicted: 24_000,
    evictionRounds: 48,
    lookaheadTokens: 1500,
    notice: null,
    ...extra,
  };
}

describe('bench --long', () => {
  it('parses the option, and each evicting row is a policy the grammar accepts', () => {
    const options = parseOptions(['--long', '--quick'], '/tmp');
    expect(options).toMatchObject({ long: true, mode: 'quick' });
    for (const row of LONG_POLICIES.filter((r) => !r.startsWith('truncate:'))) {
      expect(() => parsePolicy(row.replace(/^question-first\//, ''))).not.toThrow();
    }
  });

  it('counts needles found per row, and what the cut left a truncating row to find', () => {
    const cells = [
      cell(LONG_POLICIES[0]!, 0.25, true, { followUp: { ttftMs: 3000, prefillTokens: 30, found: true } }),
      cell(LONG_POLICIES[0]!, 0.75, true, { followUp: { ttftMs: 6000, prefillTokens: 32, found: false } }),
      cell('truncate:first', 0.25, true, { promptTokens: 8000, contextSize: 8192 }),
      cell('truncate:first', 0.75, false, { needleInPrompt: false, promptTokens: 8000 }),
    ];
    const summary = summarizeLong(cells);
    expect(summary).toEqual([
      expect.objectContaining({ policy: LONG_POLICIES[0], found: 2, asked: 2, depthsFound: [0.25, 0.75], followUps: { found: 1, asked: 2, medianTtftMs: 4500, medianShare: 0.015, medianRead: 31 } }),
      expect.objectContaining({ policy: 'truncate:first', found: 1, asked: 2, inPrompt: 1, depthsFound: [0.25], followUps: null }),
    ]);
    const results = {
      task: 'long',
      format: 1,
      source: { commit: 'abc', dirty: false },
      mode: 'full',
      startedAt: '2026-12-04T13:00:00.000Z',
      durationSec: 60,
      command: 'npm run bench -- --long',
      machine: { cpuModel: 'test CPU', availableParallelism: 2, loadAverageAtStart: 0 },
      model: { fileName: 'm.gguf', name: 'SmolLM2', sha256: 'x' },
      buildId: 'b',
      documents: [{ length: 32768, sourceId: 'binder', promptTokens: 32768 }],
      cells,
    } as unknown as LongRunResults;
    const section = longSection(results, 'bench/x.json');
    expect(section).toContain('| 32768 | `truncate:first` | **1/2 (50%)** | 1/2 | 0.25 |');
    expect(section).toContain(`| 32768 | \`${LONG_POLICIES[0]}\` | **2/2 (100%)** | all | 0.25, 0.75 |`);
    // the evicting row's follow-ups went on from the kept cache: 1 of 2 keys named, 4.5 s median (1.5% of the first turn's)
    expect(section).toContain('| 1/2, 4.50 s (1.5%), 31 read |');
  });
});
