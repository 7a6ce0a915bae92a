// Rewrites docs/POLICIES.md's press tables from the declarations (src-common/policy/presses).
import { readFile, writeFile } from 'node:fs/promises';
import { withPressBlock } from '../src-common/policy/pressHelp.js';

const file = new URL('../docs/POLICIES.md', import.meta.url);
const before = await readFile(file, 'utf8');
const after = withPressBlock(before);
if (after !== before) await writeFile(file, after);
process.stdout.write(after === before ? 'docs/POLICIES.md is current\n' : 'docs/POLICIES.md: press tables rewritten\n');
