// `npm run bench -- --prose --policy SPEC`: a row the suite does not declare (a lazy schedule for a
// model of another depth) runs beside the full-KV rows it is compared with, and a typo is refused
// before an hour of benchmarking.
import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError, type BenchOptions } from '../bench/options.js';
import { buildProseSuite } from '../bench/proseSuite.js';
import { rowId } from '../bench/suite.js';

function options(argv: string[]): BenchOptions {
  const parsed = parseOptions(argv, '/tmp');
  if (parsed === 'help') throw new Error('help');
  return parsed;
}

describe('bench --policy', () => {
  it('adds a patched row with its full-KV baselines, and only those when no filter is given', () => {
    const { policies, mode } = options(['--prose', '--policy', 'lazy:at=6/16/19,keep=0.7/0.6/0.5']);
    const suite = buildProseSuite(mode, { policies });
    expect(suite.rows.map(rowId)).toEqual(['stock/full/fa-off', 'patched/full/fa-off', 'patched/lazy:at=6/16/19,keep=0.7/0.6/0.5/fa-off']);
  });

  it('keeps the rows a filter names beside it, and a declared policy is not doubled', () => {
    const suite = buildProseSuite('full', { rows: ['vatp:budget=0.2,pool=7/'], policies: ['lazy', 'lazy:at=3,keep=0.5'] });
    const ids = suite.rows.map(rowId);
    expect(ids).toContain('patched/vatp:budget=0.2,pool=7/fa-off');
    expect(ids.filter((id) => id === 'patched/lazy/fa-off')).toHaveLength(1);
    expect(ids).toContain('patched/lazy:at=3,keep=0.5/fa-off');
  });

  it('refuses a policy the grammar refuses, with its reason', () => {
    expect(() => options(['--prose', '--policy', 'lazy:at=4'])).toThrow(UsageError);
    expect(() => options(['--prose', '--policy', 'lazy:at=4'])).toThrow(/--policy lazy:at=4: lazy: give both at= and keep=/);
  });
});

describe('bench --auto', () => {
  it('is off unless asked, and keeps the mode and lengths given beside it', () => {
    expect(options([]).auto).toBe(false);
    const parsed = options(['--auto', '--quick', '--lengths', '4096']);
    expect(parsed).toMatchObject({ auto: true, mode: 'quick', lengths: [4096] });
  });
});
