// The pure parts of `npm run bench:store` and `npm run soak`: percentiles, the memory slope and
// its verdict, the generated prose, and the BENCHMARKS.md section they replace rather than repeat.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import { createProse } from '../../scripts/load/prose.js';
import { judgeMemory, MIN_JUDGED_WINDOW_MS, type RssSample } from '../../scripts/load/soakMemory.js';
import { linearSlope, percentile, summarize } from '../../scripts/load/timings.js';

const MIB = 1024 * 1024;

describe('timings', () => {
  it('takes nearest-rank percentiles: every figure is a measured value', () => {
    const values = Array.from({ length: 50 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(25);
    expect(percentile(values, 95)).toBe(48);
    expect(summarize([3, 1, 2])).toEqual({ count: 3, p50: 2, p95: 3, max: 3 });
  });

  it('fits a least-squares slope', () => {
    expect(linearSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBeCloseTo(2);
    expect(linearSlope([{ x: 1, y: 1 }])).toBeNaN();
  });
});

describe('judgeMemory', () => {
  const samples = (minutes: number, serveMiBPerHour: number): RssSample[] =>
    Array.from({ length: minutes * 4 + 1 }, (_, i) => {
      const atMs = i * 15_000;
      return { atMs, serve: (300 + (serveMiBPerHour * atMs) / 3_600_000) * MIB, engine: 500 * MIB, enginePid: 7 };
    });

  it('judges the slope after the warm-up of a long enough run', () => {
    const verdict = judgeMemory(samples(60, 80), 6 * 60_000, 50);
    expect(verdict.judged).toBe(true);
    expect(verdict.growing).toEqual(['sift serve']);
    const serve = verdict.processes.find((p) => p.process === 'sift serve')!;
    expect(serve.slopeMiBPerHour).toBeCloseTo(80);
    expect(serve.startMiB).toBeCloseTo(308);
    expect(verdict.processes.find((p) => p.process === 'engine')!.slopeMiBPerHour).toBeCloseTo(0);
  });

  it('reports but does not judge a run shorter than the judged window', () => {
    const verdict = judgeMemory(samples(2, 500), 12_000, 50);
    expect(MIN_JUDGED_WINDOW_MS).toBeGreaterThan(2 * 60_000);
    expect(verdict.judged).toBe(false);
    expect(verdict.growing).toEqual([]);
  });
});

describe('prose', () => {
  it('is the same for the same seed, varied, and as long as asked', () => {
    const a = createProse(5);
    const b = createProse(5);
    const first = a.text(3000);
    expect(b.text(3000)).toBe(first);
    expect(first.length).toBeGreaterThanOrEqual(3000);
    expect(first.length).toBeLessThan(3600);
    expect(a.text(3000)).not.toBe(first);
    const question = a.question(200);
    expect(question.endsWith('?')).toBe(true);
    expect(question.length).toBeGreaterThanOrEqual(200);
  });
});

describe('writeBenchmarksSection', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('appends the section once, then replaces it in place', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sift-load-doc-'));
    dirs.push(dir);
    const file = path.join(dir, 'BENCHMARKS.md');
    writeFileSync(file, '# Benchmarks\n\n## Method\n\ntext\n\n## 2026-12-01 — full run\n\nrun one\n');
    writeBenchmarksSection(dir, 'soak (`npm run soak`)', '## 2026-12-03 — soak (`npm run soak`)\n\nfirst');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n## 2026-12-04 — full run\n\nrun two\n`);
    writeBenchmarksSection(dir, 'soak (`npm run soak`)', '## 2026-12-05 — soak (`npm run soak`)\n\nsecond');
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(
      '# Benchmarks\n\n## Method\n\ntext\n\n## 2026-12-01 — full run\n\nrun one\n\n## 2026-12-05 — soak (`npm run soak`)\n\nsecond\n\n## 2026-12-04 — full run\n\nrun two\n',
    );
  });
});
