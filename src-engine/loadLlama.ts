// Loads one of Sift's native builds into this process. The stock and patched builds ship
// libraries with the same file names, so a process must only ever load one of them: the engine
// process calls this once, at start-up.
import { createRequire } from 'node:module';
import path from 'node:path';
import { getLlama, Llama, LlamaLogLevel } from 'node-llama-cpp';
import { backendLibraryDir, backendsDirFor, cpuVariantLibraries, loadedCpuVariant, readDisabledCpuVariants } from './cpuVariants.js';
import { cpuFallbackDir, readBuildRecord, resolveNativeDir, type NativeBuildRecord } from './nativeBuilds.js';
import { readSiftBuildId } from './siftNative.js';
import { type BuildInfo, type BuildKind, type CpuInfo, type GpuInfo } from '../src-common/engineTypes.js';
import { EngineError } from './engineError.js';

const require = createRequire(import.meta.url);

/** The subset of Llama._create's options Sift passes (node-llama-cpp 3.22.1, pinned). */
interface LlamaCreateOptions {
  bindings: unknown;
  bindingPath: string;
  buildType: 'localBuild';
  buildMetadata: {
    buildOptions: {
      customCmakeOptions: Map<string, string>;
      llamaCpp: { repo: string; release: string };
      gpu: false | 'metal' | 'vulkan' | 'cuda';
    };
  };
  logLevel: LlamaLogLevel;
  logger: (level: LlamaLogLevel, message: string) => void;
  vramPadding: number;
  ramPadding: number;
  maxThreads?: number;
  skipLlamaInit: boolean;
  debug: boolean;
  numa: false;
  tempDir: false;
}

/**
 * llama.cpp's report of a graph it stopped part-way (status 1, GGML_STATUS_ABORTED). Only Stop
 * asks for that (sift_abort_scope, while a lazy prefill or revival runs), so it is no error.
 */
export function isAbortReport(message: string): boolean {
  return /failed with error 1$|compute status: 1$/.test(message.trim());
}

function quietLogger(level: LlamaLogLevel, message: string): void {
  if (level !== LlamaLogLevel.error && level !== LlamaLogLevel.fatal) return;
  if (level === LlamaLogLevel.error && isAbortReport(message)) return;
  process.stderr.write(`[llama] ${message}\n`);
}

/**
 * node-llama-cpp loads local builds only from inside its own package folder, which `npm ci`
 * wipes. Its internal factory takes any addon path, so Sift loads its builds from its native
 * folder through that one call, here and nowhere else.
 */
async function loadFromRecord(record: NativeBuildRecord): Promise<{ llama: Llama; disabledVariants: string[]; record: NativeBuildRecord }> {
  const libraryDir = backendLibraryDir(record.addonPath);
  const variants = cpuVariantLibraries(libraryDir);
  const disabledVariants = readDisabledCpuVariants()
    .map((entry) => entry.variant)
    .filter((variant) => variants.has(variant));
  if (variants.size > 0 && disabledVariants.length === variants.size) {
    throw new EngineError(
      'INTERNAL',
      `every CPU variant of the ${record.kind} build (${[...variants.keys()].join(', ')}) has crashed the engine on this machine; ` +
        'see docs/NATIVE.md to report it, or rebuild with `npm run build-native -- --cpu native --force`',
    );
  }
  const bindings = requireAddon(record);
  const factory = (Llama as unknown as { _create(options: LlamaCreateOptions): Promise<Llama> })._create;
  const totalRam = (await import('node:os')).totalmem();
  const llama = await factory.call(Llama, {
    bindings,
    // node-llama-cpp loads a DL build's backends from this path's folder: that folder leaves out
    // the CPU variants that crashed here
    bindingPath: path.join(backendsDirFor(libraryDir, disabledVariants), path.basename(record.addonPath)),
    buildType: 'localBuild',
    buildMetadata: {
      buildOptions: {
        customCmakeOptions: new Map(Object.entries(record.cmakeOptions)),
        llamaCpp: { repo: 'ggml-org/llama.cpp', release: record.llamaCppCommit },
        gpu: gpuForNodeLlamaCpp(builtGpu(record)),
      },
    },
    logLevel: LlamaLogLevel.warn,
    logger: quietLogger,
    vramPadding: 0,
    ramPadding: Math.floor(Math.min(totalRam * 0.1, 1024 ** 3)),
    skipLlamaInit: false,
    debug: false,
    numa: false,
    tempDir: false,
  });
  return { llama, disabledVariants, record };
}

/**
 * Loads a build; a GPU build whose addon cannot load here (its runtime or driver missing) falls
 * back to the CPU build of the same kind installed beside it (build-native --cpu-fallback, what an
 * installer carries), with a notice that says why everything runs on the CPU.
 */
async function loadWithCpuFallback(record: NativeBuildRecord): Promise<{ llama: Llama; disabledVariants: string[]; record: NativeBuildRecord; notice: string | null }> {
  try {
    return { ...(await loadFromRecord(record)), notice: null };
  } catch (err) {
    if (!(err instanceof AddonLoadError) || builtGpu(record) === 'cpu') throw err;
    const fallback = readBuildRecord(record.kind, cpuFallbackDir());
    if (!fallback || builtGpu(fallback) !== 'cpu') throw err;
    const loaded = await loadFromRecord(fallback);
    const name = GPU_NAMES[builtGpu(record)];
    return { ...loaded, notice: `The ${record.kind} engine built with ${name} cannot load on this machine (${err.reason}), so Sift runs its CPU build: everything runs on the CPU. To use the GPU, install the ${name} runtime and driver (docs/NATIVE.md, "GPU backends").` };
  }
}

