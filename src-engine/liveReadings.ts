// The live indicators' readings while a turn reads its prompt: tokens per layer and KV bytes in use
// (the native layer statistics, read only between evaluations, at most 10 times a second) and the
// free memory where the KV lives (RAM, or VRAM when layers are offloaded, or RAM and the workers'
// memory when a CPU build offloads to `sift worker`s: polled in the background, so a progress event
// never waits for the GPU driver or the network).
import os from 'node:os';
import type { Llama, LlamaContext } from 'node-llama-cpp';
import type { FreeMemoryReading, TurnEvent } from '../src-common/engineTypes.js';
import { readKvLayerStats } from './siftNative.js';

type ProgressEvent = Extract<TurnEvent, { type: 'progress' }>;

/** Readings closer together than this add nothing a person can see, and cost a native call each. */
const MIN_INTERVAL_MS = 100;

export class LiveReadings {
  private lastReadAt = -Infinity;
  private freeVram: number | null = null;
  private polling = false;
  /** A CPU build's offloaded layers live on workers: their devices are its only "GPUs". */
  private readonly onWorkers: boolean;

  constructor(
    private readonly llama: Llama,
    private readonly context: LlamaContext,
    private readonly offloaded: boolean,
  ) {
    this.onWorkers = offloaded && llama.gpu === false;
    // the first reading is under way before the prompt's first batch ends
    if (offloaded) this.pollVram();
  }

  /**
   * The progress event with the cache as it stands. Called between evaluations only; an event
   * that brings its own layers (a native lazy prefill, running on another thread) gets the free
   * memory alone.
   */
  annotate(event: ProgressEvent): ProgressEvent {
    const free = this.free();
    if (event.live?.layers) return { ...event, live: { ...event.live, ...(free ? { free } : {}) } };
    const now = performance.now();
    const last = event.done >= event.total;
    if (!last && now - this.lastReadAt < MIN_INTERVAL_MS) return free ? { ...event, live: { free } } : event;
    this.lastReadAt = now;
    const stats = readKvLayerStats(this.llama, this.context);
    if (!stats) return free ? { ...event, live: { free } } : event;
    const layers = stats.perLayer.map((layer) => layer.cells);
    return { ...event, live: { layers, kvBytesUsed: stats.bytesUsed, kvBytesAllocated: stats.bytesAllocated, ...(free ? { free } : {}) } };
  }

  private free(): FreeMemoryReading | null {
    if (!this.offloaded) return { bytes: os.freemem(), where: 'RAM' };
    this.pollVram();
    if (this.freeVram === null) return null;
    return this.onWorkers ? { bytes: os.freemem() + this.freeVram, where: 'RAM and workers' } : { bytes: this.freeVram, where: 'VRAM' };
  }

  private pollVram(): void {
    if (this.polling) return;
    this.polling = true;
    void this.llama
      .getVramState()
      .then((state) => (this.freeVram = state.free))
      .catch(() => undefined)
      .finally(() => setTimeout(() => (this.polling = false), 500));
  }
}
