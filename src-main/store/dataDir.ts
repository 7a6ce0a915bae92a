// Where Sift keeps its database: an explicit option wins, then SIFT_DATA_DIR (tests, portable
// installs), then the platform's conventional per-user app-data folder.
import os from 'node:os';
import path from 'node:path';

export interface DataDirEnvironment {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  homeDir: string;
}

const currentEnvironment = (): DataDirEnvironment => ({
  env: process.env,
  platform: process.platform,
  homeDir: os.homedir(),
});

export function resolveDataDir(
  explicitDir?: string,
  environment: DataDirEnvironment = currentEnvironment(),
): string {
  if (explicitDir) return path.resolve(explicitDir);
  const fromEnv = environment.env.SIFT_DATA_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  return platformAppDataDir(environment);
}

function platformAppDataDir({ env, platform, homeDir }: DataDirEnvironment): string {
  switch (platform) {
    case 'darwin':
      return path.join(homeDir, 'Library', 'Application Support', 'Sift');
    case 'win32':
      // APPDATA is always set on a normal Windows login; the fallback covers stripped environments.
      return path.join(env.APPDATA ?? path.join(homeDir, 'AppData', 'Roaming'), 'Sift');
    default: {
      // XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
      const xdg = env.XDG_DATA_HOME;
      const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homeDir, '.local', 'share');
      return path.join(base, 'sift');
    }
  }
}
