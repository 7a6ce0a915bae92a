// Builds Sift's two llama.cpp binaries from the source bundled inside the pinned node-llama-cpp,
// offline:
//   stock   — that source with node-llama-cpp's own patches, nothing of Sift's;
//   patched — the same, plus Sift's own source files (native-patches/sources/, copied into the tree
//             at the same relative path: llama.cpp/src/llama-sift*.{h,cpp}, addon/AddonSift.{h,cpp})
//             and the patches that hook them into upstream files (native-patches/llama.cpp/, addon/).
// Both also get native-patches/toolchain/: fixes that let the bundled source build with the tools a
// machine has (no behaviour of Sift's), so the two builds still differ by Sift's patches alone.
// Both use identical compiler flags, so a speed ratio between them is never a flag difference.
// A build is skipped when its key (sources + patches + options) matches the last one; the build
// tree is kept between runs and compiled through ccache, so editing a patch rebuilds quickly.
//
// CPU code (`--cpu`, or SIFT_NATIVE_CPU):
//   variants — every x86/ARM instruction-set level as its own ggml CPU library, the best one this
//              CPU runs chosen when the engine loads (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS, as
//              llama.cpp's and node-llama-cpp's release builds); the build runs on any CPU of its
//              architecture, so it is the one installers carry. SIFT_NATIVE_PORTABLE=1 means this.
//   native   — -march=native: this machine's instructions only (a build copied to another CPU can
//              die of SIGILL).
//   avx2     — one x86-64-v3 library (AVX2, FMA, F16C; no AVX-512 or AMX): vectorised, runs on any
//              x86 CPU since Haswell/Zen, and builds in a fraction of the variants' time.
//
// GPU backend (`--gpu`, or SIFT_NATIVE_GPU): auto (default: Metal on macOS, else CUDA where nvcc is,
// else Vulkan where its headers and glslc are, else none), cpu, vulkan, cuda or metal. Both builds
// get the same one. `--cuda-arch` (or SIFT_NATIVE_CUDA_ARCH) narrows the CUDA build to given GPUs.
//
// `--cpu-fallback` with a GPU backend also builds each kind for the CPU alone into
// $SIFT_NATIVE_DIR/cpu-fallback/: what an installer carries, so a machine without the GPU's runtime
// or driver runs the CPU build with a notice instead of not starting.
//
// Usage: tsx scripts/build-native.ts [--only stock|patched] [--cpu variants|native]
//          [--gpu auto|cpu|vulkan|cuda|metal] [--cuda-arch LIST] [--cpu-fallback] [--force] [--jobs N]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDirs, cpuFallbackDir, readBuildRecord, resolveNativeDir, type NativeBuildRecord } from '../src-engine/nativeBuilds.js';
import type { BuildKind } from '../src-common/engineTypes.js';
import {
  chooseGpuBackend,
  cpuOptions,
  gpuOptions,
  resolveCpuTarget,
  resolveGpuRequest,
  type CpuTarget,
  type GpuBackend,
  type GpuToolchain,
} from './nativeOptions.js';

/** Bump when this script changes how binaries are produced. */
const RECIPE_VERSION = '3';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const nlcDir = path.resolve(path.dirname(require.resolve('node-llama-cpp')), '..');
const nlcLlamaDir = path.join(nlcDir, 'llama');
const nlcVersion = (JSON.parse(readFileSync(path.join(nlcDir, 'package.json'), 'utf8')) as { version: string }).version;
const bundlePath = path.join(nlcLlamaDir, 'gitRelease.bundle');
const patchesRoot = path.join(repoRoot, 'native-patches');

class BuildError extends Error {}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; quiet?: boolean }): string {
  const res = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    stdio: opts.quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) throw new BuildError(`could not run ${cmd}: ${res.error.message}`);
  if (res.status !== 0) {
    const detail = opts.quiet ? `\n${res.stdout ?? ''}${res.stderr ?? ''}` : '';
    throw new BuildError(`${cmd} ${args.join(' ')} failed with exit code ${res.status}${detail}`);
  }
  return res.stdout ?? '';
}

