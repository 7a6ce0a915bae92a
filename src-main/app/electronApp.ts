// Electron main process wiring: single instance, one hardened window, the menu, IPC to the shared
// back end, and the engine in a utilityProcess. No app logic lives here.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, Menu, shell, utilityProcess } from 'electron';
import { createBackend, type Backend } from './backend.js';
import { appMenuTemplate } from './appMenu.js';
import { registerIpc } from './ipcBridge.js';
import { utilityEngineHost } from './utilityEngineHost.js';
import { hardenSession, hardenWebContents } from './webSecurity.js';
import { mainWindowOptions } from './windowOptions.js';

const HELP_URL = 'https://github.com/sift-app/sift';

export interface ElectronPaths {
  /** Folder of the built main bundle (out/main). */
  mainDir: string;
}

export function builtPaths({ mainDir }: ElectronPaths) {
  return {
    preload: path.join(mainDir, '..', 'preload', 'index.cjs'),
    renderer: path.join(mainDir, '..', 'renderer', 'index.html'),
    engine: path.join(mainDir, 'engineProcess.js'),
  };
}

async function pickModelFile(window: BrowserWindow | null): Promise<string | null> {
  const options: Electron.OpenDialogOptions = {
    title: 'Choose a GGUF model',
    properties: ['openFile'],
    filters: [{ name: 'GGUF models', extensions: ['gguf'] }],
  };
  const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

/** Returns false when another instance already runs (that one gets focused instead). */
export async function runElectronApp(paths: ElectronPaths): Promise<boolean> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  const built = builtPaths(paths);
  let window: BrowserWindow | null = null;
  let backend: Backend | null = null;

  app.on('second-instance', () => {
    if (!window) return;
    if (window.isMinimized()) window.restore();
    window.focus();
  });
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, shell));
  app.on('window-all-closed', () => app.quit());

  await app.whenReady();
  useElectronSqliteBinding();
  backend = createBackend({
    shell: 'electron',
    version: app.getVersion(),
    hostFactory: utilityEngineHost(
      (modulePath, args, options) => utilityProcess.fork(modulePath, args, options),
      built.engine,
      bundledNativeEnv(),
    ),
    pickModelFile: () => pickModelFile(window),
  });
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing || !backend) return;
    // finish the answer being written and stop the engine before the process goes
    event.preventDefault();
    closing = true;
    void backend.close().finally(() => app.quit());
  });

  window = new BrowserWindow(mainWindowOptions(built.preload));
  hardenSession(window.webContents.session);
  registerIpc(ipcMain, backend.dispatch, backend.events, () => window?.webContents ?? null);
  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      appMenuTemplate(process.platform, {
        newChat: () => window?.webContents.sendInputEvent({ type: 'keyDown', keyCode: 'N', modifiers: [process.platform === 'darwin' ? 'meta' : 'control'] }),
        openDataFolder: () => void shell.openPath(backend?.store.dataDir ?? app.getPath('userData')),
        openHelp: () => void shell.openExternal(HELP_URL),
      }),
    ),
  );
  window.once('ready-to-show', () => window?.show());
  window.on('closed', () => (window = null));

  const devUrl = process.env.ELECTRON_RENDERER_URL;
  if (!app.isPackaged && devUrl) await window.loadURL(devUrl);
  else await window.loadFile(built.renderer);

  void backend.models.restoreLast();
  return true;
}

/**
 * An installed app carries its engine builds (scripts/stage-native.ts) in its resources folder,
 * which may be read-only, so the record of CPU variants that crashed here lives with the app's data
 * (this process writes it when the engine dies; the engine reads it when it starts).
 */
function bundledNativeEnv(): NodeJS.ProcessEnv | undefined {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (!app.isPackaged || !resources) return undefined;
  process.env['SIFT_CPU_VARIANTS_FILE'] ??= path.join(app.getPath('userData'), 'cpu-variants.json');
  return { SIFT_NATIVE_DIR: path.join(resources, 'native'), SIFT_CPU_VARIANTS_FILE: process.env['SIFT_CPU_VARIANTS_FILE'] };
}

/**
 * From a source checkout, better-sqlite3's binary is Node's; scripts/electron-deps.ts (run by
 * npm start) leaves an Electron build in out/electron-native. A packaged app needs none of this.
 */
function useElectronSqliteBinding(): void {
  if (app.isPackaged || process.env['SIFT_SQLITE_BINDING']) return;
  const binding = path.join(app.getAppPath(), 'out', 'electron-native', 'better_sqlite3.node');
  if (existsSync(binding)) process.env['SIFT_SQLITE_BINDING'] = binding;
}
