// Starts `sift worker` processes for tests, on loopback ports the OS picks, and reads back the
// address each one prints.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningWorker {
  address: string;
  child: ChildProcess;
  /** Everything it wrote to stderr so far (its connection log). */
  log(): string;
}

export function startWorker(args: string[] = []): Promise<RunningWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/cli/main.ts', 'worker', '--port', '0', '--threads', '1', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sift worker did not start: ${stderr}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`sift worker exited with ${code}: ${stderr}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const ready = /sift worker: serving .+ at (\S+) to/.exec(stdout);
      if (ready) {
        clearTimeout(timer);
        resolve({ address: ready[1] as string, child, log: () => stderr });
      }
    });
  });
}

export async function stopWorker(worker: RunningWorker | undefined): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGKILL');
  await exited;
}