function listPatches(sub: 'llama.cpp' | 'addon' | 'toolchain'): string[] {
  const dir = path.join(patchesRoot, sub);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.patch'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Sift's own files, relative to native-patches/sources/ (the build's source dir), sorted. */
function listSources(): string[] {
  const root = path.join(patchesRoot, 'sources');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Copies Sift's own files into the prepared source dir, where the hook patches expect them. */
function copySources(sources: string[], srcDir: string): void {
  for (const rel of sources) {
    const to = path.join(srcDir, rel);
    mkdirSync(path.dirname(to), { recursive: true });
    cpSync(path.join(patchesRoot, 'sources', rel), to, { preserveTimestamps: true });
  }
  if (sources.length > 0) console.log(`[build-native] copied ${sources.length} source files from native-patches/sources`);
}

function bundleCommit(): string {
  const out = run('git', ['bundle', 'list-heads', bundlePath], { cwd: repoRoot, quiet: true });
  const sha = out.trim().split(/\s+/)[0];
  if (!sha) throw new BuildError(`no commit found in ${bundlePath}`);
  return sha;
}

interface Target {
  cpu: CpuTarget;
  gpu: GpuBackend;
  cudaArchitectures?: string;
}

function cmakeOptions(kind: BuildKind, key: string, target: Target): Record<string, string> {
  const platform = { linux: 'linux', darwin: 'mac', win32: 'win' }[process.platform as string] ?? process.platform;
  const platformArch = `${platform}-${process.arch}`;
  // The same options node-llama-cpp uses for a local build (compileLLamaCpp.js), plus ccache.
  const options: Record<string, string> = {
    GGML_BUILD_NUMBER: '1',
    CMAKE_CONFIGURATION_TYPES: 'Release',
    NLC_CURRENT_PLATFORM: platformArch,
    NLC_TARGET_PLATFORM: platformArch,
    NLC_VARIANT: '',
    ...gpuOptions(target.gpu, target.cudaArchitectures),
    ...cpuOptions(target.cpu),
    GGML_CCACHE: 'ON',
    LLAMA_CURL: 'OFF',
    LLAMA_HTTPLIB: 'OFF',
    LLAMA_BUILD_BORINGSSL: 'OFF',
    LLAMA_OPENSSL: 'OFF',
    // ggml's RPC backend, in both builds: `sift worker` serves a machine's devices with it and the
    // engine adds the workers a user lists (docs/SCALE_OUT.md)
    GGML_RPC: 'ON',
  };
  if (kind === 'patched') options['SIFT_BUILD_ID'] = key.slice(0, 16);
  return options;
}

function computeKey(kind: BuildKind, commit: string, patches: string[], sources: string[], target: Target): string {
  const hash = createHash('sha256');
  hash.update(`${RECIPE_VERSION}\n${nlcVersion}\n${commit}\n${kind}\n${process.platform}-${process.arch}\n`);
  hash.update(JSON.stringify(cmakeOptions(kind, '', target)));
  for (const p of patches) hash.update(`${path.basename(p)}\n`).update(readFileSync(p));
  for (const s of sources) hash.update(`${s}\n`).update(readFileSync(path.join(patchesRoot, 'sources', s)));
  return hash.digest('hex');
}

/** Fresh llama.cpp checkout from the bundle (reused and reset when it exists) plus the addon tree. */
function prepareSource(srcDir: string, commit: string): void {
  const llamaDir = path.join(srcDir, 'llama.cpp');
  if (!existsSync(path.join(llamaDir, '.git'))) {
    rmSync(srcDir, { recursive: true, force: true });
    mkdirSync(srcDir, { recursive: true });
    console.log(`[build-native] extracting llama.cpp ${commit.slice(0, 10)} from ${path.relative(repoRoot, bundlePath)}`);
    run('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', bundlePath, llamaDir], { cwd: srcDir });
  }
  // reset only touches files that differ, so unchanged sources keep their timestamps
  run('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', commit], { cwd: llamaDir });
  run('git', ['reset', '--quiet', '--hard', commit], { cwd: llamaDir });
  run('git', ['clean', '--quiet', '-fdx'], { cwd: llamaDir });

  // node-llama-cpp's CMake project and addon sources, copied fresh each time
  for (const entry of ['CMakeLists.txt', 'package.json', 'addon', 'cmake', 'profiles', 'toolchains']) {
    const from = path.join(nlcLlamaDir, entry);
    const to = path.join(srcDir, entry);
    if (!existsSync(from)) continue;
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true, preserveTimestamps: true });
  }
}

