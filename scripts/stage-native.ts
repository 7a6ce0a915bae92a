// Copies the finished native builds into resources/native/<kind>/ for electron-builder, with a
// build record whose addon path is relative, so an installed app finds its engine in its own
// resources (the app sets SIFT_NATIVE_DIR there) and its users need no compiler.
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuFallbackDir, readBuildRecord, type NativeBuildRecord } from '../src-engine/nativeBuilds.js';
import type { BuildKind } from '../src-common/engineTypes.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(repoRoot, 'resources', 'native');

/** Copies one build's addon and libraries, with a record whose addon path is relative. */
function stage(record: NativeBuildRecord, dir: string): void {
  mkdirSync(dir, { recursive: true });
  // the addon finds llama.cpp's shared libraries through its rpath, $ORIGIN/../bin: keep that layout
  const addonDir = path.dirname(record.addonPath);
  const libDir = path.join(addonDir, '..', 'bin');
  cpSync(addonDir, path.join(dir, 'Release'), { recursive: true, filter: (f) => !f.endsWith('.json') });
  if (existsSync(libDir)) cpSync(libDir, path.join(dir, 'bin'), { recursive: true });
  const addonPath = path.join('Release', path.basename(record.addonPath));
  writeFileSync(path.join(dir, 'build.json'), `${JSON.stringify({ ...record, addonPath }, null, 2)}\n`);
  console.log(`[stage-native] ${record.kind}${record.gpu ? ` (${record.gpu})` : ''}: ${path.relative(repoRoot, dir)}`);
}

rmSync(target, { recursive: true, force: true });
for (const kind of ['patched', 'stock'] as BuildKind[]) {
  const record = readBuildRecord(kind);
  if (!record) {
    console.error(`[stage-native] no ${kind} build; run npm run setup first`);
    process.exit(1);
  }
  stage(record, path.join(target, kind));
  // a GPU build's CPU twin (build-native --cpu-fallback) goes along, where the app looks for it
  const fallback = readBuildRecord(kind, cpuFallbackDir());
  if (fallback && (record.gpu ?? 'cpu') !== 'cpu') stage(fallback, path.join(cpuFallbackDir(target), kind));
}
