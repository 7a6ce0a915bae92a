// Where Sift's two native builds live and how to read what they are. Shared by the build script
// (scripts/build-native.ts) and the engine process, so both agree on one layout:
//   $SIFT_NATIVE_DIR/<kind>/src     llama.cpp source (+ node-llama-cpp's addon) for that build
//   $SIFT_NATIVE_DIR/<kind>/build   cmake-js build tree, kept so an edit rebuilds incrementally
//   $SIFT_NATIVE_DIR/<kind>/build.json  what was built, from what, and where the addon is
//   $SIFT_NATIVE_DIR/cpu-fallback/<kind>/…  a GPU build's CPU-only twin (build-native --cpu-fallback),
//                                         loaded when the GPU build's runtime or driver is missing
// The folder is outside node_modules on purpose: `npm ci` wipes node-llama-cpp's localBuilds.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { BuildKind } from '../src-common/engineTypes.js';

export interface NativeBuildRecord {
  kind: BuildKind;
  /** Hash of everything that shapes the binary: sources, patches, options. */
  key: string;
  addonPath: string;
  nodeLlamaCppVersion: string;
  llamaCppCommit: string;
  patches: string[];
  /** Sift's own source files copied into the tree (absent in records from before they existed). */
  sources?: string[];
  cmakeOptions: Record<string, string>;
  /** How the CPU code was compiled; records older than the option are native builds. */
  cpu?: 'variants' | 'native' | 'avx2';
  /** The GPU backend built in; records older than the option have Metal on macOS only. */
  gpu?: 'cpu' | 'vulkan' | 'cuda' | 'metal';
  builtAt: string;
  buildSeconds: number;
}

export function resolveNativeDir(): string {
  const fromEnv = process.env['SIFT_NATIVE_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  const cacheRoot = process.env['XDG_CACHE_HOME'] ?? path.join(homedir(), '.cache');
  return path.join(cacheRoot, 'sift', 'native');
}

/** Where a GPU build's CPU-only twin lives: an installer carries both, and the engine falls back to it. */
export function cpuFallbackDir(nativeDir = resolveNativeDir()): string {
  return path.join(nativeDir, 'cpu-fallback');
}

export function buildDirs(kind: BuildKind, nativeDir = resolveNativeDir()) {
  const root = path.join(nativeDir, kind);
  return {
    root,
    src: path.join(root, 'src'),
    build: path.join(root, 'build'),
    record: path.join(root, 'build.json'),
  };
}

/** The record of a finished build whose addon still exists, or null. */
export function readBuildRecord(kind: BuildKind, nativeDir = resolveNativeDir()): NativeBuildRecord | null {
  const { record } = buildDirs(kind, nativeDir);
  if (!existsSync(record)) return null;
  try {
    const parsed = JSON.parse(readFileSync(record, 'utf8')) as NativeBuildRecord;
    // a staged (packaged) build records its addon relative to the record
    const addonPath = path.resolve(path.dirname(record), parsed.addonPath);
    return existsSync(addonPath) ? { ...parsed, addonPath } : null;
  } catch {
    return null;
  }
}
