// Electron IPC transport: one invoke channel into the shared dispatcher (which validates every
// payload with the contract's schemas) and one event channel out to the window.
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { EVENT_CHANNEL, INVOKE_CHANNEL } from '../../src-common/contract.js';
import type { Dispatch, DispatchResult } from '../api/dispatcher.js';
import type { EventBus } from '../api/eventBus.js';

/** Only the app's own page may call in; an unexpected frame (e.g. injected content) is refused. */
export function isTrustedSender(event: IpcMainInvokeEvent, expected: () => WebContents | null): boolean {
  const contents = expected();
  if (!contents || event.sender !== contents) return false;
  const url = event.senderFrame?.url ?? '';
  return url.startsWith('file://') || url.startsWith('http://localhost:') || url.startsWith('http://127.0.0.1:');
}

export function registerIpc(ipcMain: Pick<IpcMain, 'handle'>, dispatch: Dispatch, events: EventBus, window: () => WebContents | null): () => void {
  ipcMain.handle(INVOKE_CHANNEL, (event, channel: unknown, payload: unknown): Promise<DispatchResult> => {
    if (!isTrustedSender(event, window)) {
      return Promise.resolve({ ok: false, error: { code: 'INVALID_REQUEST', message: 'Call refused: unknown sender.' } });
    }
    return dispatch(channel, payload);
  });
  return events.subscribe((appEvent) => {
    const contents = window();
    if (contents && !contents.isDestroyed()) contents.send(EVENT_CHANNEL, appEvent);
  });
}
