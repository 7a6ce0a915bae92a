// The serving end of a `sift worker`: this process's devices behind ggml's RPC server, started on
// a loopback port of its own. The server has no notion of who may connect, so it is never exposed
// directly; src-main/worker/workerGate.ts stands in front of it.
import net from 'node:net';
import type { Llama } from 'node-llama-cpp';
import { rpcBindings } from './siftNative.js';
import { EngineError } from './engineError.js';

export interface ServingDevices {
  /** The loopback port the RPC server listens on. */
  port: number;
  /** What it serves: ggml device names ("CPU", "Vulkan0", …). */
  devices: string[];
}

/** A port nobody listens on now (the server binds it a moment later). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts connections on the port (the native server binds on its own thread). */
async function waitForListener(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new EngineError('INTERNAL', `the RPC server did not start listening on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts ggml's RPC server for this process's devices on 127.0.0.1 and returns once it listens. */
export async function serveDevices(llama: Llama, threads: number, cacheDir: string | null): Promise<ServingDevices> {
  const rpc = rpcBindings(llama);
  if (!rpc) throw new EngineError('INTERNAL', 'this build cannot serve as a worker: the patched build can (rebuild it with `npm run setup` if it predates workers)');
  const port = await freeLoopbackPort();
  const { devices } = rpc.siftRpcServe(`127.0.0.1:${port}`, threads, cacheDir ?? '');
  await waitForListener(port, 10_000);
  return { port, devices };
}
