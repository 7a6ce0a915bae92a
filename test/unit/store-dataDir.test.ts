import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDataDir, type DataDirEnvironment } from '../../src-main/store/dataDir.js';

const environment = (platform: NodeJS.Platform, env: NodeJS.ProcessEnv = {}): DataDirEnvironment => ({
  env,
  platform,
  homeDir: '/home/ada',
});

describe('resolveDataDir', () => {
  it('prefers the explicit directory, then SIFT_DATA_DIR', () => {
    const env = environment('linux', { SIFT_DATA_DIR: '/srv/sift', XDG_DATA_HOME: '/xdg' });
    expect(resolveDataDir('/explicit', env)).toBe(path.resolve('/explicit'));
    expect(resolveDataDir(undefined, env)).toBe(path.resolve('/srv/sift'));
    expect(resolveDataDir('relative/dir', env)).toBe(path.resolve('relative/dir'));
  });

  it('uses XDG_DATA_HOME on Linux, else ~/.local/share, ignoring a relative XDG path', () => {
    expect(resolveDataDir(undefined, environment('linux', { XDG_DATA_HOME: '/xdg' }))).toBe(path.join('/xdg', 'sift'));
    expect(resolveDataDir(undefined, environment('linux'))).toBe(path.join('/home/ada', '.local', 'share', 'sift'));
    expect(resolveDataDir(undefined, environment('linux', { XDG_DATA_HOME: 'not/absolute' }))).toBe(
      path.join('/home/ada', '.local', 'share', 'sift'),
    );
  });

  it('uses Application Support on macOS and APPDATA on Windows', () => {
    expect(resolveDataDir(undefined, environment('darwin'))).toBe(
      path.join('/home/ada', 'Library', 'Application Support', 'Sift'),
    );
    expect(resolveDataDir(undefined, environment('win32', { APPDATA: '/c/Users/ada/AppData/Roaming' }))).toBe(
      path.join('/c/Users/ada/AppData/Roaming', 'Sift'),
    );
    expect(resolveDataDir(undefined, environment('win32'))).toBe(
      path.join('/home/ada', 'AppData', 'Roaming', 'Sift'),
    );
  });

  it('reads the real process environment by default', () => {
    const previous = process.env.SIFT_DATA_DIR;
    process.env.SIFT_DATA_DIR = '/tmp/sift-from-env';
    try {
      expect(resolveDataDir()).toBe(path.resolve('/tmp/sift-from-env'));
    } finally {
      if (previous === undefined) delete process.env.SIFT_DATA_DIR;
      else process.env.SIFT_DATA_DIR = previous;
    }
  });
});
