// How many of a model's layers go to the workers. llama.cpp splits the offloaded layers across its
// GPU devices (the workers, on a CPU build) in proportion to their free memory and keeps the rest
// on this machine's CPU; `auto` extends that rule to this machine, so each machine holds a share of
// the layers (and their KV) in proportion to the memory it has free.
import type { WorkerDevice, WorkerSplit } from '../src-common/engineTypes.js';
import { formatBytes } from '../src-common/format.js';

/** `total` whole layers in proportion to `shares`, the remainders to the largest fractions: they add up. */
function apportion(total: number, shares: number[]): number[] {
  const exact = shares.map((share) => total * share);
  const whole = exact.map(Math.floor);
  const left = total - whole.reduce((sum, n) => sum + n, 0);
  exact
    .map((value, i) => ({ i, fraction: value - Math.floor(value) }))
    .sort((a, b) => b.fraction - a.fraction || a.i - b.i)
    .slice(0, left)
    .forEach(({ i }) => (whole[i] = (whole[i] ?? 0) + 1));
  return whole;
}

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
  const layersPerDevice = apportion(offloadedLayers, devices.map(shareOf));
  const perDevice = devices.map((device, i) => `${device.name} at ${device.endpoint} ~${layersPerDevice[i]} (${formatBytes(device.freeBytes)} free)`);
  const local = `this machine ${totalLayers - offloadedLayers} (${formatBytes(localFreeBytes)} free)`;
  const rule = requested === 'auto' ? 'in proportion to each machine\'s free memory' : `${requested} asked for`;
  return {
    offloadedLayers,
    devices: [...devices],
    layersPerDevice,
    localLayers: totalLayers - offloadedLayers,
    why: `${offloadedLayers} of ${totalLayers} layers on ${devices.length === 1 ? 'a worker' : `${devices.length} workers`}, ${rule}: ${[...perDevice, local].join(', ')}`,
  };
}

/** Where a model's bytes would go under a split: each place's share of the layers, of weights and KV alike. */
export function bytesPerPlace(split: WorkerSplit, totalLayers: number, bytes: { weights: number; kv: number }): Array<{ place: string; endpoint: string | null; layers: number; weightsBytes: number; kvBytes: number; freeBytes: number | null }> {
  const share = (layers: number) => layers / Math.max(1, totalLayers);
  return [
    { place: 'this machine', endpoint: null, layers: split.localLayers, weightsBytes: Math.round(bytes.weights * share(split.localLayers)), kvBytes: Math.round(bytes.kv * share(split.localLayers)), freeBytes: null },
    ...split.devices.map((device, i) => {
      const layers = split.layersPerDevice[i] ?? 0;
      return { place: device.name, endpoint: device.endpoint, layers, weightsBytes: Math.round(bytes.weights * share(layers)), kvBytes: Math.round(bytes.kv * share(layers)), freeBytes: device.freeBytes };
    }),
  ];
}
