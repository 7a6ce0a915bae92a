// How llama.cpp sizes a KV cache: cells in steps of 256, rows of ggml's size for the cache type.
import type { KvCacheType } from './spec.js';

/** llama.cpp allocates a context's cells, and a window cache's, in steps of this many. */
export const CONTEXT_STEP = 256;

export function padToStep(cells: number): number {
  return Math.ceil(cells / CONTEXT_STEP) * CONTEXT_STEP;
}

/** Bytes of one cell's K (or V) row in one layer: ggml's row size for the cache type. */
export function kvRowBytes(model: { kvHeads: number; headDim: number }, kvType: KvCacheType): number {
  const elements = model.kvHeads * model.headDim;
  switch (kvType) {
    case 'f16':
      return elements * 2;
    case 'q8_0':
      return Math.ceil(elements / 32) * 34;
    case 'q4_0':
      return Math.ceil(elements / 32) * 18;
  }
}
