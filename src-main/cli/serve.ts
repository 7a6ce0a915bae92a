// `sift serve [--port N] [--model <gguf>]`: the app's back end plus the built renderer on a
// loopback-only address, for a browser (and the e2e tests). Prints one line: the URL to open,
// token included. Runs until SIGINT/SIGTERM.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWsServer } from '../api/wsServer.js';
import { createBackend } from '../app/backend.js';
import type { BuildKind } from '../../src-common/engineTypes.js';

export interface ServeArgs {
  port: number;
  model: string | null;
  build: BuildKind | null;
  contextSize: number | null;
  /** Shorter questions for Settings → Calibration (one of about N tokens): tests and slow machines. */
  calibrationTokens: number | null;
  /** Quiet time after a load before the app calibrates a model with no frontier by itself. */
  calibrationDelayMs: number | null;
  rendererDir: string;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const SERVE_USAGE = `Usage: sift serve [--port N] [--model <file.gguf>] [--build patched|stock] [--context N] [--calibration-tokens N] [--calibration-delay MS]
  --calibration-tokens N  calibrate models on one question of about N tokens (default: the CLI's)
  --calibration-delay MS  wait MS after a model loads before calibrating it by itself, when it has
                          no frontier and Settings → Calibration allows it (default 20000)
  Serves the Sift app on http://127.0.0.1 only. The URL printed includes a one-time token
  (set SIFT_TOKEN to choose it). Build the renderer first: npm run build:renderer`;

export function parseServeArgs(argv: string[]): ServeArgs {
  const args: ServeArgs = { port: 0, model: null, build: null, contextSize: null, calibrationTokens: null, calibrationDelayMs: null, rendererDir: path.join(repoRoot, 'out', 'renderer') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const need = (): string => {
      if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    switch (flag) {
      case '--port': {
        const port = Number(need());
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0-65535');
        args.port = port;
        break;
      }
      case '--model':
        args.model = path.resolve(need());
        break;
      case '--build': {
        const build = need();
        if (build !== 'patched' && build !== 'stock') throw new Error('--build must be patched or stock');
        args.build = build;
        break;
      }
      case '--context': {
        const size = Number(need());
        if (!Number.isInteger(size) || size < 256) throw new Error('--context must be an integer of at least 256');
        args.contextSize = size;
        break;
      }
      case '--calibration-tokens': {
        const tokens = Number(need());
        if (!Number.isInteger(tokens) || tokens < 256) throw new Error('--calibration-tokens must be an integer of at least 256');
        args.calibrationTokens = tokens;
        break;
      }
      case '--calibration-delay': {
        const ms = Number(need());
        if (!Number.isInteger(ms) || ms < 0) throw new Error('--calibration-delay must be a whole number of milliseconds');
        args.calibrationDelayMs = ms;
        break;
      }
      case '--renderer-dir':
        args.rendererDir = path.resolve(need());
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return args;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SERVE_USAGE);
    return 0;
  }
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
  } catch (error) {
    console.error(`sift serve: ${(error as Error).message}\n${SERVE_USAGE}`);
    return 2;
  }
  if (!existsSync(path.join(args.rendererDir, 'index.html'))) {
    console.error(`sift serve: no built renderer in ${args.rendererDir}. Build it with: npm run build:renderer`);
    return 1;
  }
  const backend = createBackend({
    shell: 'serve',
    version: packageVersion(),
    ...(args.build ? { build: args.build } : {}),
    ...(args.contextSize ? { contextSize: args.contextSize } : {}),
    ...(args.calibrationTokens ? { calibrationTokens: args.calibrationTokens } : {}),
    ...(args.calibrationDelayMs !== null ? { calibrationDelayMs: args.calibrationDelayMs } : {}),
  });
  const token = process.env.SIFT_TOKEN || randomBytes(24).toString('base64url');
  let server;
  try {
    server = await startWsServer({
      port: args.port,
      token,
      rendererDir: args.rendererDir,
      dispatch: backend.dispatch,
      events: backend.events,
      onConnectionError: (error) => console.error(`sift serve: a connection was closed: ${error.message}`),
    });
  } catch (error) {
    console.error(`sift serve: cannot listen on 127.0.0.1:${args.port}: ${(error as Error).message}`);
    await backend.close();
    return 1;
  }
  console.log(`Sift is running at ${server.url}`);

  // The model loads after the URL is out, so the page can show it loading.
  const modelReady = args.model ? backend.models.load(args.model) : backend.models.restoreLast();
  modelReady.catch((error: unknown) => console.error(`sift serve: ${error instanceof Error ? error.message : String(error)}`));

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  await backend.close();
  return 0;
}
