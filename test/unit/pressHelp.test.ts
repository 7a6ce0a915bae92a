import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASK_HELP } from '../../src-main/cli/ask.js';
import { pressHelpText, withPressBlock } from '../../src-common/policy/pressHelp.js';
import { PRESSES } from '../../src-common/policy/presses/index.js';

describe('press help and docs come from the declarations', () => {
  it('docs/POLICIES.md holds the current press tables (npm run docs:policies rewrites them)', () => {
    const docs = readFileSync(new URL('../../docs/POLICIES.md', import.meta.url), 'utf8');
    expect(withPressBlock(docs)).toBe(docs);
  });

  it('sift ask --help lists every press and knob with its declared default', () => {
    for (const press of PRESSES) {
      expect(ASK_HELP).toContain(`  ${press.name}  ${press.summary}`);
      for (const key of Object.keys(press.knobs)) expect(ASK_HELP).toMatch(new RegExp(`\\n      ${key}=`));
    }
    expect(pressHelpText()).toContain('pool=<a whole number>  max-pooling kernel over positions, odd; 1 = none (default 7)');
  });
});
