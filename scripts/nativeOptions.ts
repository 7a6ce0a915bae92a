// The CMake options that choose how a native build's CPU code is compiled, in one place so the
// stock and patched builds (and their test) always agree on them.

export const CPU_TARGETS = ['variants', 'native', 'avx2'] as const;
export type CpuTarget = (typeof CPU_TARGETS)[number];

/** What `npm run setup` builds when nothing is asked for: code that runs on any CPU it meets. */
export const DEFAULT_CPU_TARGET: CpuTarget = 'variants';

/** `--cpu` first, then SIFT_NATIVE_CPU, then SIFT_NATIVE_PORTABLE=1 (the older spelling of variants). */
export function resolveCpuTarget(flag: string | undefined, env: NodeJS.ProcessEnv): CpuTarget {
  const asked = flag ?? env['SIFT_NATIVE_CPU'] ?? (env['SIFT_NATIVE_PORTABLE'] === '1' ? 'variants' : undefined);
  if (asked === undefined) return DEFAULT_CPU_TARGET;
  if ((CPU_TARGETS as readonly string[]).includes(asked)) return asked as CpuTarget;
  throw new Error(`--cpu takes ${CPU_TARGETS.map((t) => `"${t}"`).join(' or ')}, not "${asked}"`);
}

export function cpuOptions(cpu: CpuTarget): Record<string, string> {
  if (cpu === 'native') return { GGML_NATIVE: 'ON' };
  // x86-64-v3 (Haswell, Zen and later): one vectorised library without run-time selection, for a
  // quick build that runs on the x86 CPUs of the last decade, AMD or Intel, AMX or not
  if (cpu === 'avx2') {
    return { GGML_NATIVE: 'OFF', GGML_SSE42: 'ON', GGML_AVX: 'ON', GGML_AVX2: 'ON', GGML_FMA: 'ON', GGML_F16C: 'ON', GGML_BMI2: 'ON', GGML_AVX512: 'OFF', GGML_AMX_TILE: 'OFF', GGML_AMX_INT8: 'OFF' };
  }
  // ggml refuses ALL_VARIANTS without BACKEND_DL: each variant is a library loaded at run time
  return { GGML_NATIVE: 'OFF', GGML_BACKEND_DL: 'ON', GGML_CPU_ALL_VARIANTS: 'ON' };
}

export const GPU_REQUESTS = ['auto', 'cpu', 'vulkan', 'cuda', 'metal'] as const;
export type GpuRequest = (typeof GPU_REQUESTS)[number];
export type GpuBackend = Exclude<GpuRequest, 'auto'>;

/** `--gpu` first, then SIFT_NATIVE_GPU, else `auto`. */
export function resolveGpuRequest(flag: string | undefined, env: NodeJS.ProcessEnv): GpuRequest {
  const asked = flag ?? env['SIFT_NATIVE_GPU'] ?? 'auto';
  if ((GPU_REQUESTS as readonly string[]).includes(asked)) return asked as GpuRequest;
  throw new Error(`--gpu takes ${GPU_REQUESTS.map((g) => `"${g}"`).join(', ')}, not "${asked}"`);
}

/** What the machine offers a build: the checks are injected so the choice can be tested anywhere. */
export interface GpuToolchain {
  platform: NodeJS.Platform;
  /** A CUDA compiler (nvcc) was found. */
  cuda: boolean;
  /** glslc was found. */
  glslc: boolean;
  /**
   * Vulkan headers (SDK or /usr/include): `too-old` when they lack VK_EXT_layer_settings, which the
   * bundled llama.cpp's Vulkan backend uses (Debian 12's 1.3.239 lacks it).
   */
  vulkanHeaders: 'ok' | 'too-old' | 'missing';
  /** SPIRV-Headers' CMake package (SDK or system), which ggml-vulkan's CMakeLists requires. */
  spirvHeaders: boolean;
}

/** What each backend needs that this machine lacks, in words; empty when it can be built. */
export function missingForGpu(backend: GpuBackend, tools: GpuToolchain): string[] {
  switch (backend) {
    case 'cpu':
      return [];
    case 'metal':
      return tools.platform === 'darwin' ? [] : ['macOS (Metal exists only there)'];
    case 'cuda':
      return tools.cuda ? [] : ['the CUDA toolkit (nvcc on PATH, or CUDA_PATH)'];
    case 'vulkan':
      return [
        ...(tools.vulkanHeaders === 'missing' ? ['the Vulkan headers and loader (Vulkan SDK; Debian/Ubuntu: libvulkan-dev)'] : []),
        ...(tools.vulkanHeaders === 'too-old'
          ? ['newer Vulkan headers than these, with VK_EXT_layer_settings (a Vulkan SDK, pointed to by VULKAN_SDK)']
          : []),
        ...(tools.glslc ? [] : ['glslc (Vulkan SDK; Debian/Ubuntu: glslc)']),
        ...(tools.spirvHeaders ? [] : ['the SPIR-V headers (Vulkan SDK; Debian/Ubuntu: spirv-headers)']),
      ];
  }
}

/**
 * The backend to build. `auto` takes the one the platform's users run: Metal on macOS, else CUDA
 * where its toolkit is installed, else Vulkan where its SDK is, else the CPU alone.
 */
export function chooseGpuBackend(request: GpuRequest, tools: GpuToolchain): { backend: GpuBackend; why: string } {
  if (request !== 'auto') {
    const missing = missingForGpu(request, tools);
    if (missing.length) throw new Error(`--gpu ${request} needs ${missing.join(' and ')}`);
    return { backend: request, why: `asked for --gpu ${request}` };
  }
  if (tools.platform === 'darwin') return { backend: 'metal', why: 'macOS: Metal' };
  if (tools.cuda) return { backend: 'cuda', why: 'the CUDA toolkit is installed' };
  if (tools.glslc && tools.vulkanHeaders === 'ok' && tools.spirvHeaders) return { backend: 'vulkan', why: 'the Vulkan SDK (headers, SPIR-V headers and glslc) is installed' };
  if (tools.glslc && tools.vulkanHeaders === 'ok') return { backend: 'cpu', why: 'the Vulkan headers and glslc are here but not the SPIR-V headers (Debian/Ubuntu: spirv-headers)' };
  if (tools.glslc && tools.vulkanHeaders === 'too-old') {
    return { backend: 'cpu', why: 'the Vulkan headers here lack VK_EXT_layer_settings, which this llama.cpp needs (set VULKAN_SDK to a newer SDK)' };
  }
  return { backend: 'cpu', why: 'no GPU toolkit found (CUDA: nvcc; Vulkan: headers and glslc)' };
}

/**
 * `cudaArchitectures` (`--cuda-arch`, e.g. "90-real" or "86;89"): the GPUs whose code the CUDA
 * build carries; unset, ggml's own list (every generation since Turing, several times the compile).
 */
export function gpuOptions(backend: GpuBackend, cudaArchitectures?: string): Record<string, string> {
  return {
    GGML_METAL: backend === 'metal' ? '1' : 'OFF',
    ...(backend === 'cuda' ? { GGML_CUDA: '1', ...(cudaArchitectures ? { CMAKE_CUDA_ARCHITECTURES: cudaArchitectures } : {}) } : {}),
    ...(backend === 'vulkan' ? { GGML_VULKAN: '1' } : {}),
  };
}
