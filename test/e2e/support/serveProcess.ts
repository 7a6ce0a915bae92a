// Runs `sift serve` as a real child process on a temp data dir and reads the URL it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const URL_LINE = /Sift is running at (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/;

export interface ServeHandle {
  url: string;
  origin: string;
  token: string;
  pid: number;
  /** Whether the process is still running (a crash shows here as false). */
  alive(): boolean;
  output(): string;
  stop(): Promise<void>;
}

export async function startServe(options: { dataDir: string; args?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ServeHandle> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'test/e2e/support/serveEntry.ts'), ...(options.args ?? [])],
    { cwd: repoRoot, env: { ...process.env, ...options.env, SIFT_DATA_DIR: options.dataDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sift serve printed no URL in time:\n${output}`)), options.timeoutMs ?? 120_000);
    const check = () => {
      const match = URL_LINE.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sift serve exited with ${code}:\n${output}`));
    });
  });
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    token: new URLSearchParams(parsed.hash.slice(1)).get('token') ?? '',
    pid: child.pid ?? -1,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
