// A conversation's KV cache saved on disk, so a document opened again (a new chat, or the app
// after a restart) is restored instead of read again. Each entry is one sequence's state
// (llama.cpp's per-sequence state file) beside the tokens it holds, under a scope: the model's
// fingerprint, the build, and what the cache holds (the policy, and the context's shape). A turn
// looks only in its own scope, so a changed model, build or policy never restores a stale cache.
// The folder is bounded by a disk budget; the least recently used entries go first.
//
// Conversations are saved only into a folder the app configured. Without one (the CLI's single
// question, tests) the store keeps reuse=disk's full KV of the last prompts in a temporary folder
// deleted when the engine closes.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { SavedKvEntry } from '../src-common/engineTypes.js';

export interface SavedKvMatch {
  entry: SavedKvEntry;
  /** Leading tokens the saved state shares with the new prompt. */
  sharedTokens: number;
}

export interface FindOptions {
  /** At least this many leading tokens shared, else no match. */
  minShared: number;
  /** The cache cannot erase a tail (windowed layers): only a state the prompt extends whole. */
  wholeOnly: boolean;
}

interface IndexFile {
  version: 1;
  entries: SavedKvEntry[];
}

const INDEX = 'index.json';
/** Without a configured folder: the last few prompts (a person switching between two chats keeps both). */
const TEMPORARY_ENTRIES = 2;
export const DEFAULT_SAVED_KV_BUDGET_BYTES = 4 * 1024 ** 3;
/** Unindexed files older than this are deleted when the folder is opened. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

function sharedPrefix(a: ArrayLike<number>, b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class SavedKvStore {
  private dir: string;
  private persistent = false;
  private budgetBytes = DEFAULT_SAVED_KV_BUDGET_BYTES;
  private entries: SavedKvEntry[] = [];
  /** Token lists read so far, by entry id (a lookup compares each entry of the scope). */
  private readonly tokens = new Map<string, Uint32Array>();

  constructor(dir = path.join(os.tmpdir(), `sift-saved-kv-${process.pid}`)) {
    this.dir = dir;
  }

  /**
   * Saves in `dir` from now on, under `budgetBytes`, reading what an earlier run left there
   * (entries whose files are gone, or an unreadable index, are forgotten).
   */
  async configure(dir: string, budgetBytes: number): Promise<void> {
    if (!this.persistent) await this.clear();
    this.dir = dir;
    this.persistent = true;
    this.budgetBytes = budgetBytes;
    this.tokens.clear();
    await mkdir(dir, { recursive: true });
    this.entries = await this.readIndex();
    await this.deleteOrphans();
    await this.trimToBudget();
  }

  get folder(): string | null {
    return this.persistent ? this.dir : null;
  }

  get budget(): number {
    return this.budgetBytes;
  }

  list(): SavedKvEntry[] {
    return [...this.entries].sort((a, b) => b.usedAt - a.usedAt);
  }

  get storedBytes(): number {
    return this.entries.reduce((sum, e) => sum + e.bytes, 0);
  }

  /** The entry of `scope` sharing the longest prefix with `prompt`, as `options` allow. */
  async find(scope: string, prompt: readonly Token[], options: FindOptions): Promise<SavedKvMatch | null> {
    let best: SavedKvMatch | null = null;
    for (const entry of this.entries) {
      if (entry.scope !== scope) continue;
      const tokens = await this.tokensOf(entry);
      if (!tokens) continue;
      const shared = sharedPrefix(tokens, prompt);
      if (options.wholeOnly && shared < tokens.length) continue;
      if (shared >= options.minShared && shared > (best?.sharedTokens ?? 0)) best = { entry, sharedTokens: shared };
    }
    return best;
  }

  /**
   * Saves the sequence's whole state under `scope`; replaces the entries of that scope it extends
   * (a conversation saved again after a follow-up), then keeps the folder within its budget.
   * Nothing is saved under a budget of 0.
   */
  async save(scope: string, sequence: LlamaContextSequence, describe: Pick<SavedKvEntry, 'label' | 'policy' | 'model' | 'build'>): Promise<SavedKvEntry | null> {
    // a budget of 0: the person keeps nothing on disk
    if (this.budgetBytes === 0) return null;
    await mkdir(this.dir, { recursive: true });
    const tokens = Uint32Array.from(sequence.contextTokens);
    const id = randomUUID();
    const { fileSize } = await sequence.saveStateToFile(this.stateFile(id));
    await writeFile(this.tokensFile(id), Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength));
    const now = Date.now();
    const entry: SavedKvEntry = { id, scope, ...describe, tokens: tokens.length, bytes: fileSize + tokens.byteLength, savedAt: now, usedAt: now };
    this.tokens.set(id, tokens);
    const superseded: SavedKvEntry[] = [];
    for (const other of this.entries) {
      if (other.scope !== scope) continue;
      const held = await this.tokensOf(other);
      if (held && sharedPrefix(held, sequence.contextTokens) === held.length) superseded.push(other);
    }
    this.entries = [...this.entries.filter((e) => !superseded.includes(e)), entry];
    await this.deleteFiles(superseded);
    await this.trimToBudget();
    return entry;
  }

  /** Loads a saved state into `sequence` and trims it to the tokens it shares with the new prompt. */
  async restore(sequence: LlamaContextSequence, match: SavedKvMatch): Promise<void> {
    await sequence.loadStateFromFile(this.stateFile(match.entry.id), { acceptRisk: true });
    const held = sequence.nextTokenIndex;
    if (held > match.sharedTokens) await sequence.eraseContextTokenRanges([{ start: match.sharedTokens, end: held }]);
    match.entry.usedAt = Date.now();
    await this.writeIndex();
  }

  /** Deletes one entry, or every entry when `id` is omitted. */
  async remove(id?: string): Promise<void> {
    const removed = id === undefined ? this.entries : this.entries.filter((e) => e.id === id);
    this.entries = this.entries.filter((e) => !removed.includes(e));
    await this.deleteFiles(removed);
  }

  async setBudget(budgetBytes: number): Promise<void> {
    this.budgetBytes = budgetBytes;
    await this.trimToBudget();
  }

  /** Deletes a temporary store's folder (a configured one stays for the next run). */
  async close(): Promise<void> {
    if (!this.persistent) await this.clear();
  }

  private async clear(): Promise<void> {
    this.entries = [];
    this.tokens.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Least recently used first, until the folder is within budget (a temporary one keeps the last few). */
  private async trimToBudget(): Promise<void> {
    const byUse = [...this.entries].sort((a, b) => a.usedAt - b.usedAt);
    const dropped: SavedKvEntry[] = [];
    let bytes = this.storedBytes;
    let count = byUse.length;
    for (const entry of byUse) {
      if (bytes <= this.budgetBytes && (this.persistent || count <= TEMPORARY_ENTRIES)) break;
      dropped.push(entry);
      bytes -= entry.bytes;
      count--;
    }
    this.entries = this.entries.filter((e) => !dropped.includes(e));
    await this.deleteFiles(dropped);
  }

  private async deleteFiles(entries: SavedKvEntry[]): Promise<void> {
    for (const entry of entries) {
      this.tokens.delete(entry.id);
      await rm(this.stateFile(entry.id), { force: true });
      await rm(this.tokensFile(entry.id), { force: true });
    }
    await this.writeIndex();
  }

  /**
   * Files no entry names: a save cut short, or one another process (the app and the CLI share the
   * folder; each writes the index it knows) indexed and this one's index then replaced. Only old
   * ones go: a save in flight elsewhere is younger.
   */
  private async deleteOrphans(): Promise<void> {
    const known = new Set(this.entries.map((e) => e.id));
    const cutoff = Date.now() - ORPHAN_AGE_MS;
    for (const name of await readdir(this.dir)) {
      const id = /^([0-9a-f-]{36})\.(state|tokens)$/.exec(name)?.[1];
      if (!id || known.has(id)) continue;
      const file = path.join(this.dir, name);
      const info = await stat(file).catch(() => null);
      if (info && info.mtimeMs < cutoff) await rm(file, { force: true });
    }
  }

  private async tokensOf(entry: SavedKvEntry): Promise<Uint32Array | null> {
    const known = this.tokens.get(entry.id);
    if (known) return known;
    try {
      const bytes = await readFile(this.tokensFile(entry.id));
      const tokens = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      this.tokens.set(entry.id, tokens);
      return tokens;
    } catch {
      return null;
    }
  }

  private async readIndex(): Promise<SavedKvEntry[]> {
    let parsed: IndexFile;
    try {
      parsed = JSON.parse(await readFile(path.join(this.dir, INDEX), 'utf8')) as IndexFile;
    } catch {
      return [];
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.entries)) return [];
    const present: SavedKvEntry[] = [];
    for (const entry of parsed.entries) {
      // ids name files: never follow one an edited index points elsewhere with
      if (typeof entry.id !== 'string' || !/^[0-9a-f-]{36}$/.test(entry.id)) continue;
      const found = await stat(this.stateFile(entry.id)).catch(() => null);
      if (found?.isFile()) present.push(entry);
    }
    return present;
  }

  /** Written whole and renamed into place: a crash mid-write leaves the previous index. */
  private async writeIndex(): Promise<void> {
    if (!this.persistent) return;
    const file = path.join(this.dir, INDEX);
    const partial = `${file}.${process.pid}.tmp`;
    await writeFile(partial, JSON.stringify({ version: 1, entries: this.entries } satisfies IndexFile));
    await rename(partial, file);
  }

  private stateFile(id: string): string {
    return path.join(this.dir, `${id}.state`);
  }

  private tokensFile(id: string): string {
    return path.join(this.dir, `${id}.tokens`);
  }
}
