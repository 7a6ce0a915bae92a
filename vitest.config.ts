import { defineConfig } from 'vitest/config';

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
          include: ['test/unit/**/*.test.ts'],
          pool: 'threads',
        },
      },
      {
        test: {
          name: 'integration',
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
