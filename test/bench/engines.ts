// Long-lived engine processes, one per (build, flash attention): the two builds cannot share a
// process, and flash attention is fixed when the model is loaded. Every row's turns go to its own
// warm process for the whole run, so interleaved runs compare like with like.
import { EngineClient, type EngineHostFactory } from '../../src-main/engine/engineClient.js';
import type { BuildInfo, BuildKind, ModelInfo } from '../../src-common/engineTypes.js';

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
    /** The context new processes load with; resize() changes it for every process. */
    private contextSize: number,
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

  /**
   * Reloads the model in every process with a context of `contextSize` tokens (a no-op for those
   * that already have it), then warms each up with a one-token turn. Each length runs in a context
   * sized to it, so full KV's allocated bytes are those a case of that length needs.
   */
  async resize(contextSize: number): Promise<void> {
    this.contextSize = contextSize;
    for (const pending of this.slots.values()) {
      const slot = await pending;
      if (slot.info.contextSize === contextSize) continue;
      slot.info = await slot.client.loadModel({ path: this.modelPath, contextSize, flashAttention: slot.flashAttention });
      const { result } = slot.client.runTurn(
        { messages: [{ role: 'user', content: 'Say OK.' }], sampling: { temperature: 0, topP: 1, maxTokens: 1 }, policy: 'full' },
        () => {},
      );
      await result;
    }
  }

  /** Closes every engine process (each gets a few seconds to free native memory, then is killed). */
  async closeAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.clients].map((client) => client.close(3000).catch(() => client.kill())));
    this.clients.clear();
  }
}
