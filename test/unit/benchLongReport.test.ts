// `npm run bench -- --long`: the rows it runs parse as policies, and its summary counts needles
// found per length and row, with what a truncating baseline could have found at all.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../bench/options.js';
import { LONG_CONTEXT, LONG_POLICIES, type LongCell } from '../bench/longRun.js';
import { longProvenance, longSection, ratesByLength, summarizeLong, type EarlierLongRun, type LongRunResults } from '../bench/longReport.js';
import { engineSourceHash, LongCheckpoint } from '../bench/longCheckpoint.js';
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

  it("leaves a truncated prompt that lost the needle out of the times: it was not asked", () => {
    const cells = [
      cell('truncate:last', 0.05, false, { needleInPrompt: false, asked: false, ttftMs: 0, prefillTokensPerSec: 0, kvBytesPeak: null, contextSize: 0 }),
      cell('truncate:last', 0.95, true, { ttftMs: 180_000, prefillTokensPerSec: 45 }),
    ];
    const [summary] = summarizeLong(cells);
    expect(summary).toMatchObject({ found: 1, asked: 2, inPrompt: 1, notAsked: 1, medianTtftMs: 180_000, medianTokensPerSec: 45, maxContextSize: LONG_CONTEXT });
  });

  it('takes --resume only with --long', () => {
    expect(parseOptions(['--long', '--resume'], '/tmp')).toMatchObject({ long: true, resume: true });
    expect(() => parseOptions(['--prose', '--resume'], '/tmp')).toThrow(/--resume goes with --long/);
  });

  it('says which cells an earlier run measured, and that times compare only within one CPU', () => {
    const at = (day: string, cpu: string) => ({ at: `2026-12-${day}T10:00:00.000Z`, cpu });
    const one = [cell('r', 0.05, true, { measured: at('06', 'AMD EPYC (AVX2)') })];
    expect(longProvenance(one)).toBeNull();
    const mixed = [
      cell('r', 0.05, true, { measured: at('06', 'AMD EPYC (AVX2)'), resumed: true, prefillTokensPerSec: 60 }),
      cell('r', 0.15, false, { measured: at('07', 'AMD EPYC (AVX-512)'), prefillTokensPerSec: 170 }),
      cell('r', 0.25, true, { measured: at('07', 'AMD EPYC (AVX-512)'), prefillTokensPerSec: 160 }),
    ];
    const text = longProvenance(mixed)!;
    expect(text).toContain('**1 of 3 cells were measured by an earlier run**');
    expect(text).toContain('measured 2026-12-06.');
    expect(text).toContain('AMD EPYC (AVX2): 1 cells, median 60 tok/s; AMD EPYC (AVX-512): 2 cells, median 165 tok/s');
  });

  it('names the cells that shared the CPU with other work, and the median tok/s of those that ran alone', () => {
    const on = (otherCores: number | null) => ({ at: '2026-12-06T10:00:00.000Z', cpu: 'AMD EPYC (AVX2)', otherCores });
    const cells = [
      cell('r', 0.05, true, { measured: on(0.02), prefillTokensPerSec: 62 }),
      cell('r', 0.15, true, { measured: on(0.05), prefillTokensPerSec: 64 }),
      cell('r', 0.25, true, { measured: on(0.9), prefillTokensPerSec: 40 }),
      cell('r', 0.35, true, { measured: on(null), prefillTokensPerSec: 10 }),
      cell('truncate:last', 0.05, false, { measured: on(1.5), asked: false, prefillTokensPerSec: 0 }),
    ];
    const text = longProvenance(cells)!;
    expect(text).toContain('`r` at 32768: 1 of 3 cells shared the CPU with other work (0.90–0.90 cores on average; depths 0.25), median of the cells that ran alone: 63 tok/s.');
    // a cell not asked ran nothing, so it says nothing of shared cores
    expect(text).not.toContain('truncate:last');
    expect(longProvenance(cells.slice(0, 2))).toBeNull();
  });

  it('puts the prefill rate at each length side by side, from the latest full run of each on this CPU', () => {
    const on = (cpu: string, otherCores?: number) => ({ at: '2026-12-06T10:00:00.000Z', cpu, ...(otherCores === undefined ? {} : { otherCores }) });
    const row = LONG_POLICIES[0]!;
    const at = (length: number, rate: number, cpu: string, otherCores?: number) => cell(row, 0.5, true, { length, prefillTokensPerSec: rate, measured: on(cpu, otherCores) });
    const epyc = 'AMD EPYC (AVX2)';
    const earlier: EarlierLongRun[] = [
      { file: 'bench/2026-12-06-long-2.json', mode: 'full', startedAt: '2026-12-06T05:00:00Z', cells: [at(8192, 61, epyc), at(8192, 63, epyc)] },
      { file: 'bench/2026-12-05-long.json', mode: 'full', startedAt: '2026-12-05T05:00:00Z', cells: [at(32768, 50, epyc)] },
      { file: 'bench/2026-12-06-long.json', mode: 'full', startedAt: '2026-12-06T01:00:00Z', cells: [at(32768, 62, epyc), at(32768, 40, 'AMD EPYC (AVX-512)')] },
      { file: 'bench/2026-12-06-long-quick.json', mode: 'quick', startedAt: '2026-12-06T09:00:00Z', cells: [at(8192, 10, epyc)] },
    ];
    const current = {
      mode: 'full',
      startedAt: '2026-12-07T01:00:00Z',
      cells: [at(65536, 60, epyc, 0.02), at(65536, 58, epyc, 0.05), at(65536, 30, epyc, 1.1), cell('truncate:last', 0.5, true, { measured: on(epyc, 0) })],
    } as unknown as LongRunResults;
    expect(ratesByLength(current, earlier)).toEqual([
      `\`${row}\` on AMD EPYC (AVX2), prompt tokens per second by document length, the latest full run of each: ` +
        '8,192: 62 (2 cells, 2026-12-06, bench/2026-12-06-long-2.json); 32,768: 62 (1 cells, 2026-12-06, bench/2026-12-06-long.json); 65,536: 59 (2 cells, this run).',
    ]);
    // one length alone says nothing of flatness
    expect(ratesByLength(current, [])).toEqual([]);
  });

  it('keeps a cell under a key of everything that shaped it, and reads it back only when resuming', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sift-long-'));
    try {
      const identity = { buildId: 'b1', modelSha256: 'm1', engineSource: 's1' };
      const writer = new LongCheckpoint<{ answer: string }>(dir, identity, false);
      const key = writer.key('row', { prompt: 'p' });
      writer.write(key, { answer: '12345', measured: { at: '2026-12-06T00:00:00.000Z', cpu: 'c' } });
      expect(writer.read(key)).toBeNull();
      const resumer = new LongCheckpoint<{ answer: string }>(dir, identity, true);
      expect(resumer.read(key)).toMatchObject({ answer: '12345', measured: { cpu: 'c' } });
      expect(resumer.reusedCount).toBe(1);
      for (const changed of [{ buildId: 'b2' }, { modelSha256: 'm2' }, { engineSource: 's2' }]) {
        expect(new LongCheckpoint(dir, { ...identity, ...changed }, true).key('row', { prompt: 'p' })).not.toBe(key);
      }
      expect(resumer.key('row', { prompt: 'q' })).not.toBe(key);
      expect(resumer.key('other', { prompt: 'p' })).not.toBe(key);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hashes the engine's sources, so an edit to a policy never reuses a cell measured before it", () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sift-src-'));
    try {
      mkdirSync(path.join(root, 'src-engine', 'deep'), { recursive: true });
      mkdirSync(path.join(root, 'src-common'), { recursive: true });
      writeFileSync(path.join(root, 'src-engine', 'deep', 'kvEviction.ts'), 'export const a = 1;');
      writeFileSync(path.join(root, 'src-common', 'spec.ts'), 'export const b = 2;');
      const before = engineSourceHash(root);
      expect(engineSourceHash(root)).toBe(before);
      writeFileSync(path.join(root, 'src-engine', 'deep', 'kvEviction.ts'), 'export const a = 2;');
      expect(engineSourceHash(root)).not.toBe(before);
      writeFileSync(path.join(root, 'src-engine', 'deep', 'notes.md'), 'not code');
      const after = engineSourceHash(root);
      writeFileSync(path.join(root, 'src-engine', 'deep', 'notes.md'), 'still not code');
      expect(engineSourceHash(root)).toBe(after);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
