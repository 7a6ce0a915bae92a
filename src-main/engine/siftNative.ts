// The one typed door to Sift's additions in the native addon (native-patches/addon). Everything
// that needs per-layer statistics (and later: lazy prefill, layer trim, eviction) goes through here.
import type { Llama, LlamaContext } from 'node-llama-cpp';
import type { LayerKvStats } from './types.js';

interface SiftAddon {
  siftBuildId?: () => string;
  siftKvLayerStats?: (context: unknown) => NativeLayerStats[];
}

interface NativeLayerStats {
  layer: number;
  cells: number;
  used: number;
  bytesK: number;
  bytesV: number;
}

// node-llama-cpp keeps the addon and the native context on internal fields of its public classes.
function addonOf(llama: Llama): SiftAddon {
  return (llama as unknown as { _bindings: SiftAddon })._bindings;
}

function nativeContextOf(context: LlamaContext): unknown {
  return (context as unknown as { _ctx: unknown })._ctx;
}

/** The patched build's marker, or null for a build without Sift's patches. */
export function readSiftBuildId(llama: Llama): string | null {
  const addon = addonOf(llama);
  return typeof addon.siftBuildId === 'function' ? addon.siftBuildId() : null;
}

export interface KvLayerReading {
  perLayer: LayerKvStats[];
  bytesAllocated: number;
  bytesUsed: number;
}

/**
 * Reads per-layer KV statistics between evaluations. Returns null on a build without them.
 * bytesUsed counts the used cells' share of each layer's K and V buffers.
 */
export function readKvLayerStats(llama: Llama, context: LlamaContext): KvLayerReading | null {
  const addon = addonOf(llama);
  if (typeof addon.siftKvLayerStats !== 'function') return null;
  const raw = addon.siftKvLayerStats(nativeContextOf(context));
  let bytesAllocated = 0;
  let bytesUsed = 0;
  const perLayer = raw.map((entry) => {
    const bytes = entry.bytesK + entry.bytesV;
    bytesAllocated += bytes;
    if (entry.cells > 0) bytesUsed += Math.round((bytes * entry.used) / entry.cells);
    return { layer: entry.layer, cells: entry.used, bytes };
  });
  return { perLayer, bytesAllocated, bytesUsed };
}
