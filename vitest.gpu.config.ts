import { defineConfig } from 'vitest/config';

// `npm run test:gpu`: Sift's policies on the GPU backend the native builds carry (Vulkan, CUDA or
// Metal; docs/NATIVE.md). Kept out of `npm test`: on a machine without a GPU it runs on Mesa's
// software Vulkan driver, minutes per engine, and CI builds no GPU backend.
export default defineConfig({
  test: {
    include: ['test/gpu/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 600_000,
    // five engines' first probes before any test: over 15 minutes on lavapipe without AVX-512
    hookTimeout: 3_600_000,
  },
});
