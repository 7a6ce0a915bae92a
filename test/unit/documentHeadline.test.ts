import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { documentHeadline, latestByRow } from '../bench/documentHeadline.js';

// only the fields the block reads; the runs' other fields are left out
function longCell(policy: string, length: number, depth: number, found: boolean) {
  return { policy, length, depth, passkey: '1', answer: '', found, needleInPrompt: found, promptTokens: length, ttftMs: 100_000, prefillTokensPerSec: 60, kvBytesPeak: 47_185_920, contextSize: 2048, evicted: 0, evictionRounds: 0, lookaheadTokens: 0, notice: null };
}

function run(task: string, startedAt: string, cells: unknown[], mode = 'full') {
  return { task, format: 1, mode, startedAt, model: { name: 'SmolLM2 135M', fileName: 'smol.gguf', sha256: '' }, cells };
}

function turn(ttftMs: number) {
  return { question: 'q', answer: 'a', correct: true, promptTokens: 100, prefillTokens: 10, reusedTokens: 90, ttftMs, revived: null, moved: null, kvBytesSteady: null, next: 'whole' };
}

describe('the documents block of BENCHMARKS.md', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, results: unknown): void {
    writeFileSync(path.join(dir, name), JSON.stringify(results));
  }

  it('shows each length and row from the latest full run that measured it, linked to its section', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sift-doc-headline-'));
    const depths = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95];
    write('2026-12-05-long.json', run('long', '2026-12-05T01:00:00Z', depths.map((d, i) => longCell('vatp:budget=2048', 32768, d, i < 5))));
    write('2026-12-06-long.json', run('long', '2026-12-06T01:00:00Z', [...depths.map((d, i) => longCell('vatp:budget=2048', 32768, d, i !== 1)), ...depths.map((d, i) => longCell('truncate:last', 32768, d, i === 9))]));
    write('2026-12-06-long-quick.json', run('long', '2026-12-06T02:00:00Z', [longCell('vatp:budget=2048', 32768, 0.5, false)], 'quick'));
    write('2026-12-03-conversation.json', run('conversation', '2026-12-03T01:00:00Z', [
      { policy: 'full', length: 8192, first: turn(100_000), followUps: [{ index: 0, reused: turn(800), reread: turn(100_000), sameAnswer: true }], afterPause: null },
      // lazy: the follow-up asked at once waits for the revival, the one after a pause does not
      { policy: 'lazy', length: 8192, first: turn(40_000), followUps: [{ index: 0, reused: turn(8_000), reread: turn(40_000), sameAnswer: true }], afterPause: { pauseMs: 40_000, turn: turn(600) } },
    ]));
    write('2026-12-03-reopen.json', run('reopen', '2026-12-03T02:00:00Z', [{ policy: 'lazy', length: 8192, cold: turn(70_000), saveWaitMs: 0, savedBytes: 0, reopened: { ...turn(560), restoredTokens: 90, restoreMs: 100, notice: null }, reread: turn(70_000), sameAnswer: false }]));
    const log = '## 2026-12-06 — documents longer than the context (`--long`, real prose)\n\nResults: [bench/2026-12-06-long.json](bench/2026-12-06-long.json).\n';
    const block = documentHeadline(dir, log);
    const rows = block.split('\n').filter((line) => line.startsWith('| 32,768'));
    // the newer full run replaces the older one's 5/10; the quick run is not counted
    expect(rows).toEqual([
      '| 32,768 | `vatp:budget=2048` | **9/10** | 2,048 cells, 45.0 MiB | 100.0 s | 60 | [2026-12-06-long](#2026-12-06--documents-longer-than-the-context---long-real-prose) |',
      '| 32,768 | `truncate:last` | **1/10** | 2,048 cells, 45.0 MiB | 100.0 s | 60 | [2026-12-06-long](#2026-12-06--documents-longer-than-the-context---long-real-prose) |',
    ]);
    expect(block).toContain('| 8,192 | `full` | 100.0 s | **0.8%** | 1/1 | [2026-12-03-conversation](bench/2026-12-03-conversation.json) |');
    expect(block).toContain('| 8,192 | `lazy` | 40.0 s | **20.0%** (after a pause: 1.5%) | 1/1 | [2026-12-03-conversation](bench/2026-12-03-conversation.json) |');
    expect(block).toContain('| 8,192 | `lazy` | 70.0 s | **0.8%** | no | [2026-12-03-reopen](bench/2026-12-03-reopen.json) |');
    expect(block).toContain('model SmolLM2 135M');
  });

  it('is empty when no full document run exists', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sift-doc-headline-'));
    expect(documentHeadline(dir, '')).toBe('');
    expect(documentHeadline(path.join(dir, 'missing'), '')).toBe('');
  });

  it('keeps a row from an older run when a newer one measured other rows only', () => {
    const older = { file: 'bench/a.json', results: { cells: [{ length: 8192, policy: 'x' }, { length: 8192, policy: 'y' }] } };
    const newer = { file: 'bench/b.json', results: { cells: [{ length: 8192, policy: 'y' }] } };
    expect(latestByRow([older, newer]).map((l) => `${l.cells[0]!.policy}@${l.file}`)).toEqual(['x@bench/a.json', 'y@bench/b.json']);
  });
});
