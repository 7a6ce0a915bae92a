// A WebSocket client of `sift serve` for load scripts: the renderer's transport (the same frames,
// token and dispatcher), typed by the api contract, with pushed events handed to listeners.
import WebSocket from 'ws';
import type { ApiChannel, ApiErrorCode, ApiInput, ApiOutput, AppEvent } from '../../src-common/contract.js';
import { WS_PATH, type ServerFrame } from '../../src-common/wsProtocol.js';

export class ApiCallError extends Error {
  constructor(
    readonly channel: string,
    readonly code: ApiErrorCode | 'TIMEOUT' | 'CLOSED',
    message: string,
  ) {
    super(`${channel}: ${code}: ${message}`);
  }
}

export interface ServeClient {
  call<C extends ApiChannel>(channel: C, payload: ApiInput<C>): Promise<ApiOutput<C>>;
  /** Bytes of the last result frame received, for reporting how much a call carried. */
  lastResultBytes(): number;
  onEvent(listener: (event: AppEvent) => void): () => void;
  close(): void;
}

export async function connectServe(origin: string, token: string, callTimeoutMs = 60_000): Promise<ServeClient> {
  const url = new URL(origin);
  const ws = new WebSocket(`ws://${url.host}${WS_PATH}?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waiting = new Map<number, { resolve(frame: ServerFrame): void; reject(error: Error): void }>();
  const listeners = new Set<(event: AppEvent) => void>();
  let resultBytes = 0;
  ws.on('message', (data: WebSocket.RawData) => {
    const text = String(data);
    const frame = JSON.parse(text) as ServerFrame;
    if (frame.kind === 'event') {
      for (const listener of listeners) listener(frame.event);
    } else {
      resultBytes = Buffer.byteLength(text);
      waiting.get(frame.id)?.resolve(frame);
    }
  });
  ws.on('close', () => {
    for (const [, pending] of waiting) pending.reject(new ApiCallError('connection', 'CLOSED', 'the server closed the connection'));
    waiting.clear();
  });
  let nextId = 1;

  return {
    call(channel, payload) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new ApiCallError(channel, 'TIMEOUT', `no answer in ${callTimeoutMs} ms`));
        }, callTimeoutMs);
        waiting.set(id, {
          resolve: (frame) => {
            clearTimeout(timer);
            waiting.delete(id);
            if (frame.kind !== 'result') return;
            if (frame.ok) resolve(frame.value as ApiOutput<typeof channel>);
            else reject(new ApiCallError(channel, frame.error.code, frame.error.message));
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        ws.send(JSON.stringify({ kind: 'call', id, channel, payload }));
      });
    },
    lastResultBytes: () => resultBytes,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => ws.close(),
  };
}
