// The loopback serve transport: one HTTP server on 127.0.0.1 that serves the renderer and a
// WebSocket endpoint carrying the api contract. A call needs the session token, a Host of
// 127.0.0.1/localhost (against DNS rebinding) and, from a browser, an Origin of this server.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Dispatch } from './dispatcher.js';
import type { EventBus } from './eventBus.js';
import { serveCsp, serveStatic } from './staticFiles.js';
import { WS_PATH, type ClientFrame, type ServerFrame } from '../../src-common/wsProtocol.js';

export const LOOPBACK_HOST = '127.0.0.1';
/** Room for the largest document the contract accepts (48 MiB as base64) and its JSON frame. */
export const DEFAULT_MAX_FRAME_BYTES = 72 * 1024 * 1024;

export interface WsServerOptions {
  port: number;
  token: string;
  rendererDir: string;
  dispatch: Dispatch;
  events: EventBus;
  /** Frames (and messages) longer than this are refused with close code 1009. */
  maxFrameBytes?: number;
  /** Where a refused or broken connection is reported; serve logs nothing by default. */
  onConnectionError?: (error: Error) => void;
}

export interface RunningServer {
  port: number;
  /** The address to open, token included. */
  url: string;
  close(): Promise<void>;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isAllowedHost(host: string | undefined, port: number): boolean {
  return host === `${LOOPBACK_HOST}:${port}` || host === `localhost:${port}`;
}

export function isAllowedOrigin(origin: string | undefined, port: number): boolean {
  // Non-browser clients (tests, scripts) send no Origin; browsers always do.
  if (origin === undefined) return true;
  return origin === `http://${LOOPBACK_HOST}:${port}` || origin === `http://localhost:${port}`;
}

type IncomingCall = { id: number; channel: unknown; payload: unknown };

/**
 * A call frame with an id to answer. Its channel stays unchecked here: the dispatcher refuses an
 * unknown one with an error the caller receives, rather than a call left waiting forever.
 */
function parseFrame(data: unknown): IncomingCall | null {
  try {
    const frame = JSON.parse(String(data)) as Partial<Record<keyof ClientFrame, unknown>> | null;
    if (frame?.kind === 'call' && typeof frame.id === 'number') {
      return { id: frame.id, channel: frame.channel, payload: frame.payload };
    }
  } catch {
    // fall through
  }
  return null;
}

export async function startWsServer(options: WsServerOptions): Promise<RunningServer> {
  const rendererDir = path.resolve(options.rendererDir);
  let port = options.port;
  const http = createServer((request, response) => {
    if (!isAllowedHost(request.headers.host, port)) {
      response.writeHead(421).end('Misdirected request');
      return;
    }
    serveStatic(rendererDir, request, response, serveCsp(port)).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
  const reportError = (error: Error) => options.onConnectionError?.(error);

  http.on('upgrade', (request: IncomingMessage, socket, head) => {
    // A client may reset the connection at any moment, before or after the refusal is written; an
    // unhandled 'error' on this socket would end the whole process.
    socket.on('error', (error) => {
      reportError(error);
      socket.destroy();
    });
    const url = new URL(request.url ?? '/', `http://${LOOPBACK_HOST}`);
    const allowed =
      url.pathname === WS_PATH &&
      isAllowedHost(request.headers.host, port) &&
      isAllowedOrigin(request.headers.origin, port) &&
      sameSecret(url.searchParams.get('token') ?? '', options.token);
    if (!allowed) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => attach(ws));
  });

  const attach = (ws: WebSocket) => {
    const send = (frame: ServerFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const unsubscribe = options.events.subscribe((event) => send({ kind: 'event', event }));
    ws.on('close', unsubscribe);
    // ws reports a malformed or oversized frame as an 'error' and then closes the connection with
    // the matching code (1002, 1007, 1009); without a listener that error would end the process.
    ws.on('error', reportError);
    ws.on('message', (data) => {
      const frame = parseFrame(data);
      if (!frame) return;
      void options.dispatch(frame.channel, frame.payload).then((result) => send({ kind: 'result', id: frame.id, ...result }));
    });
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, LOOPBACK_HOST, () => resolve());
  });
  port = (http.address() as AddressInfo).port;

  return {
    port,
    url: `http://${LOOPBACK_HOST}:${port}/#token=${encodeURIComponent(options.token)}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
