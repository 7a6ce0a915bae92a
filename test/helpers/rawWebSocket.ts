// A hand-rolled WebSocket client over a raw TCP socket, for sending what no well-behaved client
// library would: refused upgrades that are reset, and frames that break RFC 6455 on purpose.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export interface FrameParts {
  /** The first byte: FIN, RSV1-3 and the opcode. */
  head: number;
  payload: Buffer;
  masked?: boolean;
  /** A length to claim in the header instead of the payload's own. */
  claimedLength?: number;
}

/** Encodes one frame; the claimed length may differ from the bytes that follow. */
export function encodeFrame({ head, payload, masked = true, claimedLength = payload.length }: FrameParts): Buffer {
  let header: Buffer;
  if (claimedLength < 126) {
    header = Buffer.from([head, claimedLength]);
  } else if (claimedLength < 65536) {
    header = Buffer.alloc(4);
    header[0] = head;
    header[1] = 126;
    header.writeUInt16BE(claimedLength, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = head;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(claimedLength), 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  header[1] = (header[1] ?? 0) | 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([header, mask, body]);
}

/** The code of the close frame among the server's (unmasked) frames, if one arrived whole. */
function closeCode(frames: Buffer): number | null {
  let at = 0;
  while (at + 2 <= frames.length) {
    const opcode = (frames[at] ?? 0) & 0x0f;
    let length = (frames[at + 1] ?? 0) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > frames.length) return null;
      length = frames.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > frames.length) return null;
      length = Number(frames.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > frames.length) return null;
    if (opcode === 0x8) return length >= 2 ? frames.readUInt16BE(start) : null;
    at = start + length;
  }
  return null;
}

function upgradeRequest(port: number, token: string): string {
  return [
    `GET /api?token=${encodeURIComponent(token)} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
}

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Asks for an upgrade (with a token the server refuses) and resets the connection: at once, or after the reply. */
export async function resetAfterUpgrade(port: number, token: string, when: 'at-once' | 'after-reply'): Promise<void> {
  const socket = await openSocket(port);
  socket.on('error', () => undefined);
  socket.write(upgradeRequest(port, token));
  if (when === 'after-reply') await new Promise((resolve) => socket.once('data', resolve));
  socket.resetAndDestroy();
}

/**
 * Opens an accepted WebSocket by hand, writes `frame` and waits for the server to close the
 * connection. Resolves with the close code the server sent (null if it closed without one).
 */
export async function sendRawFrame(port: number, token: string, frame: Buffer): Promise<number | null> {
  const socket = await openSocket(port);
  socket.on('error', () => undefined);
  let received = Buffer.alloc(0);
  let upgraded = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server neither closed the connection nor answered in 10 s'));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (upgraded) return;
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = received.subarray(0, end).toString().split('\r\n')[0] ?? '';
      if (!status.includes(' 101 ')) {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`upgrade refused: ${status}`));
        return;
      }
      upgraded = true;
      received = received.subarray(end + 4);
      socket.write(frame);
    });
    // The server closes with a close frame and waits for ours; answering it is the client's part.
    socket.on('data', () => {
      const code = upgraded ? closeCode(received) : null;
      if (code === null) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(code);
    });
    socket.write(upgradeRequest(port, token));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(closeCode(received));
    });
  });
}
