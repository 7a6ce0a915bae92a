// The document's full KV, kept on disk outside the working cache (policy knob reuse=disk). An
// eviction chosen for one question can drop what the next one needs; with the full KV of the last
// prompts saved here, a follow-up turn loads it back, evaluates only the new tokens, and selects
// again with the new question in view, instead of prefilling the whole document again.
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';

export interface StoredPrompt {
  path: string;
  tokens: readonly Token[];
  bytes: number;
}

export interface PrefixMatch {
  entry: StoredPrompt;
  /** Leading tokens the stored state shares with the new prompt. */
  sharedTokens: number;
}

/** Files kept: the last few prompts (a person switching between two conversations keeps both). */
const MAX_ENTRIES = 2;

function sharedPrefix(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class DocumentKvStore {
  private entries: StoredPrompt[] = [];
  private saved = 0;

  constructor(private readonly dir: string = path.join(os.tmpdir(), `sift-document-kv-${process.pid}`)) {}

  /** The stored prompt sharing the longest prefix with `prompt`, if it shares at least `minShared` tokens. */
  find(prompt: readonly Token[], minShared: number): PrefixMatch | null {
    let best: PrefixMatch | null = null;
    for (const entry of this.entries) {
      const shared = sharedPrefix(entry.tokens, prompt);
      if (shared >= minShared && shared > (best?.sharedTokens ?? 0)) best = { entry, sharedTokens: shared };
    }
    return best;
  }

  /** Saves the sequence's whole state; replaces a stored prompt it extends, and the oldest beyond the limit. */
  async save(sequence: LlamaContextSequence): Promise<StoredPrompt> {
    await mkdir(this.dir, { recursive: true });
    const tokens = [...sequence.contextTokens];
    const file = path.join(this.dir, `prompt-${++this.saved}.state`);
    const { fileSize } = await sequence.saveStateToFile(file);
    const entry: StoredPrompt = { path: file, tokens, bytes: fileSize };
    const superseded = this.entries.filter((e) => sharedPrefix(e.tokens, tokens) === e.tokens.length);
    const kept = this.entries.filter((e) => !superseded.includes(e));
    const dropped = [...superseded, ...kept.slice(0, Math.max(0, kept.length + 1 - MAX_ENTRIES))];
    this.entries = [...kept.filter((e) => !dropped.includes(e)), entry];
    await Promise.all(dropped.map((e) => rm(e.path, { force: true })));
    return entry;
  }

  /** Restores a stored prompt into `sequence` and trims it to the tokens it shares with the new prompt. */
  async restore(sequence: LlamaContextSequence, match: PrefixMatch): Promise<void> {
    await sequence.loadStateFromFile(match.entry.path, { acceptRisk: true });
    const held = sequence.nextTokenIndex;
    if (held > match.sharedTokens) await sequence.eraseContextTokenRanges([{ start: match.sharedTokens, end: held }]);
  }

  get storedBytes(): number {
    return this.entries.reduce((sum, e) => sum + e.bytes, 0);
  }

  /** Deletes every stored state (the model changed, or the engine is closing). */
  async clear(): Promise<void> {
    this.entries = [];
    await rm(this.dir, { recursive: true, force: true });
  }
}