/** node-llama-cpp's own patches to llama.cpp, applied as it applies them (skipped once merged). */
function applyNodeLlamaCppPatches(llamaDir: string): string[] {
  const applied: string[] = [];
  const prPatch = path.join(nlcLlamaDir, 'patches', 'PR-22566.diff');
  if (existsSync(prPatch)) {
    const loader = readFileSync(path.join(llamaDir, 'src', 'llama-model-loader.cpp'), 'utf8');
    if (!loader.includes('n_tensors = gguf_get_n_tensors(metadata);')) {
      run('git', ['apply', prPatch], { cwd: llamaDir, quiet: true });
      applied.push('node-llama-cpp:PR-22566.diff');
    }
  }
  return applied;
}

function applySiftPatches(patches: string[], cwd: string): void {
  // a ceiling keeps git from treating an enclosing repository as the one to patch
  const env = { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(cwd) };
  for (const patch of patches) {
    const name = path.relative(repoRoot, patch);
    try {
      run('git', ['apply', '--check', patch], { cwd, env, quiet: true });
      run('git', ['apply', '--whitespace=nowarn', patch], { cwd, env, quiet: true });
    } catch (err) {
      throw new BuildError(`patch ${name} does not apply to the bundled llama.cpp:\n${(err as Error).message}`);
    }
    console.log(`[build-native] applied ${name}`);
  }
}

function findAddon(buildDir: string): string {
  const candidates = [path.join(buildDir, 'Release', 'llama-addon.node'), path.join(buildDir, 'llama-addon.node')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new BuildError(`build finished but no llama-addon.node was found under ${buildDir}`);
  return found;
}

function buildOne(kind: BuildKind, opts: { force: boolean; jobs: number; target: Target; nativeDir: string }): NativeBuildRecord {
  const dirs = buildDirs(kind, opts.nativeDir);
  const commit = bundleCommit();
  const toolchainPatches = listPatches('toolchain');
  const llamaPatches = kind === 'patched' ? listPatches('llama.cpp') : [];
  const addonPatches = kind === 'patched' ? listPatches('addon') : [];
  const sources = kind === 'patched' ? listSources() : [];
  const key = computeKey(kind, commit, [...toolchainPatches, ...llamaPatches, ...addonPatches], sources, opts.target);

  const existing = readBuildRecord(kind, opts.nativeDir);
  if (!opts.force && existing?.key === key) {
    console.log(`[build-native] ${kind}: up to date (${key.slice(0, 12)})`);
    return existing;
  }

  const started = Date.now();
  console.log(`[build-native] ${kind}: building (${key.slice(0, 12)}, CPU code: ${opts.target.cpu}, GPU: ${opts.target.gpu}) in ${dirs.root}`);
  prepareSource(dirs.src, commit);
  const llamaDir = path.join(dirs.src, 'llama.cpp');
  const applied = applyNodeLlamaCppPatches(llamaDir);
  applySiftPatches(toolchainPatches, llamaDir);
  copySources(sources, dirs.src);
  applySiftPatches(llamaPatches, llamaDir);
  applySiftPatches(addonPatches, dirs.src);

  const options = cmakeOptions(kind, key, opts.target);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [nlcDir] });
  // CMakeLists.txt asks node for node-addon-api's include path from the source folder
  const nodePath = [path.join(nlcDir, 'node_modules'), path.dirname(nlcDir), process.env['NODE_PATH'] ?? '']
    .filter(Boolean)
    .join(path.delimiter);
  // `configure` every time: `compile` alone keeps an existing build tree's old options, so a new
  // build id or CPU target would be silently ignored; ninja then rebuilds what changed
  const env = {
    ...process.env,
    NODE_PATH: nodePath,
    // paths relative to the native dir make the stock and patched trees (and a CPU fallback's) share ccache entries
    CCACHE_BASEDIR: resolveNativeDir(),
    CCACHE_NOHASHDIR: '1',
  };
  const common = ['--log-level', 'warn', '--config', 'Release', '--out', dirs.build];
  run(process.execPath, [cmakeJs, 'configure', ...common, ...Object.entries(options).map(([k, v]) => `--CD${k}=${v}`)], {
    cwd: dirs.src,
    env,
  });
  run(process.execPath, [cmakeJs, 'build', ...common, `--parallel=${opts.jobs}`], { cwd: dirs.src, env });

  const record: NativeBuildRecord = {
    kind,
    key,
    addonPath: findAddon(dirs.build),
    nodeLlamaCppVersion: nlcVersion,
    llamaCppCommit: commit,
    patches: [...applied, ...[...toolchainPatches, ...llamaPatches, ...addonPatches].map((p) => path.relative(repoRoot, p))],
    sources: sources.map((s) => `native-patches/sources/${s}`),
    cmakeOptions: options,
    cpu: opts.target.cpu,
    gpu: opts.target.gpu,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(dirs.record, JSON.stringify(record, null, 2) + '\n');
  console.log(`[build-native] ${kind}: done in ${record.buildSeconds}s -> ${record.addonPath}`);
  return record;
}

