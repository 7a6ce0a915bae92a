// CPU variants: which libraries a build holds, the state file of variants that crashed here, the
// folder the engine loads backends from once one is off, and how the choice is described.
import { lstatSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeCpuCode } from '../../src-main/api/engineSummary.js';
import { signalFromUtilityExit } from '../../src-main/app/utilityEngineHost.js';
import {
  backendsDirFor,
  cpuVariantLibraries,
  disableCpuVariant,
  readDisabledCpuVariants,
  variantToDisable,
} from '../../src-main/engine/cpuVariants.js';
import { cpuOptions, resolveCpuTarget } from '../../scripts/nativeOptions.js';

function fakeBuild(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sift-variants-'));
  for (const file of ['llama-addon.node', 'libggml-base.so', 'libllama.so', 'libggml-cpu-haswell.so', 'libggml-cpu-zen4.so', 'libggml-cpu-sapphirerapids.so', 'libggml-vulkan.so']) {
    writeFileSync(path.join(dir, file), file);
  }
  return dir;
}

describe('CPU variants', () => {
  it('finds the variants a build folder holds', () => {
    expect([...cpuVariantLibraries(fakeBuild()).keys()].sort()).toEqual(['haswell', 'sapphirerapids', 'zen4']);
    expect(cpuVariantLibraries(path.join(os.tmpdir(), 'no-such-build')).size).toBe(0);
  });

  it('keeps the variants switched off in a state file, once each', () => {
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'sift-state-')), 'cpu-variants.json');
    expect(readDisabledCpuVariants(state)).toEqual([]);
    disableCpuVariant('sapphirerapids', 'killed the engine with SIGILL', state);
    disableCpuVariant('sapphirerapids', 'again', state);
    disableCpuVariant('zen4', 'killed the engine with SIGILL', state);
    expect(readDisabledCpuVariants(state).map((d) => [d.variant, d.reason])).toEqual([
      ['sapphirerapids', 'again'],
      ['zen4', 'killed the engine with SIGILL'],
    ]);
    writeFileSync(state, '{ not json');
    expect(readDisabledCpuVariants(state)).toEqual([]);
  });

  it('loads from the build folder until a variant is off, then from a folder without it', () => {
    const build = fakeBuild();
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'sift-state-')), 'cpu-variants.json');
    expect(backendsDirFor(build, [], state)).toBe(build);
    expect(backendsDirFor(build, ['not-in-this-build'], state)).toBe(build);

    const dir = backendsDirFor(build, ['sapphirerapids'], state);
    expect(dir).not.toBe(build);
    expect(readdirSync(dir).sort()).toEqual(['libggml-base.so', 'libggml-cpu-haswell.so', 'libggml-cpu-zen4.so', 'libggml-vulkan.so']);
    expect(lstatSync(path.join(dir, 'libggml-cpu-zen4.so')).isSymbolicLink()).toBe(true);
    // the same set gives the same folder: engines starting together share it
    expect(backendsDirFor(build, ['sapphirerapids'], state)).toBe(dir);
    expect(backendsDirFor(build, ['sapphirerapids', 'zen4'], state)).not.toBe(dir);
  });

  it('switches a variant off only for a SIGILL in a variants build that says which variant ran', () => {
    expect(variantToDisable({ signal: 'SIGILL' }, { build: 'variants', variant: 'sapphirerapids' })).toBe('sapphirerapids');
    expect(variantToDisable({ signal: 'SIGSEGV' }, { build: 'variants', variant: 'sapphirerapids' })).toBeNull();
    expect(variantToDisable({ signal: 'SIGILL' }, { build: 'native', variant: null })).toBeNull();
    expect(variantToDisable({ signal: 'SIGILL' }, { build: 'variants', variant: null })).toBeNull();
  });

  it("reads SIGILL from Electron's utilityProcess exit codes", () => {
    expect(signalFromUtilityExit(4, 'linux')).toBe('SIGILL');
    expect(signalFromUtilityExit(132, 'darwin')).toBe('SIGILL');
    expect(signalFromUtilityExit(0xc000001d, 'win32')).toBe('SIGILL');
    expect(signalFromUtilityExit(1, 'linux')).toBeNull();
    expect(signalFromUtilityExit(4, 'win32')).toBeNull();
  });

  it('says which CPU code runs', () => {
    const features = ['SSE3', 'AVX2', 'AVX512', 'LLAMAFILE', 'OPENMP'];
    expect(describeCpuCode({ build: 'variants', variant: 'zen4', disabledVariants: [], features })).toBe('CPU variant zen4 (SSE3, AVX2, AVX512)');
    expect(describeCpuCode({ build: 'variants', variant: 'icelake', disabledVariants: ['sapphirerapids'], features })).toBe(
      'CPU variant icelake (SSE3, AVX2, AVX512); switched off on this machine after crashing: sapphirerapids',
    );
    expect(describeCpuCode({ build: 'native', variant: null, disabledVariants: [], features: [] })).toBe(
      'CPU code built for this machine (-march=native) (no vector features reported)',
    );
  });
});

describe('native build CPU options', () => {
  it('builds every variant unless asked otherwise', () => {
    expect(resolveCpuTarget(undefined, {})).toBe('variants');
    expect(resolveCpuTarget('native', {})).toBe('native');
    expect(resolveCpuTarget(undefined, { SIFT_NATIVE_CPU: 'native' })).toBe('native');
    expect(resolveCpuTarget('variants', { SIFT_NATIVE_CPU: 'native' })).toBe('variants');
    expect(resolveCpuTarget(undefined, { SIFT_NATIVE_PORTABLE: '1' })).toBe('variants');
    expect(() => resolveCpuTarget('avx2', {})).toThrow('--cpu takes "variants" or "native", not "avx2"');
  });

  it('gives ggml the options its release builds use', () => {
    expect(cpuOptions('variants')).toEqual({ GGML_NATIVE: 'OFF', GGML_BACKEND_DL: 'ON', GGML_CPU_ALL_VARIANTS: 'ON' });
    expect(cpuOptions('native')).toEqual({ GGML_NATIVE: 'ON' });
  });
});
