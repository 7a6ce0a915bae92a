// Fan-out of back-end events to every connected renderer (one Electron window, or any number of
// browser tabs in serve mode).
import type { AppEvent } from '../../src-common/contract.js';

export type EventListener = (event: AppEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: AppEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        // one broken connection must not starve the others
        console.error('sift: event listener failed', error);
      }
    }
  }
}
