import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { resolveNativeDir } from './src-engine/nativeBuilds.js';

// A test that kills an engine with SIGILL switches a CPU variant off: in a file of the test run's
// own, never in the state file of the person running the tests (docs/NATIVE.md). The run's file
// starts as a copy of what this machine switched off already (npm run setup's smoke decode finds
// an AMX Xeon's sapphirerapids code dying of SIGILL), so no test starts on code that cannot run here.
const runStateFile = path.join(os.tmpdir(), `sift-test-cpu-variants-${process.pid}.json`);
const machineStateFile = path.join(resolveNativeDir(), 'cpu-variants.json');
if (fs.existsSync(machineStateFile)) fs.copyFileSync(machineStateFile, runStateFile);
else fs.rmSync(runStateFile, { force: true });
const env = { SIFT_CPU_VARIANTS_FILE: runStateFile };

// Two projects: pure unit tests run in threads; anything that loads native code (llama.cpp,
// better-sqlite3) or spawns engine processes runs in forked workers, one at a time, so a native
// abort kills a worker rather than the run and two engines never compete for the 2 cores.
export default defineConfig({
  test: {
    // CI also writes a JSON report that scripts/test-summary.ts turns into one closing line
    reporters: process.env['CI'] ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        test: {
          name: 'unit',
          env,
          include: ['test/unit/**/*.test.ts'],
          pool: 'threads',
        },
      },
      {
        test: {
          name: 'integration',
          env,
          include: ['test/integration/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'e2e',
          env,
          include: ['test/e2e/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
