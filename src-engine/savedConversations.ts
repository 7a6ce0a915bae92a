// The engine's side of saved caches (savedKvStore.ts holds the files): which scope a cache is
// saved under, restoring one into a sequence new to the engine, saving a whole cache while idle
// after a turn, and saving a windowed cache where its document ends, mid-prefill.
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import type { ContextPlan, ContextShape } from '../src-common/policy/contextPlan.js';
import type { ConversationCacheMetrics, SavedKvEntry, SavedKvState, TurnRequest } from '../src-common/engineTypes.js';
import { questionStart } from './chatPrompt.js';
import type { HistoryUse } from './conversationCache.js';
import { SavedKvStore, type SavedKvMatch } from './savedKvStore.js';
import type { Continuation, TurnTarget } from './turnRunner.js';

/** What the saved caches are asked: list them, delete one or all, or where and how much to keep. */
export type SavedKvAction =
  | { kind: 'list' }
  | { kind: 'remove'; id?: string }
  | { kind: 'configure'; folder: string; budgetBytes: number }
  | { kind: 'budget'; budgetBytes: number };

/** What scopes and labels a save: the loaded model (its fingerprint and name) and the build. */
export interface SaveIdentity {
  fingerprint: string;
  modelName: string;
  buildId: string;
}

/** A turn that read fewer prompt tokens than this is not worth saving: reading them again is quick. */
export const SAVE_MIN_READ_TOKENS = 512;
/** A saved cache is loaded only for at least this many shared tokens (loading costs its whole file). */
const RESTORE_MIN_SHARED_TOKENS = 256;

export type Restored = { restored: ConversationCacheMetrics['restored']; failure: string | null };

export class SavedConversations {
  /** Caches saved on disk (and reuse=disk's full KV). */
  readonly store = new SavedKvStore();
  /** The last turn's cache being saved while the person reads the answer. */
  private saving: Promise<void> | null = null;

  constructor(private readonly identity: () => SaveIdentity) {}

  /** Saving only into a folder the app chose (the CLI's one question and tests leave none). */
  get enabled(): boolean {
    return this.store.folder !== null;
  }

  /** The scope a cache is saved under: this model and build, what it holds, and its context's shape. */
  scope(holds: string, shape: ContextShape): string {
    const { fingerprint, buildId } = this.identity();
    return [fingerprint, buildId, holds, JSON.stringify(shape)].join('|');
  }

  description(policy: string, label?: string): Pick<SavedKvEntry, 'label' | 'policy' | 'model' | 'build'> {
    const { modelName, buildId } = this.identity();
    return { label: label?.trim() || 'Conversation', policy, model: modelName, build: buildId };
  }

  /** The saved cache a turn under `plan` would load for `prompt` (never its last token), if any. */
  find(plan: ContextPlan, prompt: Token[], history: HistoryUse): Promise<SavedKvMatch | null> {
    if (!this.enabled) return Promise.resolve(null);
    const minShared = Math.max(history.minShared, RESTORE_MIN_SHARED_TOKENS);
    return this.store.find(this.scope(plan.policy.spec, plan.shape), prompt.slice(0, -1), { minShared, wholeOnly: !history.allowErase });
  }

  /**
   * Loads the saved cache sharing the most with `prompt` into the (empty) sequence: what it
   * restored, or why one could not be (then the prompt is read, and the entry forgotten).
   */
  async restore(plan: ContextPlan, sequence: LlamaContextSequence, prompt: Token[], history: HistoryUse): Promise<Restored | null> {
    const match = await this.find(plan, prompt, history);
    if (!match) return null;
    const loading = performance.now();
    try {
      await this.store.restore(sequence, match);
    } catch (err) {
      // damaged, or refused by llama.cpp (it checks the shapes)
      await sequence.clearHistory();
      await this.store.remove(match.entry.id);
      const failure = `The cache saved for ${match.entry.label} could not be loaded (${err instanceof Error ? err.message : String(err)}); it was deleted and the prompt read again.`;
      return { restored: null, failure };
    }
    const restored = { tokens: match.sharedTokens, bytes: match.entry.bytes, ms: Math.round(performance.now() - loading), savedAt: match.entry.savedAt };
    return { restored, failure: null };
  }

  /**
   * For a cache with windowed layers: where its document ends (the question starts) and how to
   * save it there, when the turn reads that much of it; else null.
   */
  documentSave(model: LlamaModel, plan: ContextPlan, request: TurnRequest, prompt: Token[], continuation: Continuation): TurnTarget['saveDocument'] {
    if (!this.enabled || continuation.kind !== 'generate' || request.cachePrompt === false) return null;
    const at = questionStart(model, request.messages, prompt);
    if (at === null || at < SAVE_MIN_READ_TOKENS) return null;
    const scope = this.scope(plan.policy.spec, plan.shape);
    const description = this.description(plan.policy.spec, request.cacheLabel);
    return { at, save: async (sequence) => void (await this.store.save(scope, sequence, description)) };
  }

  /**
   * Saves a turn's kept sequence while idle, once `ready` (a lazy turn's revival) resolves and if
   * it is still the kept one; the next call on the engine waits for it (`settle`).
   */
  startSaving(plan: ContextPlan, sequence: LlamaContextSequence, label: string | undefined, ready: Promise<boolean>, stillKept: () => boolean): void {
    const scope = this.scope(plan.policy.spec, plan.shape);
    const description = this.description(plan.policy.spec, label);
    const saving = (async () => {
      // a revival that failed or was stopped left holes: that cache is never saved
      if (!(await ready)) return;
      if (sequence.disposed || !stillKept()) return;
      await this.store.save(scope, sequence, description);
    })();
    // a failed save (disk full, folder gone) costs only the reopen; the turn already succeeded
    this.saving = saving.catch((err: unknown) => console.error(`sift: could not save the conversation's cache: ${String(err)}`));
  }

  async settle(): Promise<void> {
    const saving = this.saving;
    this.saving = null;
    await saving;
  }

  /** The saved caches: listed, deleted, or moved to a folder with a budget (the app's data folder). */
  async request(action: SavedKvAction): Promise<SavedKvState> {
    await this.settle();
    if (action.kind === 'configure') await this.store.configure(action.folder, action.budgetBytes);
    if (action.kind === 'budget') await this.store.setBudget(action.budgetBytes);
    if (action.kind === 'remove') await this.store.remove(action.id);
    return { folder: this.store.folder, budgetBytes: this.store.budget, totalBytes: this.store.storedBytes, entries: this.store.list() };
  }

  /** Waits for a save, then deletes a temporary folder (a configured one stays for the next run). */
  async close(): Promise<void> {
    await this.settle();
    await this.store.close();
  }
}
