// The address of a `sift worker` as a person types it ("host:port"): one definition for the CLI's
// --workers, the settings panel and the engine, so each refuses the same things in the same words.

/** ggml-rpc's limit on the servers one process adds (GGML_RPC_MAX_SERVERS in ggml-rpc.h). */
export const GGML_RPC_MAX_SERVERS = 16;

export interface WorkerAddress {
  host: string;
  port: number;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * `host:port`, or an error saying what is wrong. ggml's RPC transport speaks IPv4 only (it
 * resolves names with gethostbyname), so an IPv6 address is refused here rather than there.
 */
export function parseWorkerAddress(text: string): WorkerAddress {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || (trimmed.match(/:/g) ?? []).length > 1) {
    throw new Error(`"${text}": workers are reached over IPv4 only (llama.cpp's RPC transport); use an IPv4 address or host name`);
  }
  const match = /^([^:\s]+):(\d+)$/.exec(trimmed);
  if (!match) throw new Error(`"${text}" is not a worker address: write host:port, e.g. 192.168.1.20:50052`);
  const host = match[1] as string;
  const port = Number(match[2]);
  if (!IPV4.test(host) && !HOST_NAME.test(host)) throw new Error(`"${host}" is not a host name or IPv4 address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port ${match[2]} is outside 1–65535`);
  return { host, port };
}

/** How ggml's RPC client spells an endpoint. */
export function workerEndpoint(address: WorkerAddress): string {
  return `${address.host}:${address.port}`;
}

/** The addresses in a comma-separated list (the CLI's --workers), each checked, duplicates refused. */
export function parseWorkerList(text: string): WorkerAddress[] {
  const addresses = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map(parseWorkerAddress);
  const seen = new Set<string>();
  for (const address of addresses) {
    const key = workerEndpoint(address);
    if (seen.has(key)) throw new Error(`worker ${key} is listed twice`);
    seen.add(key);
  }
  return addresses;
}

/** True for addresses that only this machine can reach (what a worker binds to unless told). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1';
}
