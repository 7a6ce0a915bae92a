// The `sift worker` addresses the person listed in settings, kept in the store so the engine adds
// them each time it starts. Only addresses the person typed are ever contacted.
import { z } from 'zod';
import { parseWorkerAddress, workerEndpoint, type WorkerAddress } from '../../src-common/workerAddress.js';
import { WorkerList } from '../../src-common/schemas.js';
import type { SettingsRepository } from '../store/settings.js';

const KEY = 'engine.workers';
/** A list written by another version, or by hand, that no longer parses reads as none. */
const Stored = z.array(z.string()).pipe(WorkerList);

export class WorkerListStore {
  constructor(private readonly settings: SettingsRepository) {}

  /** As typed and stored: host:port each. */
  get(): string[] {
    return this.settings.get(KEY, [], Stored);
  }

  addresses(): WorkerAddress[] {
    return this.get().map(parseWorkerAddress);
  }

  /** The caller has validated the list with WorkerList. */
  set(workers: readonly string[]): string[] {
    const normalised = workers.map((worker) => workerEndpoint(parseWorkerAddress(worker)));
    this.settings.set(KEY, normalised);
    return normalised;
  }
}