function parseArgs(argv: string[]) {
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  if (only !== undefined && only !== 'stock' && only !== 'patched') {
    throw new BuildError(`--only takes "stock" or "patched", not "${only}"`);
  }
  const jobsArg = argv.includes('--jobs') ? Number(argv[argv.indexOf('--jobs') + 1]) : NaN;
  const jobs = Number.isFinite(jobsArg) && jobsArg > 0 ? jobsArg : Math.max(1, os.availableParallelism());
  const valueOf = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  let target: Target;
  try {
    const gpu = chooseGpuBackend(resolveGpuRequest(valueOf('--gpu'), process.env), probeGpuToolchain());
    console.log(`[build-native] GPU backend: ${gpu.backend} (${gpu.why})`);
    const cudaArchitectures = valueOf('--cuda-arch') ?? process.env['SIFT_NATIVE_CUDA_ARCH'];
    target = { cpu: resolveCpuTarget(valueOf('--cpu'), process.env), gpu: gpu.backend, ...(cudaArchitectures ? { cudaArchitectures } : {}) };
  } catch (err) {
    throw new BuildError((err as Error).message);
  }
  return { kinds: (only ? [only] : ['stock', 'patched']) as BuildKind[], force: argv.includes('--force'), jobs, target, cpuFallback: argv.includes('--cpu-fallback') };
}

/** Whether a command runs at all (a missing one fails to spawn). */
function hasCommand(command: string, args: string[] = ['--version']): boolean {
  const res = spawnSync(command, args, { stdio: 'ignore' });
  return res.error === undefined && res.status === 0;
}

function probeGpuToolchain(): GpuToolchain {
  const cudaPath = process.env['CUDA_PATH'];
  const vulkanSdk = process.env['VULKAN_SDK'];
  return {
    platform: process.platform,
    cuda: hasCommand('nvcc') || (cudaPath !== undefined && existsSync(path.join(cudaPath, 'bin', process.platform === 'win32' ? 'nvcc.exe' : 'nvcc'))),
    glslc: hasCommand('glslc') || (vulkanSdk !== undefined && existsSync(path.join(vulkanSdk, 'bin', process.platform === 'win32' ? 'glslc.exe' : 'glslc'))),
    vulkanHeaders: vulkanHeaderState([vulkanSdk ? path.join(vulkanSdk, 'include') : null, '/usr/include', '/usr/local/include']),
    spirvHeaders: [vulkanSdk, '/usr', '/usr/local']
      .filter((prefix): prefix is string => prefix !== undefined)
      .some((prefix) => ['share', 'lib'].some((dir) => existsSync(path.join(prefix, dir, 'cmake', 'SPIRV-Headers', 'SPIRV-HeadersConfig.cmake')))),
  };
}

/** The first Vulkan headers found, and whether they have what the bundled ggml-vulkan uses. */
function vulkanHeaderState(includeDirs: Array<string | null>): GpuToolchain['vulkanHeaders'] {
  for (const dir of includeDirs) {
    const core = dir ? path.join(dir, 'vulkan', 'vulkan_core.h') : null;
    if (core && existsSync(core)) return readFileSync(core, 'utf8').includes('VK_EXT_layer_settings') ? 'ok' : 'too-old';
  }
  return 'missing';
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(bundlePath)) {
    throw new BuildError(`node-llama-cpp ${nlcVersion} has no llama.cpp bundle at ${bundlePath}; run npm install first`);
  }
  const nativeDir = resolveNativeDir();
  console.log(`[build-native] native dir: ${nativeDir}`);
  for (const kind of args.kinds) buildOne(kind, { ...args, nativeDir });
  // what an installer carries beside a GPU build: the same kind for the CPU alone, loaded when the
  // GPU's runtime or driver is missing (src-engine/loadLlama.ts)
  if (args.cpuFallback && args.target.gpu !== 'cpu') {
    console.log(`[build-native] CPU fallback builds: ${cpuFallbackDir(nativeDir)}`);
    for (const kind of args.kinds) buildOne(kind, { ...args, target: { ...args.target, gpu: 'cpu' }, nativeDir: cpuFallbackDir(nativeDir) });
  }
}

try {
  main();
} catch (err) {
  if (err instanceof BuildError) {
    console.error(`[build-native] error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
