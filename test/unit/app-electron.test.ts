// The Electron main process's wiring, checked against a fake `electron` module (no Electron binary
// exists on CI machines): window options, single-instance lock, IPC through the validating
// dispatcher, event forwarding, and the navigation / new-window / permission guards. The back end
// behind it is the real one (SQLite in a temp dir); no engine starts because no model is loaded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

type Listener = (...args: unknown[]) => unknown;

const fake = vi.hoisted(() => {
  const on = (map: Map<string, Listener[]>) => (name: string, listener: Listener) => {
    map.set(name, [...(map.get(name) ?? []), listener]);
  };
  const appListeners = new Map<string, Listener[]>();
  const state = {
    lockGranted: true,
    windows: [] as Array<{ options: Record<string, unknown>; loadedFile: string | null; contents: FakeContents }>,
    handlers: new Map<string, Listener>(),
    appListeners,
    quit: 0,
    opened: [] as string[],
    menu: null as unknown,
    permissionHandler: null as Listener | null,
    headersHandler: null as Listener | null,
  };
  interface FakeContents {
    listeners: Map<string, Listener[]>;
    openHandler: Listener | null;
    sent: Array<[string, unknown]>;
    on: (name: string, listener: Listener) => void;
    setWindowOpenHandler: (handler: Listener) => void;
    send: (channel: string, payload: unknown) => void;
    isDestroyed: () => boolean;
    session: unknown;
  }
  const makeContents = (): FakeContents => {
    const listeners = new Map<string, Listener[]>();
    const contents: FakeContents = {
      listeners,
      openHandler: null,
      sent: [],
      on: on(listeners),
      setWindowOpenHandler: (handler) => (contents.openHandler = handler),
      send: (channel, payload) => contents.sent.push([channel, payload]),
      isDestroyed: () => false,
      session: {
        setPermissionRequestHandler: (handler: Listener) => (state.permissionHandler = handler),
        webRequest: { onHeadersReceived: (handler: Listener) => (state.headersHandler = handler) },
      },
    };
    return contents;
  };
  class BrowserWindow {
    webContents = makeContents();
    record: (typeof state.windows)[number];
    constructor(options: Record<string, unknown>) {
      this.record = { options, loadedFile: null, contents: this.webContents };
      state.windows.push(this.record);
      // Electron emits this for every web contents it creates
      for (const listener of appListeners.get('web-contents-created') ?? []) listener({}, this.webContents);
    }
    once() {}
    on() {}
    show() {}
    async loadFile(file: string) {
      this.record.loadedFile = file;
    }
    async loadURL() {}
  }
  const electron = {
    app: {
      requestSingleInstanceLock: () => state.lockGranted,
      quit: () => state.quit++,
      on: on(appListeners),
      whenReady: () => Promise.resolve(),
      getVersion: () => '0.0.0-test',
      getPath: () => os.tmpdir(),
      isPackaged: true,
    },
    BrowserWindow,
    ipcMain: { handle: (channel: string, handler: Listener) => state.handlers.set(channel, handler) },
    Menu: { buildFromTemplate: (template: unknown) => template, setApplicationMenu: (menu: unknown) => (state.menu = menu) },
    shell: { openExternal: async (url: string) => void state.opened.push(url), openPath: async () => '' },
    dialog: { showOpenDialog: async () => ({ canceled: true, filePaths: [] }) },
    utilityProcess: { fork: () => { throw new Error('the engine must not start in this test'); } },
  };
  return { state, electron };
});

vi.mock('electron', () => ({ ...fake.electron, default: fake.electron }));

const { runElectronApp } = await import('../../src-main/app/electronApp.js');
const { INVOKE_CHANNEL, EVENT_CHANNEL } = await import('../../src-common/contract.js');
const { ELECTRON_CSP } = await import('../../src-main/app/windowOptions.js');

