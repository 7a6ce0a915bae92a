// Launches the real packaged-layout app (out/, built by `npm run build`) with Playwright's Electron
// support, where an Electron binary exists (a developer's or user's machine). On machines without
// one (CI here installs with ELECTRON_SKIP_BINARY_DOWNLOAD) it is skipped, and says why.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { _electron as electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where the electron package keeps its binary. Read from disk rather than require('electron'):
 * recent versions start a download from that require when the binary is missing.
 */
function electronBinary(): { path: string | null; reason: string } {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  const pathFile = path.join(packageDir, 'path.txt');
  if (!existsSync(pathFile)) return { path: null, reason: 'no Electron binary installed here (node_modules/electron/path.txt is missing; installed with ELECTRON_SKIP_BINARY_DOWNLOAD)' };
  const binary = path.join(packageDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? { path: binary, reason: '' } : { path: null, reason: `the Electron binary ${binary} is missing` };
}

const binary = electronBinary();
const built = existsSync(path.join(repoRoot, 'out', 'main', 'index.js')) && existsSync(path.join(repoRoot, 'out', 'preload', 'index.cjs'));
const skipReason = !binary.path ? binary.reason : !built ? 'the app is not built: run npm run build first' : '';
if (skipReason) console.warn(`[electron smoke test skipped] ${skipReason}`);

describe('Electron app smoke test', () => {
  it.skipIf(skipReason !== '')(`opens one sandboxed window with the typed bridge${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-electron-'));
    const app = await electron.launch({
      executablePath: binary.path as string,
      args: [path.join(repoRoot, 'out', 'main', 'index.js')],
      env: { ...process.env, SIFT_DATA_DIR: dataDir },
    });
    try {
      const window = await app.firstWindow();
      await window.getByRole('button', { name: 'New chat' }).waitFor();
      // the preload exposed exactly the bridge, and nothing of Node
      const globals = await window.evaluate(() => ({
        bridge: Object.keys((window as unknown as { siftBridge: object }).siftBridge).sort(),
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (window as unknown as { process?: unknown }).process,
      }));
      expect(globals).toEqual({ bridge: ['invoke', 'onEvent', 'pathForFile'], require: 'undefined', process: 'undefined' });
      await window.getByRole('button', { name: 'New chat' }).click();
      await expect.poll(() => window.locator('h1.title').textContent()).toBe('New chat');
      expect(app.windows()).toHaveLength(1);
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
