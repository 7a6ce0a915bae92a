// Run by `npm start`: gets better-sqlite3 built for the installed Electron's ABI into
// out/electron-native/better_sqlite3.node, leaving node_modules' Node build (the tests') alone.
// It tries the project's prebuilt binary first (prebuild-install), then compiles against
// Electron's headers (node-gyp). Skipped when that Electron version's binary is already there.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(repoRoot, 'out', 'electron-native');
const target = path.join(outDir, 'better_sqlite3.node');
const stamp = path.join(outDir, 'electron-version.txt');

function version(pkg: string): string {
  return (JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

function attempt(cwd: string, cmd: string, args: string[]): boolean {
  const res = spawnSync(cmd, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
  return res.status === 0 && existsSync(path.join(cwd, 'build', 'Release', 'better_sqlite3.node'));
}

const electron = version('electron');
if (existsSync(target) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === electron) {
  process.exit(0);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'sift-electron-sqlite-'));
try {
  const pkgDir = path.join(work, 'better-sqlite3');
  cpSync(path.join(repoRoot, 'node_modules', 'better-sqlite3'), pkgDir, { recursive: true, filter: (f) => !f.includes(`${path.sep}build${path.sep}`) });
  const bin = (name: string) => path.join(repoRoot, 'node_modules', '.bin', name);
  console.log(`[electron-deps] better-sqlite3 ${version('better-sqlite3')} for Electron ${electron}`);
  const built =
    attempt(pkgDir, bin('prebuild-install'), ['--runtime', 'electron', '--target', electron, '--arch', process.arch]) ||
    attempt(pkgDir, bin('node-gyp'), ['rebuild', '--release', `--target=${electron}`, `--arch=${process.arch}`, '--dist-url=https://electronjs.org/headers']);
  if (!built) {
    console.error('[electron-deps] could not get better-sqlite3 for Electron (needs the network once, or a C++ toolchain)');
    process.exit(1);
  }
  mkdirSync(outDir, { recursive: true });
  copyFileSync(path.join(pkgDir, 'build', 'Release', 'better_sqlite3.node'), target);
  writeFileSync(stamp, `${electron}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
