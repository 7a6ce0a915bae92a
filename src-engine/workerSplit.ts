// How many of a model's layers go to the workers. llama.cpp splits the offloaded layers across its
// GPU devices (the workers, on a CPU build) in proportion to their free memory and keeps the rest
// on this machine's CPU; `auto` extends that rule to this machine, so each machine holds a share of
// the layers (and their KV) in proportion to the memory it has free.
import type { WorkerDevice, WorkerSplit } from '../src-common/engineTypes.js';
import { formatBytes } from '../src-common/format.js';

/**
 * The layers a CPU build offloads to its workers: the count asked for, or under auto the share of
 * the free memory the workers hold, of every machine's free memory (this one's included).
 */
export function splitAcrossWorkers(totalLayers: number, requested: number | 'auto', devices: readonly WorkerDevice[], localFreeBytes: number): WorkerSplit {
  const workersFree = devices.reduce((sum, device) => sum + device.freeBytes, 0);
  const shareOf = (device: WorkerDevice) => (workersFree > 0 ? device.freeBytes / workersFree : 1 / devices.length);
  const offloadedLayers =
    requested === 'auto'
      ? Math.round((totalLayers * workersFree) / Math.max(1, workersFree + localFreeBytes))
      : Math.max(0, Math.min(totalLayers, requested));
  const perDevice = devices.map((device) => `${device.name} at ${device.endpoint} ~${Math.round(offloadedLayers * shareOf(device))} (${formatBytes(device.freeBytes)} free)`);
  const local = `this machine ${totalLayers - offloadedLayers} (${formatBytes(localFreeBytes)} free)`;
  const rule = requested === 'auto' ? 'in proportion to each machine\'s free memory' : `${requested} asked for`;
  return {
    offloadedLayers,
    devices: [...devices],
    why: `${offloadedLayers} of ${totalLayers} layers on ${devices.length === 1 ? 'a worker' : `${devices.length} workers`}, ${rule}: ${[...perDevice, local].join(', ')}`,
  };
}
