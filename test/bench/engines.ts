// Long-lived engine processes, one per (build, flash attention): the two builds cannot share a
// process, and flash attention is fixed when the model is loaded. Every row's turns go to its own
// warm process for the whole run, so interleaved runs compare like with like.
import { EngineClient, type EngineHostFactory } from '../../src-main/engine/engineClient.js';
import type { BuildInfo, BuildKind, ModelInfo } from '../../src-main/engine/types.js';

export interface EngineSlot {
  build: BuildKind;
  flashAttention: boolean;
  client: EngineClient;
  info: ModelInfo;
  /** Set when this process is not the build that was asked for (e.g. the patched build is missing). */
  problem: string | null;
}

export function slotKey(build: BuildKind, flashAttention: boolean): string {
  return `${build}/${flashAttention ? 'fa-on' : 'fa-off'}`;
}

function describeMismatch(requested: BuildKind, got: BuildInfo, notice: string | null): string | null {
  if (got.kind !== requested) return `the ${requested} build is not available here (${notice ?? `got ${got.id}`})`;
  if (got.id === 'prebuilt') return `running node-llama-cpp's prebuilt binary, not a local stock build (${notice ?? ''})`;
  return null;
}

export class EnginePool {
  private readonly slots = new Map<string, Promise<EngineSlot>>();
  private readonly clients = new Set<EngineClient>();
  private closing = false;

  constructor(
    private readonly modelPath: string,
    private readonly contextSize: number,
    /** How processes are started; a test can pass a fake engine here. */
    private readonly host?: EngineHostFactory,
  ) {}

  /** The slot's process, started and loaded on first use. */
  open(build: BuildKind, flashAttention: boolean): Promise<EngineSlot> {
    const key = slotKey(build, flashAttention);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = this.start(build, flashAttention);
      this.slots.set(key, slot);
    }
    return slot;
  }

  private async start(build: BuildKind, flashAttention: boolean): Promise<EngineSlot> {
    if (this.closing) throw new Error('the benchmark is stopping');
    const client = await EngineClient.start({ build, ...(this.host ? { host: this.host } : {}) });
    this.clients.add(client);
    if (this.closing) {
      await client.close();
      throw new Error('the benchmark is stopping');
    }
    const info = await client.loadModel({ path: this.modelPath, contextSize: this.contextSize, flashAttention });
    return { build, flashAttention, client, info, problem: describeMismatch(build, client.build, client.notice) };
  }

  /** Closes every engine process (each gets a few seconds to free native memory, then is killed). */
  async closeAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.clients].map((client) => client.close(3000).catch(() => client.kill())));
    this.clients.clear();
  }
}
