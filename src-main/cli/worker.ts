// `sift worker`: serves this machine's devices (its GPU, else its CPU) to a Sift engine on another
// machine through llama.cpp's RPC backend, from the same native build as the engine, so the ops
// Sift's policies use exist here too. Loopback only unless --host says otherwise; even then only
// the addresses on --allow get in. Runs until SIGINT/SIGTERM.
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadLlama } from '../../src-engine/loadLlama.js';
import { serveDevices } from '../../src-engine/rpcServe.js';
import { allowList, openWorkerGate } from '../worker/workerGate.js';
import { isLoopbackHost } from '../../src-common/workerAddress.js';
import { UsageError, positiveWholeNumber } from './usageError.js';

export const DEFAULT_WORKER_PORT = 50052;

export const WORKER_USAGE = `Usage: sift worker [--port N] [--host ADDRESS] [--allow LIST] [--threads N]
  Serves this machine's GPU (else its CPU) to a Sift engine elsewhere, over llama.cpp's RPC backend.
  --port N         port to listen on (default ${DEFAULT_WORKER_PORT}; 0 picks a free one)
  --host ADDRESS   address to listen on (default 127.0.0.1: this machine only)
  --allow LIST     IPv4 addresses or subnets allowed to connect, comma-separated (a.b.c.d, a.b.c.d/24);
                   this machine's loopback always is. Keep workers on a trusted network or behind an
                   SSH tunnel: the protocol has no authentication (docs/SCALE_OUT.md)
  --threads N      CPU threads the served CPU device computes with (default: every core)`;

export interface WorkerArgs {
  port: number;
  host: string;
  allow: string[];
  threads: number;
}

export function parseWorkerArgs(argv: string[]): WorkerArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      allow: { type: 'string' },
      threads: { type: 'string' },
    },
    strict: true,
  });
  const port = values.port === undefined ? DEFAULT_WORKER_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0–65535');
  const allow = (values.allow ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  try {
    allowList(allow);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    port,
    host: values.host ?? '127.0.0.1',
    allow,
    threads: positiveWholeNumber(values.threads, '--threads') ?? Math.max(1, os.availableParallelism()),
  };
}

export async function workerCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(WORKER_USAGE);
    return 0;
  }
  const args = parseWorkerArgs(argv);
  // the patched build: its addon carries the RPC bindings (the stock build is llama.cpp untouched)
  const { llama, notice } = await loadLlama('patched');
  if (notice) console.error(`sift worker: ${notice}`);
  const serving = await serveDevices(llama, args.threads, null);
  const log = (line: string) => console.error(`sift worker: ${line}`);
  const gate = await openWorkerGate({ host: args.host, port: args.port, targetPort: serving.port, allow: args.allow, log });
  const { port } = gate.address() as AddressInfo;
  const address = `${args.host}:${port}`;
  const who = args.allow.length ? `this machine and ${args.allow.join(', ')}` : 'this machine only';
  if (!isLoopbackHost(args.host)) {
    log(`listening on ${args.host}, beyond this machine: the RPC protocol has no authentication or encryption; keep it on a trusted network or use an SSH tunnel (docs/SCALE_OUT.md)`);
  }
  // the line a parent process (and a person) reads: where to point the engine
  console.log(`sift worker: serving ${serving.devices.join(', ')} at ${address} to ${who}; add ${address} under Settings → Workers, or run sift ask --workers ${address}`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  gate.close();
  // ggml's server thread loops for the life of the process: leaving is the way to stop it
  process.exit(0);
}
