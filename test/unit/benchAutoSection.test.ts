// `npm run bench -- --auto`: the section is rendered from the stored per-length runs, so lengths
// measured on different days make one table, and each row's regret is the best fitting fixed
// policy's correct answers minus auto's (ties by answers equal to full KV's, then TTFT).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUTO_FIXED, autoRows, readAutoLengths, renderAutoSection, saveAutoLength, type AutoLengthRun, type AutoOutcome, type AutoTaskRun } from '../bench/autoSection.js';
import { parsePolicy } from '../../src-common/policy/spec.js';
import { describeMachine } from '../bench/machine.js';

const outcome = (policy: string, correct: boolean, answer: string, ttftMs: number, reused = false): AutoOutcome => ({ policy, correct, answer, ttftMs, kvBytesPeak: null, reused });

function taskRun(): AutoTaskRun {
  // two questions; full right on both, lazy on one and faster, 8-bit on both and slower
  const fixed: AutoTaskRun['fixed'] = Object.fromEntries(AUTO_FIXED.map((p) => [p, [outcome(p, false, 'x', 9000), outcome(p, false, 'y', 9000)]]));
  fixed['full'] = [outcome('full', true, 'a', 1000), outcome('full', true, 'b', 1200)];
  fixed['lazy'] = [outcome('lazy', true, 'a', 600), outcome('lazy', false, 'c', 700)];
  fixed['kv:type=q8_0'] = [outcome('kv:type=q8_0', true, 'a', 2000), outcome('kv:type=q8_0', true, 'b', 2200)];
  const fits: AutoTaskRun['fits'] = Object.fromEntries(AUTO_FIXED.map((p) => [p, { ample: true, tight: p !== 'full' && p !== 'lazy', 'very tight': p.startsWith('vatp') }]));
  return {
    task: 'prose',
    questions: 2,
    fixed,
    fits,
    auto: {
      ample: [{ ...fixed['full']![0]!, reused: true }, { ...fixed['full']![1]!, reused: true }],
      tight: [{ ...fixed['kv:type=q8_0']![0]!, reused: true }, outcome('streaming:budget=2048', true, 'b', 1100)],
      'very tight': [outcome('vatp:budget=512,pool=7+kv:type=q8_0', false, 'z', 3000), outcome('vatp:budget=512,pool=7+kv:type=q8_0', true, 'b', 3000)],
    },
    limitBytes: { ample: [64 * 2 ** 30, 64 * 2 ** 30], tight: [100 * 2 ** 20, 120 * 2 ** 20], 'very tight': [40 * 2 ** 20, 40 * 2 ** 20] },
  };
}

describe('the auto bench section', () => {
  it('runs fixed policies the grammar accepts', () => {
    for (const policy of AUTO_FIXED) expect(() => parsePolicy(policy)).not.toThrow();
  });

  it('names the best fitting fixed policy per limit and auto\'s regret against it', () => {
    const [ample, tight, veryTight] = autoRows(2048, taskRun());
    // ample: full and lazy fit; full keeps both answers, lazy one: full is best, auto chose it (reused)
    expect(ample).toMatch(/\| ample \(64\.0 GiB\) \| `full` \(2 reused\) \| 2\/2 \| 2\/2 \| 1100 \|/);
    expect(ample).toMatch(/\| `full`: 2\/2, same 2, 1100 ms \| 0 answers; TTFT 1\.00× \|$/);
    // tight: full and lazy do not fit; the 8-bit cache is best (2 right, 2100 ms); auto got both sooner
    expect(tight).toMatch(/\| `kv:type=q8_0`, `streaming:budget=2048` \(1 reused\) \| 2\/2 \| 2\/2 \| 1550 \|/);
    expect(tight).toMatch(/\| `kv:type=q8_0`: 2\/2, same 2, 2100 ms \| 0 answers; TTFT 0\.74× \|$/);
    // very tight: only eviction fits and no fixed one was right: auto's one right answer is a negative regret
    expect(veryTight).toMatch(/-1 answer; TTFT 0\.33× \|$/);
  });

  it('keeps each length as stored and renders them in one table, each with its own command and date', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sift-auto-section-'));
    const run = (length: number, date: string): AutoLengthRun => ({
      task: 'auto',
      length,
      depths: 4,
      command: `npm run bench -- --auto --lengths ${length}`,
      date,
      machine: describeMachine(),
      model: 'SmolLM2',
      frontier: { questions: 10, measuredAt: '2026-12-05T00:07:00Z' },
      tasks: [taskRun()],
    });
    saveAutoLength(dir, run(4096, '2026-12-06'));
    saveAutoLength(dir, run(2048, '2026-12-05'));
    expect(readAutoLengths(dir).map((r) => r.length)).toEqual([2048, 4096]);
    const section = renderAutoSection(readAutoLengths(dir));
    expect(section).toMatch(/^## 2026-12-06 — Policy auto against every fixed policy that fits/);
    expect(section).toMatch(/- 2,048 tokens, 2026-12-05: `npm run bench -- --auto --lengths 2048`/);
    expect(section).toMatch(/- 4,096 tokens, 2026-12-06: `npm run bench -- --auto --lengths 4096`/);
    expect(section.split('\n').filter((line) => line.startsWith('| 2,048 |'))).toHaveLength(3);
    expect(section.split('\n').filter((line) => line.startsWith('| 4,096 |'))).toHaveLength(3);
  });
});
