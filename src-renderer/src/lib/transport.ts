// The renderer's one way to the back end. Under Electron the preload exposes window.siftBridge;
// in a browser (serve mode) the same calls go over the loopback WebSocket. Components never know
// which one they use.
import type { ApiChannel, ApiErrorShape, ApiInput, ApiOutput, AppEvent, SiftApi, SiftBridge } from '../../../src-common/contract.js';
import type { ClientFrame, ServerFrame } from '../../../src-common/wsProtocol.js';

export class ApiCallError extends Error {
  constructor(readonly code: ApiErrorShape['code'], message: string) {
    super(message);
    this.name = 'ApiCallError';
  }
}

type Listener = (event: AppEvent) => void;

/**
 * 'refused': the page has no token, or several connections in a row closed before opening (a
 * browser hides the 403: a wrong token and a stopped server look the same from here).
 */
export type ConnectionState = 'connected' | 'reconnecting' | 'no-token' | 'refused';

/** Connections that close before opening, in a row, before the page says it is refused. */
const REFUSALS_BEFORE_TELLING = 3;

function bridgeApi(bridge: SiftBridge): SiftApi {
  return {
    async call<C extends ApiChannel>(channel: C, payload: ApiInput<C>): Promise<ApiOutput<C>> {
      const result = await bridge.invoke(channel, payload);
      if (!result.ok) throw new ApiCallError(result.error.code, result.error.message);
      return result.value as ApiOutput<C>;
    },
    onEvent: (listener) => bridge.onEvent(listener),
  };
}

/** Reconnects after a dropped connection; calls made while offline wait for the socket. */
function webSocketApi(url: string, onConnection: (state: ConnectionState) => void): SiftApi {
  const listeners = new Set<Listener>();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let socket: WebSocket;
  let opened: Promise<void>;

  let closedBeforeOpening = 0;
  let resolveOpened: () => void = () => {};
  opened = new Promise((resolve) => (resolveOpened = resolve));

  const connect = () => {
    socket = new WebSocket(url);
    let open = false;
    socket.addEventListener('open', () => {
      open = true;
      closedBeforeOpening = 0;
      resolveOpened();
      onConnection('connected');
    });
    socket.addEventListener('message', (message) => {
      const frame = JSON.parse(String(message.data)) as ServerFrame;
      if (frame.kind === 'event') {
        for (const listener of listeners) listener(frame.event);
        return;
      }
      const call = pending.get(frame.id);
      if (!call) return;
      pending.delete(frame.id);
      if (frame.ok) call.resolve(frame.value);
      else call.reject(new ApiCallError(frame.error.code, frame.error.message));
    });
    socket.addEventListener('close', () => {
      if (open) opened = new Promise((resolve) => (resolveOpened = resolve));
      else closedBeforeOpening++;
      onConnection(closedBeforeOpening >= REFUSALS_BEFORE_TELLING ? 'refused' : 'reconnecting');
      for (const call of pending.values()) call.reject(new ApiCallError('INTERNAL', 'Lost the connection to Sift.'));
      pending.clear();
      setTimeout(connect, 1000);
    });
  };
  connect();

  return {
    async call<C extends ApiChannel>(channel: C, payload: ApiInput<C>): Promise<ApiOutput<C>> {
      await opened;
      const id = nextId++;
      const frame: ClientFrame = { kind: 'call', id, channel, payload };
      return new Promise<ApiOutput<C>>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        socket.send(JSON.stringify(frame));
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function serveToken(): string {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) sessionStorage.setItem('sift-token', fromHash);
  return fromHash ?? sessionStorage.getItem('sift-token') ?? '';
}

/** Calls that can never be answered: a served page opened without its token. */
function unconnectedApi(): SiftApi {
  return {
    call: () => new Promise(() => {}),
    onEvent: () => () => {},
  };
}

export function connectApi(onConnection: (state: ConnectionState) => void): SiftApi {
  const bridge = (window as unknown as { siftBridge?: SiftBridge }).siftBridge;
  if (bridge) {
    onConnection('connected');
    return bridgeApi(bridge);
  }
  const token = serveToken();
  if (!token) {
    onConnection('no-token');
    return unconnectedApi();
  }
  return webSocketApi(`ws://${location.host}/api?token=${encodeURIComponent(token)}`, onConnection);
}

/** A dropped file's path on disk, where the shell can tell (Electron); null in a browser. */
export function pathForFile(file: File): string | null {
  const bridge = (window as unknown as { siftBridge?: SiftBridge }).siftBridge;
  return bridge ? bridge.pathForFile(file) : null;
}
