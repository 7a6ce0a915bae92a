// Starts the engine in Electron's utilityProcess instead of a Node fork: the engine's native code
// (llama.cpp) then runs outside the main process, and a crash there only ends that process.
import type { UtilityProcess } from 'electron';
import type { EngineHostFactory } from '../engine/engineClient.js';
import type { EngineMessage } from '../../src-engine/protocol.js';

const STDERR_TAIL_BYTES = 4096;

export type UtilityFork = (modulePath: string, args: string[], options: Electron.ForkOptions) => UtilityProcess;

/** Windows' STATUS_ILLEGAL_INSTRUCTION, as GetExitCodeProcess reports it. */
const WINDOWS_ILLEGAL_INSTRUCTION = 0xc000001d;

/**
 * utilityProcess reports a signal only through its exit code (waitpid's status on POSIX, which
 * reads 4, or 132 with a core dump, for SIGILL; GetExitCodeProcess on Windows). The engine never
 * exits with these codes itself, so they can name the one signal the app acts on: SIGILL, which
 * switches a crashing CPU variant off. Not run here: Electron's binary cannot be downloaded.
 */
export function signalFromUtilityExit(code: number, platform: NodeJS.Platform = process.platform): string | null {
  if (platform === 'win32') return code === WINDOWS_ILLEGAL_INSTRUCTION ? 'SIGILL' : null;
  return code === 4 || code === 132 ? 'SIGILL' : null;
}

/** `env` reaches the engine process; a packaged app points SIFT_NATIVE_DIR at its bundled builds. */
export function utilityEngineHost(fork: UtilityFork, entry: string, env?: NodeJS.ProcessEnv): EngineHostFactory {
  return (build) => {
    const child = fork(entry, ['--build', build], {
      serviceName: `Sift engine (${build})`,
      stdio: 'pipe',
      ...(env ? { env: { ...process.env, ...env } } : {}),
    });
    let stderrTail = '';
    child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    return {
      send: (message) => child.postMessage(message),
      onMessage: (handler) => child.on('message', (message: unknown) => handler(message as EngineMessage)),
      onExit: (handler) => child.on('exit', (code: number) => handler({ code, signal: signalFromUtilityExit(code), stderrTail })),
      kill: () => void child.kill(),
      get pid() {
        return child.pid;
      },
    };
  };
}