describe('Electron main wiring', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-electron-unit-'));
  const mainDir = path.join(os.tmpdir(), 'sift-out', 'main');

  beforeAll(async () => {
    process.env.SIFT_DATA_DIR = dataDir;
    expect(await runElectronApp({ mainDir })).toBe(true);
  });

  afterAll(async () => {
    for (const listener of fake.state.appListeners.get('before-quit') ?? []) listener({ preventDefault: () => undefined });
    await vi.waitFor(() => expect(fake.state.quit).toBeGreaterThan(0));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('opens exactly one window, sandboxed and isolated, with the CommonJS preload', () => {
    expect(fake.state.windows).toHaveLength(1);
    const options = fake.state.windows[0]!.options as { webPreferences: Record<string, unknown>; show: boolean };
    expect(options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: path.join(mainDir, '..', 'preload', 'index.cjs'),
    });
    expect(options.show).toBe(false);
    expect(fake.state.windows[0]!.loadedFile).toBe(path.join(mainDir, '..', 'renderer', 'index.html'));
    expect(fake.state.menu).toEqual(expect.arrayContaining([expect.objectContaining({ label: 'File' })]));
  });

  it('serves the api over IPC, validating every payload with the contract schemas', async () => {
    const handler = fake.state.handlers.get(INVOKE_CHANNEL)!;
    const contents = fake.state.windows[0]!.contents;
    const event = { sender: contents, senderFrame: { url: 'file:///app/out/renderer/index.html' } };

    const created = (await handler(event, 'sessions.create', { title: 'From IPC' })) as { ok: boolean; value: { id: string; title: string } };
    expect(created.ok).toBe(true);
    expect(created.value.title).toBe('From IPC');

    const invalid = (await handler(event, 'sessions.rename', { sessionId: created.value.id, title: 42 })) as { ok: boolean; error: { code: string } };
    expect(invalid).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    const unknown = (await handler(event, 'fs.readFile', { path: '/etc/passwd' })) as { ok: boolean; error: { code: string } };
    expect(unknown).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    const noModel = (await handler(event, 'chat.send', { sessionId: created.value.id, text: 'hi' })) as { ok: boolean; error: { code: string } };
    expect(noModel).toMatchObject({ ok: false, error: { code: 'NO_MODEL' } });
  });

  it('refuses calls from any other frame', async () => {
    const handler = fake.state.handlers.get(INVOKE_CHANNEL)!;
    const contents = fake.state.windows[0]!.contents;
    const foreign = (await handler({ sender: contents, senderFrame: { url: 'https://evil.example/' } }, 'sessions.list', {})) as { ok: boolean };
    expect(foreign.ok).toBe(false);
    const otherContents = (await handler({ sender: {}, senderFrame: { url: 'file:///x' } }, 'sessions.list', {})) as { ok: boolean };
    expect(otherContents.ok).toBe(false);
  });

  it('forwards back-end events to the window on the event channel', async () => {
    const handler = fake.state.handlers.get(INVOKE_CHANNEL)!;
    const contents = fake.state.windows[0]!.contents;
    await handler({ sender: contents, senderFrame: { url: 'file:///app/index.html' } }, 'sessions.create', {});
    expect(contents.sent).toContainEqual([EVENT_CHANNEL, { type: 'sessions.changed' }]);
  });

  it('blocks navigation and new windows, and opens web links in the system browser', () => {
    const contents = fake.state.windows[0]!.contents;
    let prevented = 0;
    for (const listener of contents.listeners.get('will-navigate') ?? []) listener({ preventDefault: () => prevented++ }, 'https://example.com/page');
    expect(prevented).toBe(1);
    expect(contents.openHandler?.({ url: 'https://example.com/doc' })).toEqual({ action: 'deny' });
    expect(contents.openHandler?.({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(contents.openHandler?.({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(fake.state.opened).toEqual(['https://example.com/page', 'https://example.com/doc']);
  });

  it('follows the Electron security checklist in its window and web contents', () => {
    const preferences = (fake.state.windows[0]!.options as { webPreferences: Record<string, unknown> }).webPreferences;
    expect(preferences).toMatchObject({ nodeIntegrationInSubFrames: false, navigateOnDragDrop: false });
    // experimental web platform features and Blink flags stay off; no remote module exists
    expect(preferences.experimentalFeatures).not.toBe(true);
    expect(preferences).not.toHaveProperty('enableBlinkFeatures');
    expect(preferences).not.toHaveProperty('additionalArguments');
    // a <webview> could be attached with its own preferences: every attach is refused
    const contents = fake.state.windows[0]!.contents;
    let refused = 0;
    for (const listener of contents.listeners.get('will-attach-webview') ?? []) listener({ preventDefault: () => refused++ }, {}, {});
    expect(refused).toBe(1);
    // only web and mail links leave the app, never file: or custom protocols
    expect(contents.openHandler?.({ url: 'smb://host/share' })).toEqual({ action: 'deny' });
    expect(fake.state.opened).not.toContain('smb://host/share');
  });

  it('adds the strict Content-Security-Policy to every response', () => {
    let headers: Record<string, string[]> | undefined;
    fake.state.headersHandler?.(
      { responseHeaders: { 'Content-Type': ['text/html'] } },
      (response: { responseHeaders: Record<string, string[]> }) => (headers = response.responseHeaders),
    );
    expect(headers?.['Content-Type']).toEqual(['text/html']);
    expect(headers?.['Content-Security-Policy']).toEqual([ELECTRON_CSP]);
  });

  it('grants no permission except writing to the clipboard', () => {
    const answers: boolean[] = [];
    fake.state.permissionHandler?.({}, 'media', (granted: boolean) => answers.push(granted));
    fake.state.permissionHandler?.({}, 'geolocation', (granted: boolean) => answers.push(granted));
    fake.state.permissionHandler?.({}, 'clipboard-sanitized-write', (granted: boolean) => answers.push(granted));
    expect(answers).toEqual([false, false, true]);
  });

  it('quits at once when another instance holds the lock', async () => {
    fake.state.lockGranted = false;
    const quitsBefore = fake.state.quit;
    expect(await runElectronApp({ mainDir })).toBe(false);
    expect(fake.state.quit).toBe(quitsBefore + 1);
    expect(fake.state.windows).toHaveLength(1);
    fake.state.lockGranted = true;
  });
});
