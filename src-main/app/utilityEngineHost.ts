// Starts the engine in Electron's utilityProcess instead of a Node fork: the engine's native code
// (llama.cpp) then runs outside the main process, and a crash there only ends that process.
import type { UtilityProcess } from 'electron';
import type { EngineHostFactory } from '../engine/engineClient.js';
import type { EngineMessage } from '../engine/protocol.js';

const STDERR_TAIL_BYTES = 4096;

export type UtilityFork = (modulePath: string, args: string[], options: Electron.ForkOptions) => UtilityProcess;

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
      onExit: (handler) => child.on('exit', (code: number) => handler({ code, signal: null, stderrTail })),
      kill: () => void child.kill(),
      get pid() {
        return child.pid;
      },
    };
  };
}
