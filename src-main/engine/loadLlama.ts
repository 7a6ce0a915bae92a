// Loads one of Sift's native builds into this process. The stock and patched builds ship
// libraries with the same file names, so a process must only ever load one of them: the engine
// process calls this once, at start-up.
import { createRequire } from 'node:module';
import { getLlama, Llama, LlamaLogLevel } from 'node-llama-cpp';
import { readBuildRecord, resolveNativeDir, type NativeBuildRecord } from './nativeBuilds.js';
import { readSiftBuildId } from './siftNative.js';
import { EngineError, type BuildInfo, type BuildKind } from './types.js';

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
      gpu: false | 'metal';
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

function quietLogger(level: LlamaLogLevel, message: string): void {
  if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) process.stderr.write(`[llama] ${message}\n`);
}

/**
 * node-llama-cpp loads local builds only from inside its own package folder, which `npm ci`
 * wipes. Its internal factory takes any addon path, so Sift loads its builds from its native
 * folder through that one call, here and nowhere else.
 */
async function loadFromRecord(record: NativeBuildRecord): Promise<Llama> {
  const bindings: unknown = require(record.addonPath);
  const factory = (Llama as unknown as { _create(options: LlamaCreateOptions): Promise<Llama> })._create;
  const totalRam = (await import('node:os')).totalmem();
  return factory.call(Llama, {
    bindings,
    bindingPath: record.addonPath,
    buildType: 'localBuild',
    buildMetadata: {
      buildOptions: {
        customCmakeOptions: new Map(Object.entries(record.cmakeOptions)),
        llamaCpp: { repo: 'ggml-org/llama.cpp', release: record.llamaCppCommit },
        gpu: process.platform === 'darwin' ? 'metal' : false,
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
  const patched = requested === 'patched' ? readBuildRecord('patched') : null;
  if (patched) {
    const llama = await loadFromRecord(patched);
    const id = readSiftBuildId(llama);
    if (id === null) {
      throw new EngineError('INTERNAL', `the build at ${patched.addonPath} does not export Sift's native API`);
    }
    // the id is compiled in from the build key; a mismatch means the binary is older than its record
    const expected = `sift-patched:${patched.key.slice(0, 16)}`;
    return {
      llama,
      build: {
        kind: 'patched',
        id,
        features: ['kv-layer-stats', 'attention-observation', 'lazy-prefill'],
        addonPath: patched.addonPath,
        cpuFeatures: cpuFeaturesOf(llama),
      },
      notice: id === expected ? null : `The patched build reports ${id} but its record says ${expected}: run npm run build-native.`,
    };
  }

  const missingPatched =
    requested === 'patched'
      ? `Sift's patched llama.cpp build was not found in ${resolveNativeDir()} (run \`npm run setup\`); ` +
        'running the stock build: per-layer KV statistics and Sift KV policies are off.'
      : null;

  const stock = readBuildRecord('stock');
  if (stock) {
    const llama = await loadFromRecord(stock);
    if (readSiftBuildId(llama) !== null) {
      throw new EngineError('INTERNAL', `the stock build at ${stock.addonPath} unexpectedly carries Sift's patches`);
    }
    return {
      llama,
      build: { kind: 'stock', id: `stock:${stock.key.slice(0, 16)}`, features: [], addonPath: stock.addonPath, cpuFeatures: cpuFeaturesOf(llama) },
      notice: missingPatched,
    };
  }

  const llama = await getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.warn, logger: quietLogger });
  return {
    llama,
    build: { kind: 'stock', id: 'prebuilt', features: [], addonPath: 'prebuilt', cpuFeatures: cpuFeaturesOf(llama) },
    notice:
      missingPatched ??
      `no local stock build in ${resolveNativeDir()}; using node-llama-cpp's prebuilt binary (speed ratios are not comparable).`,
  };
}

/** The features llama.cpp's system info reports as on: "CPU : SSE3 = 1 | AVX2 = 1 | …". */
export function cpuFeaturesOf(llama: Pick<Llama, 'systemInfo'>): string[] {
  return [...llama.systemInfo.matchAll(/([A-Z0-9_]+) = 1\b/g)].map((match) => match[1]!);
}
