// `npm run setup`'s smoke step: each build decodes on this machine and says which CPU code it runs.
// A CPU variant that dies of SIGILL (forced here: no CPU on hand lacks an instruction the build
// uses) is switched off and the decode tried with the next best one; a native build that dies so
// exits with code 3, which setup answers with a rebuild with CPU variants.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDisabledCpuVariants } from '../../src-engine/cpuVariants.js';
import { readBuildRecord } from '../../src-engine/nativeBuilds.js';

const script = path.resolve('scripts/smoke-engine.ts');
const run = (env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 170_000 });
const cpuBuild = readBuildRecord('patched')?.cpu ?? 'native';

describe('setup smoke decode', () => {
  it('decodes with each build and says which CPU code and features it uses', () => {
    const out = run();
    expect(out.status, out.stderr).toBe(0);
    const code = cpuBuild === 'variants' ? 'CPU variant [a-z0-9_.]+' : 'CPU code built for this machine';
    expect(out.stdout).toMatch(new RegExp(`\\[smoke\\] patched: decoded 2 tokens; ${code}.*\\((SSE3|NEON)`));
    expect(out.stdout).toMatch(/\[smoke\] stock: decoded 2 tokens/);
  });

  it.skipIf(cpuBuild !== 'variants')('switches a CPU variant that dies of SIGILL off and decodes with the next best one', () => {
    const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sift-smoke-')), 'cpu-variants.json');
    const out = run({ SIFT_SMOKE_FORCE_SIGNAL: 'SIGILL', SIFT_SMOKE_FORCE_ATTEMPTS: '1', SIFT_CPU_VARIANTS_FILE: stateFile });
    expect(out.status, out.stderr).toBe(0);
    const died = /\[smoke\] patched: .*killed by SIGILL\. Its ([a-z0-9_.]+) CPU code uses an instruction this processor does not run/.exec(out.stderr);
    expect(died, out.stderr).not.toBeNull();
    const variant = died![1]!;
    expect(out.stderr).toContain(`[smoke] patched: the ${variant} CPU variant is off on this machine now`);
    const next = /\[smoke\] patched: decoded 2 tokens; CPU variant ([a-z0-9_.]+) .*switched off on this machine after crashing: ([a-z0-9_., ]+?);/m.exec(out.stdout);
    expect(next, out.stdout).not.toBeNull();
    expect(next![1]).not.toBe(variant);
    expect(next![2]).toBe(variant);
    // stock started without that variant, died once on its own best one, and switched that off too
    expect(readDisabledCpuVariants(stateFile).map((d) => d.variant)).toEqual([variant, next![1]]);
  });

  it.skipIf(cpuBuild !== 'native')('a native build that dies of SIGILL exits with code 3 and the rebuild command', () => {
    const out = run({ SIFT_SMOKE_FORCE_SIGNAL: 'SIGILL' });
    expect(out.status).toBe(3);
    expect(out.stderr).toMatch(/\[smoke\] patched: the engine could not answer on this machine\. The engine process was killed by SIGILL/);
    expect(out.stderr).toContain('npm run build-native -- --cpu variants --force');
  });
});
