// What engine code runs and where its memory lives, in the words the CLI and the app both show.
import { describe, expect, it } from 'vitest';
import { describeCpuCode, describeGpu, describeMemory, memoryByPlace } from '../../src-common/engineSummary.js';
import type { BufferMemory } from '../../src-common/engineTypes.js';

const MiB = 1024 ** 2;

describe('engine summary', () => {
  it('says which CPU code runs', () => {
    const features = ['SSE3', 'AVX2', 'AVX512', 'LLAMAFILE', 'OPENMP'];
    expect(describeCpuCode({ build: 'variants', variant: 'zen4', disabledVariants: [], features })).toBe('CPU variant zen4 (SSE3, AVX2, AVX512)');
    expect(describeCpuCode({ build: 'variants', variant: 'icelake', disabledVariants: ['sapphirerapids'], features })).toBe(
      'CPU variant icelake (SSE3, AVX2, AVX512); switched off on this machine after crashing: sapphirerapids',
    );
    expect(describeCpuCode({ build: 'native', variant: null, disabledVariants: [], features: [] })).toBe(
      'CPU code built for this machine (-march=native) (no vector features reported)',
    );
    expect(describeCpuCode({ build: 'avx2', variant: null, disabledVariants: [], features: ['AVX2', 'FMA'] })).toBe(
      'CPU code for any AVX2 machine (x86-64-v3) (AVX2, FMA)',
    );
  });

  it('says whether a GPU runs the model, and why not when none does', () => {
    expect(describeGpu({ built: 'cpu', active: null, devices: [] })).toMatch(/^no GPU backend in this build: everything runs on the CPU/);
    expect(describeGpu({ built: 'vulkan', active: null, devices: [] })).toBe('Vulkan is built in but found no device here: everything runs on the CPU');
    expect(describeGpu({ built: 'vulkan', active: 'vulkan', devices: ['llvmpipe (LLVM 15.0.6, 256 bits)'] }, 31, 30)).toBe(
      'GPU: Vulkan on llvmpipe (LLVM 15.0.6, 256 bits), 31 of 31 layers offloaded',
    );
  });

  it('sums memory per place, host buffer types as RAM', () => {
    const memory: BufferMemory[] = [
      { bufferType: 'Vulkan0', device: 'Vulkan0', isHost: false, modelBytes: 70 * MiB, kvBytes: 22.5 * MiB, computeBytes: 10 * MiB },
      { bufferType: 'CPU', device: 'CPU', isHost: true, modelBytes: 4 * MiB, kvBytes: 0, computeBytes: 0 },
      { bufferType: 'Vulkan_Host', device: 'Vulkan0', isHost: true, modelBytes: 0, kvBytes: 0, computeBytes: 1 * MiB },
    ];
    expect(memoryByPlace(memory).map((p) => p.place)).toEqual(['RAM', 'Vulkan0']);
    expect(describeMemory(memory)).toBe(
      'RAM: weights 4.0 MiB, KV 0.0 MiB, compute 1.0 MiB; Vulkan0: weights 70.0 MiB, KV 22.5 MiB, compute 10.0 MiB',
    );
  });
});
