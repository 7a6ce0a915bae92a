// CPU variants: which libraries a build holds, the state file of variants that crashed here, the
// folder the engine loads backends from once one is off, and how the choice is described.
import { lstatSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signalFromUtilityExit } from '../../src-main/app/utilityEngineHost.js';
import {
  backendsDirFor,
  cpuVariantLibraries,
  disableCpuVariant,
  readDisabledCpuVariants,
  variantToDisable,
} from '../../src-engine/cpuVariants.js';
import { chooseGpuBackend, cpuOptions, gpuOptions, resolveCpuTarget, resolveGpuRequest, type GpuToolchain } from '../../scripts/nativeOptions.js';

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
});

describe('native build options', () => {
  it('builds every variant unless asked otherwise', () => {
    expect(resolveCpuTarget(undefined, {})).toBe('variants');
    expect(resolveCpuTarget('native', {})).toBe('native');
    expect(resolveCpuTarget(undefined, { SIFT_NATIVE_CPU: 'native' })).toBe('native');
    expect(resolveCpuTarget('variants', { SIFT_NATIVE_CPU: 'native' })).toBe('variants');
    expect(resolveCpuTarget(undefined, { SIFT_NATIVE_PORTABLE: '1' })).toBe('variants');
    expect(resolveCpuTarget('avx2', {})).toBe('avx2');
    expect(() => resolveCpuTarget('avx512', {})).toThrow('--cpu takes "variants" or "native" or "avx2", not "avx512"');
  });

  it('gives ggml the options its release builds use', () => {
    expect(cpuOptions('variants')).toEqual({ GGML_NATIVE: 'OFF', GGML_BACKEND_DL: 'ON', GGML_CPU_ALL_VARIANTS: 'ON' });
    expect(cpuOptions('native')).toEqual({ GGML_NATIVE: 'ON' });
    // one vectorised library: never scalar, never AVX-512 or AMX
    expect(cpuOptions('avx2')).toMatchObject({ GGML_NATIVE: 'OFF', GGML_AVX2: 'ON', GGML_FMA: 'ON', GGML_F16C: 'ON', GGML_AVX512: 'OFF', GGML_AMX_INT8: 'OFF' });
    expect(cpuOptions('avx2')).not.toHaveProperty('GGML_BACKEND_DL');
  });

  it('narrows a CUDA build to the GPUs asked for', () => {
    expect(gpuOptions('cuda', '90-real')).toMatchObject({ GGML_CUDA: '1', CMAKE_CUDA_ARCHITECTURES: '90-real' });
    expect(gpuOptions('cuda')).not.toHaveProperty('CMAKE_CUDA_ARCHITECTURES');
    expect(gpuOptions('vulkan', '90-real')).not.toHaveProperty('CMAKE_CUDA_ARCHITECTURES');
  });

  const linux: GpuToolchain = { platform: 'linux', cuda: false, glslc: false, vulkanHeaders: 'missing', spirvHeaders: true };

  it('builds the GPU backend the machine has the tools for, and says why', () => {
    expect(resolveGpuRequest(undefined, {})).toBe('auto');
    expect(resolveGpuRequest(undefined, { SIFT_NATIVE_GPU: 'vulkan' })).toBe('vulkan');
    expect(() => resolveGpuRequest('rocm', {})).toThrow('--gpu takes "auto", "cpu", "vulkan", "cuda", "metal", not "rocm"');
    expect(chooseGpuBackend('auto', { ...linux, platform: 'darwin' }).backend).toBe('metal');
    expect(chooseGpuBackend('auto', { ...linux, cuda: true, glslc: true, vulkanHeaders: 'ok' }).backend).toBe('cuda');
    expect(chooseGpuBackend('auto', { ...linux, glslc: true, vulkanHeaders: 'ok' }).backend).toBe('vulkan');
    expect(chooseGpuBackend('auto', linux)).toEqual({ backend: 'cpu', why: 'no GPU toolkit found (CUDA: nvcc; Vulkan: headers and glslc)' });
    // Debian 12's headers are too old for this llama.cpp: auto stays on the CPU and says why
    expect(chooseGpuBackend('auto', { ...linux, glslc: true, vulkanHeaders: 'too-old' }).why).toMatch(/lack VK_EXT_layer_settings/);
    // ggml-vulkan's CMakeLists requires SPIRV-Headers' package: without it configure fails
    expect(chooseGpuBackend('auto', { ...linux, glslc: true, vulkanHeaders: 'ok', spirvHeaders: false })).toEqual({
      backend: 'cpu',
      why: 'the Vulkan headers and glslc are here but not the SPIR-V headers (Debian/Ubuntu: spirv-headers)',
    });
  });

  it('refuses a backend the machine cannot build, naming what is missing', () => {
    expect(() => chooseGpuBackend('vulkan', linux)).toThrow(/--gpu vulkan needs the Vulkan headers and loader .* and glslc/);
    expect(() => chooseGpuBackend('vulkan', { ...linux, glslc: true, vulkanHeaders: 'too-old' })).toThrow(/VK_EXT_layer_settings/);
    expect(() => chooseGpuBackend('vulkan', { ...linux, glslc: true, vulkanHeaders: 'ok', spirvHeaders: false })).toThrow('--gpu vulkan needs the SPIR-V headers (Vulkan SDK; Debian/Ubuntu: spirv-headers)');
    expect(() => chooseGpuBackend('cuda', linux)).toThrow('--gpu cuda needs the CUDA toolkit (nvcc on PATH, or CUDA_PATH)');
    expect(() => chooseGpuBackend('metal', linux)).toThrow('--gpu metal needs macOS (Metal exists only there)');
    expect(chooseGpuBackend('cpu', linux).backend).toBe('cpu');
  });

  it('gives both builds the same GPU options', () => {
    expect(gpuOptions('cpu')).toEqual({ GGML_METAL: 'OFF' });
    expect(gpuOptions('vulkan')).toEqual({ GGML_METAL: 'OFF', GGML_VULKAN: '1' });
    expect(gpuOptions('cuda')).toEqual({ GGML_METAL: 'OFF', GGML_CUDA: '1' });
    expect(gpuOptions('metal')).toEqual({ GGML_METAL: '1' });
  });
});
