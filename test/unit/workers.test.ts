// What a person types for workers, and the door a worker keeps: addresses parsed and refused in
// the CLI's and the settings' words, the allow list enforced on real sockets, and the layer split.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopbackHost, parseWorkerAddress, parseWorkerList } from '../../src-common/workerAddress.js';
import { requestSchemas } from '../../src-common/schemas.js';
import { allowList, openWorkerGate } from '../../src-main/worker/workerGate.js';
import { parseWorkerArgs } from '../../src-main/cli/worker.js';
import { parseAskArgs } from '../../src-main/cli/ask.js';
import { bytesPerPlace, splitAcrossWorkers } from '../../src-engine/workerSplit.js';
import { inspectWorker } from '../../src-engine/rpcWorkers.js';
import type { WorkerDevice } from '../../src-common/engineTypes.js';

describe('worker addresses', () => {
  it('parses host:port with an IPv4 address or a host name', () => {
    expect(parseWorkerAddress('192.168.1.20:50052')).toEqual({ host: '192.168.1.20', port: 50052 });
    expect(parseWorkerAddress(' gpu-box.local:6000 ')).toEqual({ host: 'gpu-box.local', port: 6000 });
  });

  it('refuses what ggml could not reach, in words', () => {
    expect(() => parseWorkerAddress('192.168.1.20')).toThrow(/write host:port/);
    expect(() => parseWorkerAddress('[::1]:50052')).toThrow(/IPv4 only/);
    expect(() => parseWorkerAddress('fe80::1:50052')).toThrow(/IPv4 only/);
    expect(() => parseWorkerAddress('host:0')).toThrow(/outside 1–65535/);
    expect(() => parseWorkerAddress('host:70000')).toThrow(/outside 1–65535/);
    expect(() => parseWorkerAddress('bad_host!:80')).toThrow(/not a host name/);
    expect(() => parseWorkerList('10.0.0.2:50052, 10.0.0.2:50052')).toThrow(/listed twice/);
    expect(parseWorkerList('')).toEqual([]);
  });

  it('checks the settings payload and the CLI flag with the same rule', () => {
    const schema = requestSchemas['models.setWorkers'];
    expect(schema.safeParse({ workers: ['10.0.0.2:50052', '10.0.0.3:50052'] }).success).toBe(true);
    expect(schema.safeParse({ workers: ['10.0.0.2'] }).success).toBe(false);
    expect(schema.safeParse({ workers: Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}:1`) }).success).toBe(false);
    expect(parseAskArgs(['--model', 'm.gguf', '--workers', '10.0.0.2:50052', 'q']).workers).toEqual([{ host: '10.0.0.2', port: 50052 }]);
    expect(() => parseAskArgs(['--model', 'm.gguf', '--workers', '10.0.0.2', 'q'])).toThrow(/--workers: .*write host:port/);
  });

  it('knows loopback from the network', () => {
    expect(['127.0.0.1', '127.8.0.1', 'localhost', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '192.168.1.2', 'gpu-box'].some(isLoopbackHost)).toBe(false);
  });
});

describe('sift worker options', () => {
  it('listens on loopback by default, with loopback the only clients', () => {
    expect(parseWorkerArgs([])).toMatchObject({ host: '127.0.0.1', port: 50052, allow: [] });
    expect(parseWorkerArgs(['--host', '0.0.0.0', '--allow', '192.168.1.5, 10.0.0.0/24', '--port', '0'])).toMatchObject({ host: '0.0.0.0', port: 0, allow: ['192.168.1.5', '10.0.0.0/24'] });
  });

  it('refuses an allow list it could not enforce', () => {
    expect(() => parseWorkerArgs(['--allow', 'everyone'])).toThrow(/IPv4 addresses or subnets/);
    expect(() => parseWorkerArgs(['--allow', '10.0.0.0/40'])).toThrow(/prefix must be 0–32/);
    expect(() => parseWorkerArgs(['--port', '-1'])).toThrow(/--port/);
  });

  it('lets in listed addresses and subnets, and loopback unless told not to', () => {
    const list = allowList(['192.168.1.5', '10.0.0.0/24']);
    expect(list.check('192.168.1.5', 'ipv4')).toBe(true);
    expect(list.check('10.0.0.77', 'ipv4')).toBe(true);
    expect(list.check('10.0.1.1', 'ipv4')).toBe(false);
    expect(list.check('127.0.0.1', 'ipv4')).toBe(true);
    expect(allowList([], false).check('127.0.0.1', 'ipv4')).toBe(false);
  });
});

describe('the worker gate on real sockets', () => {
  const closers: Array<() => void> = [];
  afterEach(() => closers.splice(0).forEach((close) => close()));

  /** An upstream that echoes, standing in for the RPC server behind the gate. */
  async function echoServer(): Promise<number> {
    const server = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    return (server.address() as net.AddressInfo).port;
  }

  /** Sends a line from `localAddress` and returns what comes back before the gate closes the connection. */
  function exchange(port: number, localAddress: string): Promise<string> {
    return new Promise((resolve) => {
      let received = '';
      const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => socket.write('ping'));
      socket.on('data', (chunk) => {
        received += chunk.toString();
        socket.end();
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(received));
    });
  }

  it('passes an allowed client through and drops one not on the list', async () => {
    const lines: string[] = [];
    const gate = await openWorkerGate({ host: '127.0.0.1', port: 0, targetPort: await echoServer(), allow: ['127.0.0.2'], allowLoopback: false, log: (line) => lines.push(line) });
    closers.push(() => gate.close());
    const port = (gate.address() as net.AddressInfo).port;
    expect(await exchange(port, '127.0.0.2')).toBe('ping');
    expect(await exchange(port, '127.0.0.1')).toBe('');
    expect(lines).toContain('client 127.0.0.2 connected');
    expect(lines).toContain('refused 127.0.0.1: not on the allow list (--allow)');
  });
});

describe('the layer split across workers', () => {
  const device = (name: string, endpoint: string, freeGiB: number): WorkerDevice => ({ name, endpoint, freeBytes: freeGiB * 1024 ** 3, totalBytes: 32 * 1024 ** 3 });

  it('auto gives each machine layers in proportion to its free memory', () => {
    const split = splitAcrossWorkers(33, 'auto', [device('RPC0', '10.0.0.2:50052', 16), device('RPC1', '10.0.0.3:50052', 8)], 8 * 1024 ** 3);
    // 24 of 32 GiB free is on the workers: 3/4 of 33 layers
    expect(split.offloadedLayers).toBe(25);
    expect(split.why).toBe(
      "25 of 33 layers on 2 workers, in proportion to each machine's free memory: RPC0 at 10.0.0.2:50052 ~17 (16.0 GiB free), RPC1 at 10.0.0.3:50052 ~8 (8.0 GiB free), this machine 8 (8.0 GiB free)",
    );
  });

  it('shares whole layers out so they add up, and the bytes with them', () => {
    const split = splitAcrossWorkers(31, 'auto', [device('RPC0', 'a:1', 10), device('RPC1', 'b:1', 10)], 10 * 1024 ** 3);
    expect(split.layersPerDevice.reduce((a, b) => a + b, 0)).toBe(split.offloadedLayers);
    expect(split.localLayers + split.offloadedLayers).toBe(31);
    const places = bytesPerPlace(split, 31, { weights: 31_000, kv: 62_000 });
    expect(places.map((p) => p.layers)).toEqual([split.localLayers, ...split.layersPerDevice]);
    expect(places.reduce((sum, p) => sum + p.kvBytes, 0)).toBe(62_000);
  });

  it('a count asked for is kept, within the model', () => {
    expect(splitAcrossWorkers(31, 20, [device('RPC0', 'a:1', 4)], 4 * 1024 ** 3).offloadedLayers).toBe(20);
    expect(splitAcrossWorkers(31, 99, [device('RPC0', 'a:1', 4)], 4 * 1024 ** 3).offloadedLayers).toBe(31);
  });
});

describe('greeting a worker before ggml does', () => {
  const servers: net.Server[] = [];
  afterEach(() => servers.splice(0).forEach((server) => server.close()));

  async function fakeWorker(onConnection: (socket: net.Socket) => void): Promise<number> {
    const server = net.createServer(onConnection);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  it('says when something else answers on the port', async () => {
    const port = await fakeWorker((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await expect(inspectWorker({ host: '127.0.0.1', port })).rejects.toThrow(`worker 127.0.0.1:${port} answered, but not as a llama.cpp RPC worker`);
  });

  it('says when a worker of another protocol version answers', async () => {
    const port = await fakeWorker((socket) =>
      socket.once('data', () => {
        const reply = Buffer.alloc(8 + 28);
        reply.writeBigUInt64LE(28n, 0);
        reply.writeUInt8(6, 8);
        socket.write(reply);
      }),
    );
    await expect(inspectWorker({ host: '127.0.0.1', port })).rejects.toThrow(/speaks RPC protocol 6\.0\.0; this engine speaks 7\.x/);
  });

  it('gives up on a worker that never answers (one busy with another engine)', async () => {
    const port = await fakeWorker(() => {});
    await expect(inspectWorker({ host: '127.0.0.1', port }, 300)).rejects.toThrow(/did not answer within 0\.3 s \(a worker serves one engine at a time/);
  });
});
