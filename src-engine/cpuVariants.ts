// Which of a build's CPU variants this process may load. A build made with GGML_CPU_ALL_VARIANTS
// (`npm run build-native -- --cpu variants`, as llama.cpp's releases are built) carries one ggml CPU
// backend per instruction-set level (haswell, skylakex, zen4, sapphirerapids, …) and ggml loads the
// best one this CPU reports. A CPU can report an instruction set it cannot run: on an Intel Xeon VM
// with AMX, ggml's AMX kernel dies of SIGILL at the first decode (issue 17). A variant that killed
// the engine that way is switched off in a small state file, and the next engine loads the next
// best one, so a crash is never repeated.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveNativeDir } from './nativeBuilds.js';

/** libggml-cpu-haswell.so, ggml-cpu-zen4.dll, libggml-cpu-apple_m1.dylib → the variant's name. */
const VARIANT_FILE = /^(?:lib)?ggml-cpu-([A-Za-z0-9_.]+?)\.(?:so|dll|dylib)$/;
/** Every ggml backend library a DL build loads at run time (CPU variants, Vulkan, CUDA, RPC …). */
const BACKEND_FILE = /^(?:lib)?ggml-[A-Za-z0-9_.-]+\.(?:so|dll|dylib)$/;

export interface DisabledCpuVariant {
  variant: string;
  /** Why, in a person's words: "killed the engine with SIGILL at its first decode". */
  reason: string;
  at: string;
}

/** The state file: SIFT_CPU_VARIANTS_FILE, or cpu-variants.json in the native folder. */
export function cpuVariantStatePath(): string {
  return process.env['SIFT_CPU_VARIANTS_FILE'] ?? path.join(resolveNativeDir(), 'cpu-variants.json');
}

/**
 * Where a build's ggml libraries are: `bin/` beside the addon's `Release/` (the addon's rpath is
 * $ORIGIN/../bin), or the addon's own folder.
 */
export function backendLibraryDir(addonPath: string): string {
  const bin = path.join(path.dirname(addonPath), '..', 'bin');
  return existsSync(bin) ? path.resolve(bin) : path.dirname(addonPath);
}

/** The CPU variants a build folder holds, by name, with their file names. */
export function cpuVariantLibraries(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(dir)) return found;
  for (const file of readdirSync(dir)) {
    const match = VARIANT_FILE.exec(file);
    if (match) found.set(match[1]!, file);
  }
  return found;
}

export function readDisabledCpuVariants(file = cpuVariantStatePath()): DisabledCpuVariant[] {
  if (!existsSync(file)) return [];
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { disabled?: unknown };
    if (!Array.isArray(parsed.disabled)) return [];
    return parsed.disabled.filter(
      (entry): entry is DisabledCpuVariant =>
        typeof entry === 'object' && entry !== null && typeof (entry as DisabledCpuVariant).variant === 'string',
    );
  } catch {
    // a damaged state file must not stop the engine: it only ever narrows the choice
    return [];
  }
}

export function disableCpuVariant(variant: string, reason: string, file = cpuVariantStatePath()): DisabledCpuVariant[] {
  const disabled = readDisabledCpuVariants(file).filter((entry) => entry.variant !== variant);
  disabled.push({ variant, reason, at: new Date().toISOString() });
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ disabled }, null, 2)}\n`);
  renameSync(temp, file);
  return disabled;
}

/**
 * The folder ggml should load backends from. With nothing switched off it is the build's own
 * folder; otherwise a folder beside the state file holding links to every backend library except
 * the switched-off variants (a build folder may be read-only, as in an installed app). The folder
 * is named by its contents, so engines starting at once build the same one.
 */
export function backendsDirFor(buildDir: string, disabled: readonly string[], stateFile = cpuVariantStatePath()): string {
  const variants = cpuVariantLibraries(buildDir);
  const skipped = new Set([...variants].filter(([name]) => disabled.includes(name)).map(([, file]) => file));
  if (skipped.size === 0) return buildDir;
  const files = readdirSync(buildDir)
    .filter((file) => BACKEND_FILE.test(file) && !skipped.has(file))
    .sort();
  const digest = createHash('sha256').update(`${path.resolve(buildDir)}\n${files.join('\n')}`).digest('hex').slice(0, 16);
  const target = path.join(path.dirname(stateFile), 'cpu-backends', digest);
  if (existsSync(target)) return target;
  const staging = `${target}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const file of files) {
    const from = path.join(buildDir, file);
    try {
      symlinkSync(from, path.join(staging, file));
    } catch {
      copyFileSync(from, path.join(staging, file)); // Windows without the symlink privilege
    }
  }
  try {
    renameSync(staging, target);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another engine made it first
  }
  return target;
}

/** The CPU variant this process loaded (Linux: read from its own memory map), or null. */
export function loadedCpuVariant(): string | null {
  if (process.platform !== 'linux') return null;
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return null;
  }
  for (const line of maps.split('\n')) {
    const match = VARIANT_FILE.exec(path.basename(line.trim().split(/\s+/).slice(5).join(' ')));
    if (match) return match[1]!;
  }
  return null;
}

/**
 * After the engine died: the variant to switch off, when its instructions are the likely cause
 * (SIGILL: an instruction this CPU does not run) and the build can load another one.
 */
export function variantToDisable(exit: { signal: string | null }, cpu: { build: string; variant: string | null }): string | null {
  return exit.signal === 'SIGILL' && cpu.build === 'variants' && cpu.variant !== null ? cpu.variant : null;
}