/**
 * The build's addon, or an error that says why it cannot load here: for a GPU build that is
 * almost always its runtime or driver (libcudart, libcublas, libvulkan) missing on this machine.
 */
function requireAddon(record: NativeBuildRecord): unknown {
  try {
    return require(record.addonPath) as unknown;
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0] ?? String(err);
    const gpu = builtGpu(record);
    const name = GPU_NAMES[gpu];
    const remedy =
      gpu === 'cpu'
        ? 'rebuild it with `npm run setup`'
        : `install the ${name} runtime and driver this build links (docs/NATIVE.md, "GPU backends"), or rebuild for the CPU alone with \`npm run build-native -- --gpu cpu --force\``;
    throw new AddonLoadError(`the ${record.kind} engine (built with ${name}) cannot load on this machine: ${reason}; ${remedy}`, reason);
  }
}

const GPU_NAMES: Record<GpuInfo['built'], string> = { cpu: 'CPU', vulkan: 'Vulkan', cuda: 'CUDA', metal: 'Metal' };

/** A build's addon that the OS would not load (dlopen): what a CPU fallback answers. */
class AddonLoadError extends EngineError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super('INTERNAL', message);
  }
}

/** Records from before the --gpu option: Metal on macOS, nothing elsewhere. */
function builtGpu(record: NativeBuildRecord): GpuInfo['built'] {
  return record.gpu ?? (process.platform === 'darwin' ? 'metal' : 'cpu');
}

function gpuForNodeLlamaCpp(built: GpuInfo['built']): false | Exclude<GpuInfo['built'], 'cpu'> {
  return built === 'cpu' ? false : built;
}

async function gpuInfo(llama: Llama, built: GpuInfo['built']): Promise<GpuInfo> {
  // a GPU backend that loaded but found no device still names itself: a device is what counts
  const devices = llama.gpu === false ? [] : await llama.getGpuDeviceNames();
  return { built, active: devices.length > 0 && llama.gpu !== false ? llama.gpu : null, devices };
}

function cpuInfo(llama: Pick<Llama, 'systemInfo'>, record: NativeBuildRecord | null, disabledVariants: string[]): CpuInfo {
  const build = record === null ? 'prebuilt' : (record.cpu ?? 'native');
  return { build, variant: build === 'variants' || build === 'prebuilt' ? loadedCpuVariant() : null, disabledVariants, features: cpuFeaturesOf(llama) };
}

export interface LoadedLlama {
  llama: Llama;
  build: BuildInfo;
  /** Set when the requested build was missing and another one runs instead. */
  notice: string | null;
}

/**
 * Loads the requested build. The patched build falls back to the stock one, and the stock one to
 * node-llama-cpp's prebuilt binary, each with a notice that says which Sift features are off.
 */
export async function loadLlama(requested: BuildKind): Promise<LoadedLlama> {
  const requestedPatched = requested === 'patched' ? readBuildRecord('patched') : null;
  if (requestedPatched) {
    const { llama, disabledVariants, record: patched, notice: fallback } = await loadWithCpuFallback(requestedPatched);
    const id = readSiftBuildId(llama);
    if (id === null) {
      throw new EngineError('INTERNAL', `the build at ${patched.addonPath} does not export Sift's native API`);
    }
    // the id is compiled in from the build key; a mismatch means the binary is older than its record
    const expected = `sift-patched:${patched.key.slice(0, 16)}`;
    const stale = id === expected ? null : `The patched build reports ${id} but its record says ${expected}: run npm run build-native.`;
    return {
      llama,
      build: {
        kind: 'patched',
        id,
        features: ['kv-layer-stats', 'attention-observation', 'lazy-prefill'],
        addonPath: patched.addonPath,
        cpu: cpuInfo(llama, patched, disabledVariants),
        gpu: await gpuInfo(llama, builtGpu(patched)),
      },
      notice: [fallback, stale].filter(Boolean).join(' ') || null,
    };
  }

  const missingPatched =
    requested === 'patched'
      ? `Sift's patched llama.cpp build was not found in ${resolveNativeDir()} (run \`npm run setup\`); ` +
        'running the stock build: per-layer KV statistics and Sift KV policies are off.'
      : null;

  const requestedStock = readBuildRecord('stock');
  if (requestedStock) {
    const { llama, disabledVariants, record: stock, notice: fallback } = await loadWithCpuFallback(requestedStock);
    if (readSiftBuildId(llama) !== null) {
      throw new EngineError('INTERNAL', `the stock build at ${stock.addonPath} unexpectedly carries Sift's patches`);
    }
    return {
      llama,
      build: { kind: 'stock', id: `stock:${stock.key.slice(0, 16)}`, features: [], addonPath: stock.addonPath, cpu: cpuInfo(llama, stock, disabledVariants), gpu: await gpuInfo(llama, builtGpu(stock)) },
      notice: [missingPatched, fallback].filter(Boolean).join(' ') || null,
    };
  }

  const llama = await getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.warn, logger: quietLogger });
  return {
    llama,
    build: { kind: 'stock', id: 'prebuilt', features: [], addonPath: 'prebuilt', cpu: cpuInfo(llama, null, []), gpu: await gpuInfo(llama, llama.gpu === false ? 'cpu' : llama.gpu) },
    notice:
      missingPatched ??
      `no local stock build in ${resolveNativeDir()}; using node-llama-cpp's prebuilt binary (speed ratios are not comparable).`,
  };
}

/** The features llama.cpp's system info reports as on: "CPU : SSE3 = 1 | AVX2 = 1 | …". */
export function cpuFeaturesOf(llama: Pick<Llama, 'systemInfo'>): string[] {
  return [...llama.systemInfo.matchAll(/([A-Z0-9_]+) = 1\b/g)].map((match) => match[1]!);
}
