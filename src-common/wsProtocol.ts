// Frames of the loopback WebSocket transport. The renderer's client and the serve server share
// these types; the payloads inside are the api contract's.
import type { ApiErrorShape, AppEvent } from './contract.js';

export type ClientFrame = { kind: 'call'; id: number; channel: string; payload: unknown };

export type ServerFrame =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: ApiErrorShape }
  | { kind: 'event'; event: AppEvent };

/** Path of the WebSocket endpoint; the token travels as ?token=. */
export const WS_PATH = '/api';
