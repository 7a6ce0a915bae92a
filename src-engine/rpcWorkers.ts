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
// command numbers and message sizes from ggml-rpc.cpp (enum rpc_cmd, the rpc_msg_* structs)
const RPC_CMD_GET_DEVICE_MEMORY = 11;
const RPC_CMD_HELLO = 14;
const RPC_CMD_DEVICE_COUNT = 15;
const RPC_CONN_CAPS_SIZE = 24;

/** What a worker says of itself before any model is split onto it. */
export interface WorkerReport {
  version: string;
  /** Each device it serves, as its own ggml reports it. */
  devices: Array<{ freeBytes: number; totalBytes: number }>;
}

/** One connection speaking ggml-rpc's framing: | cmd (1) | size (8) | data | → | size (8) | data |. */
class RpcConnection {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private closed: Error | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed ??= new Error('closed the connection without answering (is this machine on its --allow list?)');
      this.waiting?.();
    });
  }

  fail(error: Error): void {
    this.closed ??= error;
    this.waiting?.();
  }

  async call(cmd: number, input: Buffer, replySize: number): Promise<Buffer> {
    const header = Buffer.alloc(9);
    header.writeUInt8(cmd, 0);
    header.writeBigUInt64LE(BigInt(input.length), 1);
    this.socket.write(Buffer.concat([header, input]));
    const reply = await this.read(8 + replySize);
    if (reply.readBigUInt64LE(0) !== BigInt(replySize)) throw new Error('answered, but not as a llama.cpp RPC worker');
    return reply.subarray(8);
  }

  private async read(bytes: number): Promise<Buffer> {
    while (this.buffered.length < bytes) {
      // a short reply and a closed connection: something else listens on that port
      if (this.closed) throw this.buffered.length > 0 ? new Error('answered, but not as a llama.cpp RPC worker') : this.closed;
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = null;
    }
    const out = this.buffered.subarray(0, bytes);
    this.buffered = this.buffered.subarray(bytes);
    return out;
  }
}

/**
 * Greets a worker as ggml's client would (HELLO with no transport upgrade) and asks what it serves,
 * or throws saying why it cannot serve: nothing listening, not a worker, another protocol version,
 * busy with another engine. Settles only once the connection is closed: a worker serves one client
 * at a time, and ggml's own client connects (blocking this thread) right after.
 */
export async function inspectWorker(address: WorkerAddress, timeoutMs = 3000): Promise<WorkerReport> {
  const endpoint = workerEndpoint(address);
  const socket = net.connect({ host: address.host, port: address.port, family: 4 });
  const connection = new RpcConnection(socket);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.setTimeout(timeoutMs, () => {
    connection.fail(new Error(`did not answer within ${timeoutMs / 1000} s (a worker serves one engine at a time: is another one using it?)`));
    socket.destroy();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    connection.fail(new Error(err.code === 'ECONNREFUSED' ? 'refused the connection (is `sift worker` running there?)' : `cannot be reached: ${err.message}`));
  });
  try {
    // written before the socket connects, Node holds it until it does (or fails: call() says why)
    const hello = await connection.call(RPC_CMD_HELLO, Buffer.alloc(RPC_CONN_CAPS_SIZE), 4 + RPC_CONN_CAPS_SIZE);
    const [major, minor, patch] = [hello[0], hello[1], hello[2]];
    if (major !== RPC_PROTOCOL_MAJOR) {
      throw new Error(`speaks RPC protocol ${major}.${minor}.${patch}; this engine speaks ${RPC_PROTOCOL_MAJOR}.x (run the same Sift version on both machines)`);
    }
    const count = (await connection.call(RPC_CMD_DEVICE_COUNT, Buffer.alloc(0), 4)).readUInt32LE(0);
    const devices: WorkerReport['devices'] = [];
    for (let device = 0; device < count; device++) {
      const request = Buffer.alloc(4);
      request.writeUInt32LE(device, 0);
      const memory = await connection.call(RPC_CMD_GET_DEVICE_MEMORY, request, 16);
      devices.push({ freeBytes: Number(memory.readBigUInt64LE(0)), totalBytes: Number(memory.readBigUInt64LE(8)) });
    }
    return { version: `${major}.${minor}.${patch}`, devices };
  } catch (err) {
    throw new Error(`worker ${endpoint} ${(err as Error).message}`, { cause: err });
  } finally {
    socket.end();
    await closed;
  }
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
  if (!rpc) throw new EngineError('INTERNAL', 'this engine build cannot add workers: the patched build can (rebuild it with `npm run setup` if it predates workers)');
  const devices: WorkerDevice[] = [];
  const skipped: string[] = [];
  for (const address of addresses) {
    const endpoint = workerEndpoint(address);
    try {
      await inspectWorker(address);
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
