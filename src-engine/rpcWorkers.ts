// Adds the `sift worker` processes a person listed as devices of this engine, through ggml's RPC
// backend. ggml aborts the whole process when a worker does not answer or speaks another protocol,
// so each one is greeted here first, in JavaScript, and only the ones that answer are handed to it.
import net from 'node:net';
import type { Llama } from 'node-llama-cpp';
import { rpcBindings } from './siftNative.js';
import { EngineError } from './engineError.js';
import { workerEndpoint, type WorkerAddress } from '../src-common/workerAddress.js';
import type { WorkerDevice } from '../src-common/engineTypes.js';

/** ggml-rpc's protocol (RPC_PROTO_MAJOR_VERSION in ggml-rpc.h): a worker of another major version cannot serve. */
export const RPC_PROTOCOL_MAJOR = 7;
const RPC_CMD_HELLO = 14;
const RPC_CONN_CAPS_SIZE = 24;
const HELLO_REPLY_SIZE = 4 + RPC_CONN_CAPS_SIZE;

/**
 * Greets a worker as ggml's client would (HELLO with no transport upgrade) and returns its protocol
 * version, or throws saying why it cannot serve: nothing listening, not a worker, another version.
 */
export function greetWorker(address: WorkerAddress, timeoutMs = 3000): Promise<string> {
  const endpoint = workerEndpoint(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port, family: 4 });
    let reply = Buffer.alloc(0);
    let outcome: { version: string } | { why: string } | null = null;
    const settle = (result: { version: string } | { why: string }) => {
      outcome ??= result;
      socket.end();
    };
    // settled once the connection is closed: a worker serves one client at a time, and ggml's
    // client connects (blocking this thread) right after the greeting
    socket.on('close', () => {
      const result = outcome ?? { why: 'closed the connection without answering (is this machine on its --allow list?)' };
      if ('version' in result) resolve(result.version);
      else reject(new Error(`worker ${endpoint} ${result.why}`));
    });
    socket.setTimeout(timeoutMs, () => {
      settle({ why: `did not answer within ${timeoutMs / 1000} s (a worker serves one engine at a time: is another one using it?)` });
      socket.destroy();
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      settle({ why: err.code === 'ECONNREFUSED' ? 'refused the connection (is `sift worker` running there?)' : `cannot be reached: ${err.message}` }),
    );
    socket.on('connect', () => {
      const hello = Buffer.alloc(1 + 8 + RPC_CONN_CAPS_SIZE);
      hello.writeUInt8(RPC_CMD_HELLO, 0);
      hello.writeBigUInt64LE(BigInt(RPC_CONN_CAPS_SIZE), 1);
      socket.write(hello);
    });
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length < 8 + HELLO_REPLY_SIZE || outcome) return;
      if (reply.readBigUInt64LE(0) !== BigInt(HELLO_REPLY_SIZE)) return settle({ why: 'answered, but not as a llama.cpp RPC worker' });
      const [major, minor, patch] = [reply[8], reply[9], reply[10]];
      if (major !== RPC_PROTOCOL_MAJOR) {
        return settle({ why: `speaks RPC protocol ${major}.${minor}.${patch}; this engine speaks ${RPC_PROTOCOL_MAJOR}.x (run the same Sift version on both machines)` });
      }
      settle({ version: `${major}.${minor}.${patch}` });
    });
  });
}

export interface AddedWorkers {
  devices: WorkerDevice[];
  /** One line per worker left out, saying why. */
  skipped: string[];
}

/**
 * Registers each worker that answers as devices for the models loaded after this call; the ones
 * that do not are left out and said so. Registration lasts for the process: a worker removed from
 * the list needs a new engine process.
 */
export async function addWorkers(llama: Llama, addresses: readonly WorkerAddress[]): Promise<AddedWorkers> {
  const rpc = rpcBindings(llama);
  if (!rpc) throw new EngineError('INTERNAL', 'this engine build has no RPC backend: rebuild it with `npm run setup` to use workers');
  const devices: WorkerDevice[] = [];
  const skipped: string[] = [];
  for (const address of addresses) {
    const endpoint = workerEndpoint(address);
    try {
      await greetWorker(address);
    } catch (err) {
      skipped.push(`${(err as Error).message}; running without it`);
      continue;
    }
    for (const device of rpc.siftRpcAddWorker(endpoint)) {
      devices.push({ name: device.name, endpoint, freeBytes: device.free, totalBytes: device.total });
    }
  }
  return { devices, skipped };
}
