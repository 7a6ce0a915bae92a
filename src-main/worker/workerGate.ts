// The door of a `sift worker`: listens where the person asked (loopback unless told otherwise) and
// passes a connection through to the RPC server only when the client's address is on the allow
// list. ggml's RPC server trusts whoever connects (llama.cpp's README calls it "fragile and
// insecure"), so nothing reaches it that the person did not name.
import net from 'node:net';

export interface GateOptions {
  host: string;
  port: number;
  /** The RPC server's loopback port (rpcServe.ts). */
  targetPort: number;
  /** Addresses (a.b.c.d) and subnets (a.b.c.d/n) allowed in, beside this machine's loopback. */
  allow: readonly string[];
  /** Whether this machine's loopback addresses get in without being listed (default: they do). */
  allowLoopback?: boolean;
  /** One line per connection let in or refused, for the worker's log. */
  log: (line: string) => void;
}

/** Parses `--allow` entries into a BlockList (used here as a pass list), loopback included unless told. */
export function allowList(entries: readonly string[], allowLoopback = true): net.BlockList {
  const list = new net.BlockList();
  if (allowLoopback) {
    list.addSubnet('127.0.0.0', 8, 'ipv4');
    list.addAddress('::1', 'ipv6');
  }
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    if (!address || net.isIPv4(address) === false) throw new Error(`--allow takes IPv4 addresses or subnets (a.b.c.d or a.b.c.d/n), not "${entry}"`);
    if (bits === undefined) {
      list.addAddress(address, 'ipv4');
    } else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`"${entry}": the subnet's prefix must be 0–32`);
      list.addSubnet(address, prefix, 'ipv4');
    }
  }
  return list;
}

/** The client's IPv4 address as the list knows it (an IPv4-mapped IPv6 address unwrapped). */
function clientAddress(socket: net.Socket): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const raw = socket.remoteAddress;
  if (!raw) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  if (mapped) return { address: mapped[1] as string, family: 'ipv4' };
  return { address: raw, family: net.isIPv6(raw) ? 'ipv6' : 'ipv4' };
}

/** Starts the gate; resolves with the listening server once it listens. */
export function openWorkerGate(options: GateOptions): Promise<net.Server> {
  const allowed = allowList(options.allow, options.allowLoopback ?? true);
  const server = net.createServer((client) => {
    const from = clientAddress(client);
    if (!from || !allowed.check(from.address, from.family)) {
      options.log(`refused ${client.remoteAddress ?? 'a client'}: not on the allow list (--allow)`);
      client.destroy();
      return;
    }
    options.log(`client ${from.address} connected`);
    const upstream = net.connect({ host: '127.0.0.1', port: options.targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => {
      upstream.destroy();
      options.log(`client ${from.address} disconnected`);
    });
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
