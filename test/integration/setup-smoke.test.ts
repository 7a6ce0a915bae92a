// `npm run setup`'s smoke step: each build decodes on this machine and says which CPU features it
// uses; a build that dies of SIGILL (forced here: no CPU on hand lacks an instruction the build
// uses) fails setup with how to rebuild, instead of failing at the first question.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const script = path.resolve('scripts/smoke-engine.ts');
const run = (env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 170_000 });

describe('setup smoke decode', () => {
  it('decodes with each build and prints the CPU features it uses', () => {
    const out = run();
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/\[smoke\] patched: decoded 2 tokens; CPU features: .*(SSE3|NEON)/);
    expect(out.stdout).toMatch(/\[smoke\] stock: decoded 2 tokens/);
  });

  it('fails with the rebuild command when the engine dies of SIGILL', () => {
    const out = run({ SIFT_SMOKE_FORCE_SIGNAL: 'SIGILL' });
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/\[smoke\] patched: the engine could not answer on this machine\. The engine process was killed by SIGILL/);
    expect(out.stderr).toContain('SIFT_NATIVE_PORTABLE=1 npm run build-native -- --force');
  });
});
