// Token eviction under a KV budget: VATP and the baselines it is measured against (H2O, SnapKV,
// StreamingLLM). The context is created with the budget's size, so the savings are physical;
// whenever the next evaluation would not fit, the lowest-ranked tokens go, leaving `headroom` free
// cells: the next prefill chunk, or that many decode steps before the next eviction.
//
// Eviction frees whole cells: a token's K/V in every full layer shares one cell, so importance is
// aggregated over the heads and layers that share it. node-llama-cpp's eraseContextTokenRanges
// removes the cells and shifts later tokens down (llama.cpp's K-shift, as its own context shift
// does), so positions stay contiguous and its sequence bookkeeping stays true.
import type { Llama, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { EvictionPolicy } from '../src-common/policy/spec.js';
import { scorerFor } from '../src-common/policy/scorers/index.js';
import type { CacheReading, Scorer, SlotInputs } from '../src-common/policy/scorers/scorer.js';
import { logitsRow } from './forcedLogits.js';
import type { CarriedScores } from './conversationCache.js';
import { evictedRanges, MAX_SENTENCE_TOKENS, maxPool, mostImportant, recalledRuns, SENTENCE_END, sentenceRuns, shareOf, WORD, type SelectionUnits } from './evictionSelection.js';
import { readCellPositions, readKeySimilarity, readObservationWithPositions, readValueNorms, sequenceIdOf, setObservation } from './siftNative.js';

export interface EvictionStats {
  evicted: number;
  rounds: number;
  prefillRounds: number;
  evictMs: number;
  /** Question tokens evaluated ahead (and erased) to rank rounds during the prefill. */
  lookaheadTokens: number;
  lookaheads: number;
  /** Kept tokens read again just before the question (recall=N). */
  recalledTokens: number;
}

/** One observed (layer, KV head) pair: its attention scores per token index. */
interface ScoreSlot {
  layer: number;
  head: number;
}

/** One layer's cache reading: [head][cell] values, as the native side returns them. */
interface LayerReading {
  nCells: number;
  nHeadKv: number;
  values: Float32Array;
}

/** What one eviction round has read from the cache; each (kind, layer) at most once. */
interface RoundReads {
  read(kind: CacheReading, layer: number): LayerReading | null;
}

/** A window-mode snapshot: mean attention of `weight` queries, per slot and token index. */
interface Snapshot {
  weight: number;
  scores: Float64Array[];
}

export class TokenEvictor {
  readonly stats: EvictionStats = { evicted: 0, rounds: 0, prefillRounds: 0, evictMs: 0, lookaheadTokens: 0, lookaheads: 0, recalledTokens: 0 };
  private slots: ScoreSlot[] = [];
  /** accumulate mode: summed attention per slot, indexed by token index */
  private accumulated: Float64Array[] = [];
  private snapshots: Snapshot[] = [];
  /**
   * While a prompt longer than the budget streams in with the question read ahead: the question's
   * attention per slot and token index at the last look-ahead, what the rounds rank by until the
   * next one. Null otherwise.
   */
  private aheadScores: Float64Array[] | null = null;
  private readonly recent: number;
  /** Tokens left after an eviction round. */
  readonly keepTokens: number;
  /** Tokens the budget's context holds with room for the next token and the one after it (node-llama-cpp keeps a cell free). */
  private readonly budgetRoom: number;
  /** Queries the native side observes per evaluation now (0: off). */
  private observing = 0;
  private readonly scorer: Scorer;
  /**
   * For each token the sequence holds, its index in the turn's token stream (the prompt, then the
   * answer): what the cache kept, for the document heatmap. Synced lazily: tokens appended since
   * the last sync follow on from `nextOrigin`; erasures at the end (a look-ahead) shorten it.
   */
  private origin: number[];
  private nextOrigin: number;
  private readonly sentenceEnds = new Map<Token, boolean>();
  /** recall=N: the text it read again just before the question (the last recall's), for the person to see. */
  recalledText: string | null = null;

  constructor(
    private readonly llama: Llama,
    private readonly sequence: LlamaContextSequence,
    private readonly policy: EvictionPolicy,
    budget: { budgetTokens: number; headroom: number },
    private readonly layers: number,
    before?: EvictionStats,
    /**
     * The tokens the sequence holds, by stream index, when this evictor goes on from them (a staged
     * turn's, or the previous turn's kept ones), and the stream index of the next token evaluated
     * (default: the one after the last held); and the ranking the last turn ended with, which the
     * first round ranks by until this turn has observed its own window.
     */
    held?: { origin: readonly number[]; next?: number; scores?: CarriedScores | null },
  ) {
    if (before) Object.assign(this.stats, before);
    if (held?.scores) this.carryOver(held.scores);
    this.origin = held ? [...held.origin] : Array.from({ length: sequence.nextTokenIndex }, (_, i) => i);
    this.nextOrigin = held?.next ?? (this.origin.length > 0 ? this.origin[this.origin.length - 1]! + 1 : 0);
    this.scorer = scorerFor(policy.method);
    // node-llama-cpp keeps one cell of a context free
    this.keepTokens = Math.max(1, budget.budgetTokens - 1 - budget.headroom);
    this.budgetRoom = Math.max(1, budget.budgetTokens - 1 - 2);
    const room = Math.max(0, this.keepTokens - policy.sink);
    this.recent = !this.scorer.ranked ? room : Math.min(room, policy.recent ?? Math.floor(this.keepTokens / 2));
  }

  private get needsScores(): boolean {
    return this.scorer.attention !== 'none';
  }

  /** Cells the context holds: the budget as allocated. */
  get capacityTokens(): number {
    return this.sequence.contextSize;
  }

  /** Tokens the sequence may hold: node-llama-cpp keeps one cell free. */
  private get capacity(): number {
    return this.sequence.contextSize - 1;
  }

  /** Queries to observe in an evaluation of `rows` tokens. */
  private observedRows(rows: number): number {
    return this.policy.score === 'accumulate' ? rows : Math.min(this.policy.window, rows);
  }

  /**
   * Evaluates tokens (without sampling) in chunks that fit, evicting before each as needed. With
   * `lookahead` (the prompt's last tokens: the question), each round during the prefill ranks by
   * their attention, evaluated after what the cache holds and erased again, so a prompt longer
   * than the budget keeps what the question asks about before the question arrives.
   */
  async prefill(tokens: readonly Token[], onChunk: (done: number) => void, signal: AbortSignal, lookahead: readonly Token[] = []): Promise<boolean> {
    // a prompt that fits (after what the cache holds) never evicts while it streams in: nothing to
    // look ahead for, and its chunks stay the plain ones
    const ahead = this.sequence.nextTokenIndex + tokens.length + 2 <= this.capacity ? [] : lookahead.slice(-Math.floor(this.keepTokens / 4));
    // each round keeps that many fewer tokens, so the look-ahead fits beside a whole chunk
    const keep = this.keepTokens - ahead.length;
    const chunkSize = Math.max(1, Math.min(this.sequence.context.batchSize, this.capacity - this.keepTokens));
    // A look-ahead scores every token the cache holds. Tokens read after it are still in the recent
    // window (never evicted) until half of it has passed, so rounds until then rank by it alone.
    const refresh = Math.max(chunkSize, Math.floor(this.recent / 2));
    // recall: where the prompt's last window (the question) starts, the chunks stop to re-read what it ranks highest
    const recallAt = ahead.length > 0 && this.policy.recall > 0 ? tokens.length - (ahead.length - 1) : -1;
    let sinceAhead = Infinity;
    try {
      for (let i = 0; i < tokens.length; ) {
        if (signal.aborted) return false;
        if (i === recallAt) {
          if (this.sequence.nextTokenIndex + ahead.length > this.capacity) await this.evictToBudget(true, new Set(), keep);
          await this.lookAhead(ahead);
          sinceAhead = 0;
          await this.recall(Math.min(this.policy.recall, this.recent));
        }
        const chunk = tokens.slice(i, i < recallAt ? Math.min(i + chunkSize, recallAt) : i + chunkSize);
        if (this.sequence.nextTokenIndex + chunk.length + ahead.length > this.capacity) {
          if (ahead.length > 0 && sinceAhead >= refresh) {
            // a follow-up may find the cache full: the last turn's ranking makes room to read the question ahead
            if (this.sequence.nextTokenIndex + ahead.length > this.capacity) await this.evictToBudget(true, new Set(), keep);
            await this.lookAhead(ahead);
            sinceAhead = 0;
          }
          await this.evictToBudget(true, new Set(), keep);
        }
        // with a look-ahead the chunks' own queries rank nothing, but the last window's (the question's) do after the prefill
        const nearEnd = i + chunkSize + this.policy.window >= tokens.length;
        if (ahead.length > 0 && !nearEnd) {
          this.observe(0);
          await this.sequence.evaluateWithoutGeneratingNewTokens(chunk);
        } else {
          await this.evaluateObserved(chunk.length, () => this.sequence.evaluateWithoutGeneratingNewTokens(chunk));
        }
        sinceAhead += chunk.length;
        i += chunk.length;
        onChunk(i);
      }
      return true;
    } finally {
      this.aheadScores = null;
    }
  }

  /**
   * Evaluates `ahead` after the cache's tokens with its attention observed, keeps that attention
   * (over the cache's tokens only) for the rounds to rank by, and erases the tokens again:
   * positions and the sequence are as before.
   */
  private async lookAhead(ahead: readonly Token[]): Promise<void> {
    const n = this.sequence.nextTokenIndex;
    await this.evaluateObserved(ahead.length, () => this.sequence.evaluateWithoutGeneratingNewTokens([...ahead]));
    await this.sequence.eraseContextTokenRanges([{ start: n, end: n + ahead.length }]);
    const newest = this.snapshots.pop();
    if (!newest) throw new Error('the look-ahead was not observed');
    // the window's own tokens are gone; their cells' indices are the next chunk's
    for (const scores of newest.scores) scores.fill(0, n);
    this.aheadScores = newest.scores;
    this.stats.lookaheadTokens += ahead.length;
    this.stats.lookaheads += 1;
  }

  /**
   * Erases the `count` tokens of the kept middle (neither sinks nor the recent window) that the
   * ranking now (the question's, just read ahead) puts highest, in whole sentences, and evaluates
   * them again after everything held, the highest ranked last: the next tokens read (the question)
   * find them next to it. Their scores and stream indices move with them.
   */
  private async recall(count: number): Promise<void> {
    const n = this.sequence.nextTokenIndex;
    this.syncOrigins();
    const sink = Math.min(this.policy.sink, n);
    const recentFrom = Math.max(sink, n - this.recent);
    // unpooled, and only tokens with a letter or digit: pooling spreads a peak over its neighbours'
    // sentences, and line breaks draw attention from every query (measured at 32k: with both, the
    // needle's sentence ranked 27th of 176 and the document's first lines came first)
    const importance = this.importance(n, sink, recentFrom, new Set(), 1);
    const held = this.sequence.contextTokens;
    const ends = Array.from({ length: n }, (_, i) => this.endsSentence(held[i]!));
    const runOf = sentenceRuns(this.origin.slice(0, n), ends, MAX_SENTENCE_TOKENS);
    const middle = Array.from({ length: recentFrom - sink }, (_, k) => sink + k);
    for (const i of middle) if (!this.hasWord(held[i]!)) importance[i] = 0;
    const moved = recalledRuns(middle, importance, count, runOf);
    if (moved.length === 0) return;
    const movedSet = new Set(moved);
    const stay = Array.from({ length: n }, (_, i) => i).filter((i) => !movedSet.has(i));
    const movedTokens = moved.map((i) => held[i]!);
    await this.sequence.eraseContextTokenRanges(evictedRanges(stay, n));
    this.observe(0);
    await this.sequence.evaluateWithoutGeneratingNewTokens(movedTokens);
    const order = [...stay, ...moved];
    this.compact(order);
    this.origin = order.map((i) => this.origin[i]!);
    this.stats.recalledTokens += moved.length;
    this.recalledText = this.sequence.model.detokenize(movedTokens);
  }

  /** The ranking now, per observed slot and held token, for the next turn to start from (null before any observation). */
  carriedScores(): CarriedScores | null {
    if (this.slots.length === 0) return null;
    const n = this.sequence.nextTokenIndex;
    return { slots: this.slots.map((s) => ({ ...s })), scores: this.attention().map((scores) => scores.slice(0, n)) };
  }

  /** Starts from the last turn's ranking: as accumulated scores, or as one snapshot the first observed window replaces. */
  private carryOver(carried: CarriedScores): void {
    this.slots = carried.slots.map((s) => ({ ...s }));
    const padded = carried.scores.map((scores) => {
      const full = new Float64Array(this.capacity);
      full.set(scores.subarray(0, this.capacity));
      return full;
    });
    if (this.policy.score === 'accumulate') this.accumulated = padded;
    else this.snapshots = [{ weight: 1, scores: padded }];
  }

  /**
   * The stream index of each token the sequence holds (prompt indices, then the answer's): in
   * increasing order, but for the tokens recall=N read again, which follow the document's end.
   */
  keptOrigins(): number[] {
    this.syncOrigins();
    return [...this.origin];
  }

  private syncOrigins(): void {
    const n = this.sequence.nextTokenIndex;
    if (this.origin.length > n) {
      this.origin.length = n;
      // the largest, not the last: recalled tokens sit after later ones
      this.nextOrigin = this.origin.reduce((max, index) => Math.max(max, index), -1) + 1;
    }
    while (this.origin.length < n) this.origin.push(this.nextOrigin++);
  }

  /** What the cache holds now, for the live indicators. */
  cacheNow(): { held: number; evicted: number; capacity: number } {
    return { held: this.sequence.nextTokenIndex, evicted: this.stats.evicted, capacity: this.capacityTokens };
  }

  /**
   * The prompt's tokens a streaming prefill looks ahead to (policy lookahead=question): its last
   * window, the question with the document's last lines before it. The question alone kept more
   * pass keys through a 512-token cache (8k tokens) but lost them through a 2,048-token one (32k;
   * docs/BENCHMARKS.md, 2026-12-05), so the window stays.
   */
  lookaheadTokensOf(prompt: readonly Token[]): readonly Token[] {
    return this.policy.lookahead === 'question' && this.policy.when === 'stream' ? prompt.slice(-this.policy.window) : [];
  }

  /** Turns observation on for an evaluation of `rows` tokens (off for StreamingLLM, which needs none). */
  async evaluateObserved(rows: number, evaluate: () => Promise<void>): Promise<void> {
    this.observe(this.needsScores ? this.observedRows(rows) : 0);
    await evaluate();
    if (this.observing > 0) this.absorb(this.observing);
  }

  /**
   * Teacher forcing under the budget: evaluates `tokens` after what the sequence holds, in as few
   * evaluations as fit (one when nothing must be evicted, exactly as an unbudgeted turn forces
   * them), evicting between evaluations when the context is full; the logits after each token.
   */
  async forceLogits(tokens: readonly Token[]): Promise<Float32Array[]> {
    const withLogits = { generateNext: { logits: true } } as const;
    const logits: Float32Array[] = [];
    while (logits.length < tokens.length) {
      await this.makeRoom(1, false);
      const room = Math.max(1, this.sequence.contextSize - 1 - this.sequence.nextTokenIndex);
      const group = tokens.slice(logits.length, logits.length + room);
      await this.evaluateObserved(group.length, async () => {
        const outputs = await this.sequence.controlledEvaluate(group.map((token) => [token, withLogits] as [Token, typeof withLogits]));
        group.forEach((_, i) => logits.push(logitsRow(outputs[i]?.next?.logits, logits.length)));
      });
    }
    return logits;
  }

  /** After the prefill: room for the last prompt token and the first answer token. */
  async afterPrefill(): Promise<void> {
    await this.makeRoom(2, true);
  }

  /** Before the decode steps: observe the ones whose attention the next eviction will use. */
  startDecode(): void {
    this.observe(this.decodeNeedsScores() ? 1 : 0);
  }

  /** After each decode step (the generator yielded a token it has not evaluated yet). */
  async afterDecodeStep(): Promise<void> {
    if (this.observing > 0) this.absorb(1);
    await this.makeRoom(2, false);
    this.observe(this.decodeNeedsScores() ? 1 : 0);
  }

  stop(): void {
    this.observe(0);
  }

  /**
   * After a lazy prefill (the sequence holds every prompt token): ranks what the cache holds by the
   * question's queries, as eviction alone does, and runs one eviction round on it. The prefill's own
   * observations cannot rank: after a prune point they index the gathered cells of that segment,
   * not the cache's. So the prompt's last window tokens (at most `wholeTail`, the last tokens the
   * prefill computed at every layer, which it never pruned) are erased and evaluated again, with
   * `scoringToken` (the first answer token) after them, their attention observed in every layer;
   * they attend to what they attended to in the prefill, since the native masks still hide the
   * pruned cells from them. With nothing pruned and a budget that holds it all nothing is ranked,
   * and the scoring token is evaluated alone (the no-op stays exactly full KV's). On Qwen 2k prose
   * lazy+vatp:budget=0.1,chunk=sentence kept 11 of full KV's 19 answers ranked by the first answer
   * token alone (AMD EPYC), 18 of 21 ranked so (Intel Xeon; docs/BENCHMARKS.md 2026-12-07).
   * The `pruned` tokens left pruned (0 when revived) have no K/V after their prune point (the
   * masks hide those cells, so a token's attention there is exactly 0): none of them is kept, the
   * cache left holds only whole tokens, and the masks can go. The scoring token stays in the
   * cache. Returns the tokens dropped so.
   */
  async evictAfterLazyPrefill(pruned: number, scoringToken: Token, wholeTail: number): Promise<number> {
    const held = this.sequence.nextTokenIndex;
    const ranks = pruned > 0 || held + 1 > this.budgetRoom;
    const tail = ranks ? Math.max(0, Math.min(this.policy.window, wholeTail, held - 1)) : 0;
    const question = this.sequence.contextTokens.slice(held - tail);
    if (tail > 0) await this.sequence.eraseContextTokenRanges([{ start: held - tail, end: held }]);
    await this.evaluateObserved(tail + 1, () => this.sequence.evaluateWithoutGeneratingNewTokens([...question, scoringToken]));
    this.observe(0);
    const n = this.sequence.nextTokenIndex;
    const dropped = pruned > 0 ? this.unattendedAtLastLayer(n) : new Set<number>();
    if (dropped.size < pruned) throw new Error(`the lazy prefill pruned ${pruned} tokens but only ${dropped.size} read as pruned`);
    // the rest stays whole when it fits the budget's context (a budget that holds the prompt is a no-op)
    const fits = n - dropped.size <= this.budgetRoom;
    if (fits && dropped.size === 0) return 0;
    await this.evictToBudget(true, dropped, fits ? n : this.keepTokens);
    return dropped.size;
  }

  /**
   * Tokens no observed query attended to in the last layer: every token a lazy prefill pruned
   * (masked there, so exactly 0), and the few whose attention underflows to 0 there anyway
   * (measured: ~2% of a 1.2k pass-key prompt on SmolLM2), which the last layer ignores too.
   */
  private unattendedAtLastLayer(n: number): Set<number> {
    const last = Math.max(...this.slots.map((s) => s.layer));
    const attention = this.attention();
    const total = new Float64Array(n);
    this.slots.forEach((slot, i) => {
      if (slot.layer !== last) return;
      const scores = attention[i]!;
      for (let t = 0; t < n; t++) total[t] = total[t]! + scores[t]!;
    });
    const unattended = new Set<number>();
    for (let t = 0; t < n; t++) if (total[t] === 0) unattended.add(t);
    return unattended;
  }

  /**
   * Accumulated scores need every step. A query window needs only the steps just before an
   * eviction (older queries would leave the window before use), so decoding between evictions
   * runs without observation.
   */
  private decodeNeedsScores(): boolean {
    if (!this.needsScores) return false;
    if (this.policy.score === 'accumulate') return true;
    const stepsToEviction = this.capacity - (this.sequence.nextTokenIndex + 2);
    return stepsToEviction <= this.policy.window;
  }

  private observe(rows: number): void {
    if (rows === this.observing) return;
    setObservation(this.llama, this.sequence.context, rows);
    this.observing = rows;
  }

  /** Folds the last evaluation's observation (mean over `rows` queries) into the scores. */
  private absorb(rows: number): void {
    const { positions, layers } = readObservationWithPositions(this.llama, this.sequence, this.layers);
    if (this.slots.length === 0) {
      this.slots = layers.flatMap((obs) => Array.from({ length: obs.nHeadKv }, (_, head) => ({ layer: obs.layer, head })));
      this.accumulated = this.slots.map(() => new Float64Array(this.capacity));
    }
    const accumulate = this.policy.score === 'accumulate';
    // accumulate mode adds into the running sums; window mode keeps each snapshot
    const targets = accumulate ? this.accumulated : this.slots.map(() => new Float64Array(this.capacity));
    const weight = accumulate ? rows : 1;
    let slot = 0;
    for (const obs of layers) {
      for (let h = 0; h < obs.nHeadKv; h++, slot++) {
        const target = targets[slot]!;
        const offset = h * obs.nKv;
        for (let cell = 0; cell < obs.nKv; cell++) {
          const index = positions[cell]!;
          if (index >= 0 && index < target.length) target[index] = target[index]! + obs.scores[offset + cell]! * weight;
        }
      }
    }
    if (accumulate) return;
    this.snapshots.push({ weight: rows, scores: targets });
    // keep the newest snapshots that cover the query window
    let covered = 0;
    let keepFrom = this.snapshots.length;
    while (keepFrom > 0 && covered < this.policy.window) covered += this.snapshots[--keepFrom]!.weight;
    this.snapshots.splice(0, keepFrom);
  }

  /** Attention score per slot and token index, as the policy's score mode defines it. */
  private attention(): Float64Array[] {
    if (this.aheadScores) return this.aheadScores;
    if (this.policy.score === 'accumulate') return this.accumulated;
    const total = this.snapshots.reduce((sum, s) => sum + s.weight, 0) || 1;
    return this.slots.map((_, slot) => {
      const mean = new Float64Array(this.capacity);
      for (const snap of this.snapshots) {
        const scores = snap.scores[slot]!;
        for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! + (scores[i]! * snap.weight) / total;
      }
      return mean;
    });
  }

  /**
   * One cache reading per slot, by token index: value norms relative to the slot's mean (VATP's
   * value term), or key similarities as read. Slots without a reading get none. The mean leaves out
   * `unwritten`: tokens a lazy prefill pruned have no values after their prune point, and their
   * cells hold whatever the context held before (zeros, or the previous turn's values), which
   * would make the ranking depend on the turn before.
   */
  private readings(kind: CacheReading, slots: readonly ScoreSlot[], n: number, round: RoundReads, unwritten: ReadonlySet<number>): Array<Float64Array | undefined> {
    const context = this.sequence.context;
    const positions = readCellPositions(this.llama, context, sequenceIdOf(this.sequence), this.capacity);
    return slots.map(({ layer, head }) => {
      const read = round.read(kind, layer);
      if (!read) return undefined;
      const values = new Float64Array(this.capacity);
      let sum = 0;
      for (let cell = 0; cell < read.nCells && cell < positions.length; cell++) {
        const index = positions[cell]!;
        if (index < 0 || index >= n) continue;
        const value = read.values[head * read.nCells + cell]!;
        values[index] = value;
        if (!unwritten.has(index)) sum += value;
      }
      const mean = sum / Math.max(1, n - unwritten.size);
      if (kind === 'valueNorm' && mean > 0) for (let i = 0; i < n; i++) values[i] = values[i]! / mean;
      return values;
    });
  }

  /** The cache readings of one eviction round: each (kind, layer) read from the cache once. */
  private roundReads(): RoundReads {
    const context = this.sequence.context;
    const cache = new Map<string, LayerReading | null>();
    const readLayer = (kind: CacheReading, layer: number): LayerReading | null => {
      if (kind === 'valueNorm') {
        const read = readValueNorms(this.llama, context, layer);
        return read && { nCells: read.nCells, nHeadKv: read.nHeadKv, values: read.norms };
      }
      const read = readKeySimilarity(this.llama, context, layer);
      return read && { nCells: read.nCells, nHeadKv: read.nHeadKv, values: read.similarity };
    };
    return {
      read(kind, layer) {
        const key = `${kind}:${layer}`;
        if (!cache.has(key)) cache.set(key, readLayer(kind, layer));
        return cache.get(key) ?? null;
      },
    };
  }

  /**
   * The slots a scorer ranks with: the observed (layer, KV head) pairs, or, for one that reads no
   * attention, every KV head of each layer its first reading covers (the full layers).
   */
  private scoredSlots(round: RoundReads): ScoreSlot[] {
    if (this.needsScores) return this.slots;
    const first = this.scorer.reads[0];
    if (!first) return [];
    const slots: ScoreSlot[] = [];
    for (let layer = 0; layer < this.layers; layer++) {
      const read = round.read(first, layer);
      for (let head = 0; read && head < read.nHeadKv; head++) slots.push({ layer, head });
    }
    return slots;
  }

  /**
   * Importance of each token index: the scorer's score per slot (from attention and the readings
   * it declares), pooled over positions per slot when the policy pools (a needle is a span:
   * pooling keeps its neighbours with it), summed over slots, or with heads=max their largest: a
   * token one head attends to sharply (a retrieval head's fact) is not outranked by tokens every
   * head attends to a little. heads=share takes the largest of each slot's share of what it gives
   * the candidates [from, to): a layer with large value norms, or a head that gives the middle
   * little, no longer decides the ranking by its scale alone.
   */
  private importance(n: number, from: number, to: number, unwritten: ReadonlySet<number>, pool = this.policy.pool): Float64Array {
    const total = new Float64Array(n);
    const round = this.roundReads();
    const slots = this.scoredSlots(round);
    if (slots.length === 0) return total;
    const attention = this.needsScores ? this.attention() : null;
    const readings = new Map(this.scorer.reads.map((kind) => [kind, this.readings(kind, slots, n, round, unwritten)] as const));
    const { heads } = this.policy;
    slots.forEach((_, slot) => {
      const inputs: SlotInputs = { attention: attention?.[slot]?.subarray(0, n) ?? null };
      for (const [kind, perSlot] of readings) {
        const values = perSlot[slot];
        if (values) inputs[kind] = values.subarray(0, n);
      }
      let slotImportance = this.scorer.score(inputs);
      if (pool > 1) slotImportance = maxPool(slotImportance, pool);
      if (heads === 'share') slotImportance = shareOf(slotImportance, from, to);
      if (heads === 'sum') for (let i = 0; i < n; i++) total[i] = total[i]! + slotImportance[i]!;
      else for (let i = 0; i < n; i++) total[i] = Math.max(total[i]!, slotImportance[i]!);
    });
    return total;
  }

  /** Evicts down to the budget if `incoming` more tokens would not fit in the context. */
  private async makeRoom(incoming: number, duringPrefill: boolean): Promise<void> {
    const n = this.sequence.nextTokenIndex;
    if (n + incoming <= this.capacity) return;
    await this.evictToBudget(duringPrefill);
  }

  /** One eviction round: keeps the budget's tokens, ranked by what has been observed so far; never one of `dropped`. */
  async evictToBudget(duringPrefill: boolean, dropped: ReadonlySet<number> = new Set(), keepAtMost = this.keepTokens): Promise<void> {
    const n = this.sequence.nextTokenIndex;
    if (n <= keepAtMost && dropped.size === 0) return;
    const started = performance.now();
    this.syncOrigins();
    const keep = this.selectKept(n, dropped, keepAtMost);
    const ranges = evictedRanges(keep, n);
    await this.sequence.eraseContextTokenRanges(ranges);
    this.compact(keep);
    this.origin = keep.map((i) => this.origin[i]!);
    this.stats.evicted += n - keep.length;
    this.stats.rounds += 1;
    if (duringPrefill) this.stats.prefillRounds += 1;
    this.stats.evictMs += performance.now() - started;
  }

  /**
   * Token indices kept, increasing: sinks, the recent window, and the most important of the rest,
   * none of `dropped` (the room they would have taken goes to the most important).
   */
  private selectKept(n: number, dropped: ReadonlySet<number>, keepAtMost: number): number[] {
    const sink = Math.min(this.policy.sink, n);
    const recentFrom = Math.max(sink, n - this.recent);
    let always = 0;
    for (let i = 0; i < n; i++) if ((i < sink || i >= recentFrom) && !dropped.has(i)) always++;
    const heavy = Math.max(0, keepAtMost - always);
    const importance = this.importance(n, sink, recentFrom, dropped);
    const middle = Array.from({ length: recentFrom - sink }, (_, k) => sink + k).filter((i) => !dropped.has(i));
    const kept = new Set(mostImportant(middle, importance, heavy, this.selectionUnits(n)));
    const keep: number[] = [];
    for (let i = 0; i < n; i++) if (!dropped.has(i) && (i < sink || i >= recentFrom || kept.has(i))) keep.push(i);
    return keep;
  }

  /** How the held tokens group into units kept whole (null: token by token). */
  private selectionUnits(n: number): SelectionUnits | null {
    const { chunk } = this.policy;
    if (chunk === 'sentence') {
      const tokens = this.sequence.contextTokens;
      const ends = Array.from({ length: n }, (_, i) => this.endsSentence(tokens[i]!));
      return { runOf: sentenceRuns(this.origin.slice(0, n), ends, MAX_SENTENCE_TOKENS), score: 'max' };
    }
    if (chunk <= 1) return null;
    return { runOf: this.origin.slice(0, n).map((index) => Math.floor(index / chunk)), score: 'sum' };
  }

  /** Whether a token's text has a letter or a digit. */
  private hasWord(token: Token): boolean {
    return WORD.test(this.sequence.model.detokenize([token]));
  }

  /** Whether a token's text ends a sentence (or a line); memoised per token id. */
  private endsSentence(token: Token): boolean {
    let ends = this.sentenceEnds.get(token);
    if (ends === undefined) {
      ends = SENTENCE_END.test(this.sequence.model.detokenize([token]));
      this.sentenceEnds.set(token, ends);
    }
    return ends;
  }

  /** Moves the scores of kept tokens to their new (compacted) indices. */
  private compact(keep: number[]): void {
    const move = (scores: Float64Array) => {
      const next = new Float64Array(scores.length);
      keep.forEach((from, to) => (next[to] = scores[from]!));
      return next;
    };
    this.accumulated = this.accumulated.map(move);
    for (const snap of this.snapshots) snap.scores = snap.scores.map(move);
    if (this.aheadScores) this.aheadScores = this.aheadScores.map(move);
  }
}

/** What prefillThenEvict finds in the sequence already, and what runs just before it evicts. */
export interface PrefillThenEvictOptions {
  /** Leading prompt tokens the sequence already holds (restored from disk): only the rest is evaluated. */
  heldTokens?: number;
  /** Runs once the whole prompt (but its last token) is in, before any token is evicted. */
  beforeEvict?: () => Promise<void>;
}

/**
 * Eviction with the question in view (when=prompt): prefills the prompt but its last token at full
 * size, observing as a turn would, then runs one eviction round, so the ranking sees the question.
 * The caller moves the kept tokens into a context of the budget's size. Returns null if cancelled;
 * else the round's statistics and the kept tokens' prompt indices.
 */
export async function prefillThenEvict(
  llama: Llama,
  sequence: LlamaContextSequence,
  eviction: { policy: EvictionPolicy; budgetTokens: number; headroom: number; layers: number },
  prompt: readonly Token[],
  onChunk: (done: number) => void,
  signal: AbortSignal,
  options: PrefillThenEvictOptions = {},
): Promise<{ stats: EvictionStats; origin: number[] } | null> {
  const held = options.heldTokens ?? 0;
  if (held === 0) await sequence.clearHistory();
  const evictor = new TokenEvictor(llama, sequence, eviction.policy, eviction, eviction.layers);
  try {
    if (!(await evictor.prefill(prompt.slice(held, -1), (done) => onChunk(held + done), signal))) return null;
    await options.beforeEvict?.();
    // a budget that holds the prompt and the first answer token evicts nothing, as when streaming
    if (sequence.nextTokenIndex + 2 > eviction.budgetTokens - 1) await evictor.evictToBudget(true);
    return { stats: evictor.stats, origin: evictor.keptOrigins() };
  } finally {
    evictor.stop();
  }
}
