// Runs one chat turn on a context sequence and measures it: the one pipeline every turn, fidelity
// probe and calibration runs through. A prefill, then a continuation: answer tokens generated, or
// given tokens teacher-forced with the logits after each (forcedLogits.ts). Three prefills, or a
// resumed one:
// - plain: node-llama-cpp evaluates the prompt in batch-sized chunks (progress and cancel between
//   chunks), then generates;
// - lazy (LazyLLM, llama-sift-prefill.cpp and -revive.cpp): llama.cpp prefills segment by segment, pruning tokens;
//   Sift samples the first token from the last logits (that is the TTFT), optionally completes the
//   pruned tokens from the aux cache, and hands the sequence back to node-llama-cpp to generate.
// - budgeted (VATP and baselines, kvEviction.ts): node-llama-cpp evaluates chunks that fit a context
//   sized to the budget, evicting the lowest-ranked tokens before each, and while generating.
// - resumed: the prompt went through a two-context stage first (turnStages.ts) and the sequence
//   holds what it kept.
// A follow-up on a sequence the previous turn left (history) keeps the leading tokens it shares
// with the prompt and evaluates only the rest, plainly: the cache it extends is whole.
// Every metric is a measurement of this run.
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { sampleToken } from './sampling.js';
import { forcedLogits } from './forcedLogits.js';
import { TokenEvictor, type EvictionStats } from './kvEviction.js';
import type { EvictionPlan, KvCost } from '../src-common/policy/contextPlan.js';
import { LiveReadings } from './liveReadings.js';
import { describeDepth, describeKept } from './keptText.js';
import { adoptNativeTokens, readKvLayerStats, readMemoryByBuffer, readKvMemoryBytes, readLastLogits, revivePruned, setObservation, type LazyPrefillStats } from './siftNative.js';
import { lazyTurnMetrics, runLazyPrefill, type LazyTurn } from './lazyPrefillRun.js';
import { type AutoSelectionMetrics, type BuildKind, type ConversationCacheMetrics, type DocumentReuseMetrics, type EvictionTurnMetrics, type SimLayerKvDecisionMetrics, type LazyTurnMetrics, type StopReason, type TurnEvent, type TurnMetrics, type TurnRequest } from '../src-common/engineTypes.js';
import { EngineError } from './engineError.js';
import { reusablePrefix, type EvictedContinuation, type EvictedTurn } from './conversationCache.js';

/** An evictor's turn (contextPlan.ts). */
export type EvictionTurn = EvictionPlan;

/**
 * What follows the prefill: answer tokens sampled as the request's sampling says, or `follow`
 * teacher-forced (the logits after the prompt and after each forced token are the outcome).
 */
export type Continuation = { kind: 'generate' } | { kind: 'force'; follow: readonly Token[] };

export interface ResumedPrefill {
  /** When the turn started (performance.now()), for TTFT. */
  started: number;
  /** KV bytes of the context the prompt was prefilled in. */
  kvBytesPeak: number | null;
  /** when=prompt: the eviction round that ran there. */
  stats?: EvictionStats;
  /** The prompt indices of the tokens the sequence holds after an eviction there (the document heatmap). */
  origin?: number[];
  /** Answer tokens sampled there (SimLayerKV's decode rule): the turn goes on after them. */
  generated?: Token[];
  /** When the first of them was known (performance.now()). */
  firstTokenAt?: number | null;
  /** The turn ended there (end of generation, token limit, or cancelled). */
  stopReason?: StopReason | null;
  /** reuse=disk: what came from the stored full KV. */
  reuse?: DocumentReuseMetrics | null;
  /** The text of `generated` already streamed to the person (lazy+evictor shows its first token before evicting). */
  shownText?: string;
  /** lazy+evictor: the lazy prefill that ran there, and its tokens computed and keys per layer. */
  lazy?: LazyTurnMetrics | null;
  computed?: number[] | null;
  keys?: number[];
  /** A forced continuation: the logits rows already computed there (after the prompt, and after follow[0] for SimLayerKV's decode rule). */
  logits?: Float32Array[];
}

export interface TurnTarget {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  sequence: LlamaContextSequence;
  /** The request's messages rendered and tokenized (once per turn, by the engine). */
  prompt: Token[];
  /** When the engine got the request (performance.now()): TTFT counts from it, a revival wait included. */
  receivedAt: number;
  continuation: Continuation;
  /** Attention observation of that many query rows, on for the whole turn (to show it changes no logits). */
  observe?: number;
  build: BuildKind;
  batchSize: number;
  /** Set when the policy asks for lazy prefill and this build and model support it. */
  lazy: LazyTurn | null;
  /** Set when the policy evicts tokens under a budget; the context was sized for it. */
  eviction?: EvictionTurn | null;
  /**
   * Set when the prompt (but its last token) was prefilled and evicted elsewhere (when=prompt) and
   * the sequence already holds the kept tokens: the turn goes on from there.
   */
  resume?: ResumedPrefill | null;
  /**
   * The sequence may hold the previous turn's conversation: keep what the prompt shares with it
   * (at least `minShared` tokens, else read from the start). `allowErase`: the tail after the
   * shared prefix may be erased; a cache with windowed layers cannot, since their window has
   * already dropped what the erased tokens' replacements would attend to. Null: read from the start.
   */
  history?: { minShared: number; allowErase: boolean } | null;
  /**
   * Under an evictor: the sequence holds what the previous turn kept of the conversation, and the
   * prompt goes on from it (conversationCache.ts); the held tokens from `keep` on are erased first.
   * Null: read from the start.
   */
  continued?: EvictedContinuation | null;
  /** The previous lazy turn's revival, done while idle, for this turn's metrics. */
  revived?: ConversationCacheMetrics['revived'];
  /** The saved cache loaded into the sequence before the turn, for this turn's metrics. */
  restored?: ConversationCacheMetrics['restored'];
  /**
   * A cache with windowed layers cannot be cut back to the document after the turn: its tokens
   * before the question (`at`) are saved on disk when a plain prefill reaches them.
   */
  saveDocument?: { at: number; save(sequence: LlamaContextSequence): Promise<void> } | null;
  /** SimLayerKV's per-prompt decision (rule=prefill|decode), when it made one. */
  simLayerKvDecision?: SimLayerKvDecisionMetrics | null;
  /** What policy auto chose, when it did. */
  selection?: AutoSelectionMetrics | null;
  /** Said with the metrics, e.g. why a requested policy did not apply. */
  notice: string | null;
  /** The KV bytes the plan predicted, reported beside the measured ones. */
  kvPredicted?: KvCost | null;
}

export interface TurnOutcome {
  answer: string;
  stopReason: StopReason;
  metrics: TurnMetrics;
  /** A forced continuation's logits: after the prompt, then after each forced token. */
  logits: Float32Array[] | null;
  /** Under an evictor: what the sequence holds of the turn's tokens, for a follow-up to go on from. */
  evicted: EvictedTurn | null;
}

/** Throws PROMPT_TOO_LONG before any work when the prompt and one answer token cannot fit. */
export function checkPromptFits(promptTokens: number, contextSize: number): void {
  if (promptTokens + 1 > contextSize) {
    throw new EngineError(
      'PROMPT_TOO_LONG',
      `The prompt is ${promptTokens} tokens but the context holds ${contextSize}. ` +
        'Choose auto or an evicting policy (such as vatp:budget=0.25,pool=7), which reads it whole through a cache of the context\'s size and keeps what the question needs; ' +
        'or attach less text, or load the model with a larger context.',
    );
  }
}

/**
 * Under a budget evicting once the prompt is in (when=prompt), the whole prompt is first read in
 * one context, so it must fit the positions the model was trained on: past them its answers are
 * noise. Such a prompt is refused before any work; evicting while it streams in reads it whole.
 */
export function checkPromptWithinTraining(promptTokens: number, trainContextSize: number): void {
  if (promptTokens + 1 > trainContextSize) {
    throw new EngineError(
      'PROMPT_TOO_LONG',
      `The prompt is ${promptTokens} tokens but this model was trained on at most ${trainContextSize}, and this policy reads the whole prompt in one context first. ` +
        'Drop when=prompt (eviction then runs while the document streams in, within the context), choose auto, or attach less text.',
    );
  }
}

/** Streams the answer as text: a multi-byte character can span tokens, so emit only whole ones. */
class AnswerStream {
  readonly tokens: Token[] = [];
  private text = '';

  constructor(
    private readonly model: LlamaModel,
    private readonly onEvent: (event: TurnEvent) => void,
  ) {}

  /** Tokens generated elsewhere, of which `shownText` was streamed already. */
  adopt(tokens: readonly Token[], shownText: string): void {
    this.tokens.push(...tokens);
    this.text = shownText;
    const text = this.model.detokenize(this.tokens);
    if (!text.endsWith('\uFFFD') && text.length > this.text.length) {
      this.onEvent({ type: 'token', text: text.slice(this.text.length) });
      this.text = text;
    }
  }

  push(token: Token): void {
    this.tokens.push(token);
    const text = this.model.detokenize(this.tokens);
    if (!text.endsWith('\uFFFD') && text.length > this.text.length) {
      this.onEvent({ type: 'token', text: text.slice(this.text.length) });
      this.text = text;
    }
  }

  get answer(): string {
    return this.model.detokenize(this.tokens);
  }
}

interface Prefilled {
  /** The tokens to feed node-llama-cpp's generator next. */
  next: Token[];
  /** A forced continuation's logits rows known after the prefill (a lazy prefill's last-token row). */
  known: Float32Array[];
  /**
   * Forced: how many tokens of prompt + follow the sequence holds (or stands for, after an
   * eviction); by default the prompt but its last token, and one more per known row.
   */
  held?: number;
  ttftMs: number;
  lazy: LazyTurnMetrics | null;
  computed: number[] | null;
  keys?: number[];
  stopReason: StopReason | null;
  /** The document saved on disk mid-prefill (saveDocument). */
  saved?: ConversationCacheMetrics['saved'];
  /** A lazy prefill: each pruned token's position and the first layer it skipped. */
  prunedAt?: LazyPrefillStats['prunedAt'];
}

async function budgetedPrefill(
  evictor: TokenEvictor,
  prompt: Token[],
  held: number,
  continuation: Continuation,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<Prefilled> {
  const report = (done: number) => onEvent({ type: 'progress', phase: 'prefill', done: held + done, total: prompt.length, cache: evictor.cacheNow() });
  const finished = await evictor.prefill(prompt.slice(held, -1), report, signal, evictor.lookaheadTokensOf(prompt));
  if (!finished) return { next: [], known: [], ttftMs: 0, lazy: null, computed: null, stopReason: 'cancelled' };
  // the last prompt token is evaluated with generation: make room for it and the first answer
  // token (forcing makes its own room, evaluation by evaluation)
  if (continuation.kind === 'generate') await evictor.afterPrefill();
  return { next: prompt.slice(-1), known: [], ttftMs: 0, lazy: null, computed: null, stopReason: null };
}

async function plainPrefill(
  target: TurnTarget,
  prompt: Token[],
  held: number,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<Prefilled> {
  // all but the last prompt token, after what the sequence holds; the last one is evaluated with generation
  const prefill = prompt.slice(0, -1);
  const saveAt = target.saveDocument && target.saveDocument.at > held && target.saveDocument.at < prefill.length ? target.saveDocument : null;
  let saved: ConversationCacheMetrics['saved'] = null;
  for (let i = held; i < prefill.length; ) {
    if (signal.aborted) return { next: [], known: [], ttftMs: 0, lazy: null, computed: null, stopReason: 'cancelled' };
    // a batch ends at the document's end when it is saved there (batched results do not depend on the split)
    const end = saveAt && i < saveAt.at && saveAt.at < i + target.batchSize ? saveAt.at : Math.min(i + target.batchSize, prefill.length);
    await target.sequence.evaluateWithoutGeneratingNewTokens(prefill.slice(i, end));
    onEvent({ type: 'progress', phase: 'prefill', done: end, total: prompt.length });
    if (saveAt && end === saveAt.at) saved = await saveDocumentAt(saveAt, target.sequence);
    i = end;
  }
  return { next: prompt.slice(-1), known: [], ttftMs: 0, lazy: null, computed: null, stopReason: null, saved };
}

/** Saves the sequence as it stands (the document read); a failure costs only the reopen, never the turn. */
async function saveDocumentAt(saveAt: NonNullable<TurnTarget['saveDocument']>, sequence: LlamaContextSequence): Promise<ConversationCacheMetrics['saved']> {
  const saving = performance.now();
  try {
    await saveAt.save(sequence);
    return { tokens: saveAt.at, ms: Math.round(performance.now() - saving) };
  } catch (err) {
    console.error(`sift: could not save the document's cache: ${String(err)}`);
    return null;
  }
}

async function lazyPrefillTurn(
  target: TurnTarget,
  lazy: LazyTurn,
  prompt: Token[],
  request: TurnRequest,
  answer: AnswerStream,
  started: number,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<Prefilled> {
  const { llama, model, sequence } = target;
  const stats = await runLazyPrefill(llama, sequence, lazy, prompt, onEvent, signal);
  if (!stats) return { next: [], known: [], ttftMs: 0, lazy: null, computed: null, stopReason: 'cancelled' };
  // node-llama-cpp learns what the native prefill filled at once: a turn ending at its first token
  // leaves a sequence a follow-up may extend
  adoptNativeTokens(sequence, prompt);
  const lastLogits = readLastLogits(llama, sequence.context);
  const forcing = target.continuation.kind === 'force';
  const first = forcing ? null : (sampleToken(lastLogits, request.sampling) as Token);
  const ttftMs = performance.now() - started;
  const metrics = lazyTurnMetrics(lazy, stats);
  const done = { ttftMs, lazy: metrics, computed: stats.computed, keys: stats.keys, known: forcing ? [lastLogits] : [], prunedAt: stats.prunedAt };
  if (first !== null) {
    if (model.isEogToken(first)) return { ...done, next: [], stopReason: 'eos' };
    answer.push(first);
    if (signal.aborted) return { ...done, next: [], stopReason: 'cancelled' };
  }
  if (lazy.revive) {
    const revived = await revivePruned(llama, sequence);
    metrics.revived = revived.revived;
    metrics.reviveMs = round(revived.ms);
  }
  return { ...done, next: first === null ? [] : [first], stopReason: null };
}

export async function runTurn(
  target: TurnTarget,
  request: TurnRequest,
  emit: (event: TurnEvent) => void,
  signal: AbortSignal,
): Promise<TurnOutcome> {
  const { model, sequence, context, prompt, continuation } = target;
  // every progress event carries what the cache holds now, for the live indicators
  const live = new LiveReadings(target.llama, context, model.gpuLayers > 0);
  const onEvent = (event: TurnEvent) => emit(event.type === 'progress' ? live.annotate(event) : event);
  const evicting = target.eviction ?? null;
  const resume = target.resume ?? null;
  const forced = continuation.kind === 'force' ? continuation.follow.length : 0;
  // under a budget the prompt may be longer than the context: eviction makes room. Evicting while
  // it streams in keeps positions within the budget's context (erasing shifts later tokens down),
  // so a document longer than the trained context is read whole; other turns must fit.
  // (a follow-up going on from what an evictor kept reads only its new tokens: no limit but the budget)
  const continued = evicting && !resume ? (target.continued ?? null) : null;
  if (!evicting) checkPromptFits(prompt.length + forced, context.contextSize);
  else if ((evicting.policy.when !== 'stream' && !continued) || resume) checkPromptWithinTraining(prompt.length + forced, model.trainContextSize);
  const maxTokens = evicting
    ? Math.max(1, request.sampling.maxTokens)
    : Math.max(1, Math.min(request.sampling.maxTokens, context.contextSize - prompt.length));

  const started = resume?.started ?? target.receivedAt;
  const reused = resume ? 0 : evicting ? await keepKeptHistory(sequence, continued) : await keepSharedHistory(sequence, prompt, target.history ?? null);
  // a lazy prefill starts from position 0; after a reused (whole) prefix the rest is read plainly
  const lazy = reused > 0 ? null : target.lazy;
  const kvMeter = new KvMeter(target, resume?.kvBytesPeak ?? null);
  if (!resume) onEvent({ type: 'progress', phase: 'prefill', done: reused, total: prompt.length });

  const answer = new AnswerStream(model, onEvent);
  const evictor = evicting
    ? new TokenEvictor(target.llama, sequence, evicting.policy, evicting, evicting.layers, resume?.stats, continued ? { origin: continued.origin, next: continued.covered, scores: continued.scores } : resume?.origin && { origin: resume.origin })
    : null;
  const observing = !evictor && (target.observe ?? 0) > 0;
  if (observing) setObservation(target.llama, context, target.observe!);
  try {
    return await generate();
  } finally {
    evictor?.stop();
    if (observing) setObservation(target.llama, context, 0);
  }

  /** Teacher forcing: the prompt and follow tokens not evaluated yet, with the logits from the prompt's last token on. */
  async function force(follow: readonly Token[], prefilled: Prefilled): Promise<Float32Array[]> {
    const held = prefilled.held ?? prompt.length - 1 + prefilled.known.length;
    const tail = [...prompt, ...follow].slice(held);
    const rows = evictor ? await evictor.forceLogits(tail) : await forcedLogits(sequence, tail, Math.max(0, prompt.length - 1 - held));
    return [...prefilled.known, ...rows];
  }

  async function generate(): Promise<TurnOutcome> {
    const prefilled: Prefilled = resume
      ? resumedPrefill(resume, prompt, answer, started, onEvent, signal)
      : lazy
      ? await lazyPrefillTurn(target, lazy, prompt, request, answer, started, onEvent, signal)
      : evictor
        ? await budgetedPrefill(evictor, prompt, reused, continuation, onEvent, signal)
        : continuation.kind === 'force'
          ? // the prompt after what the cache holds goes in with the forced tokens: one evaluation,
            // the batches a native prefill uses
            { next: [], known: [], held: reused, ttftMs: 0, lazy: null, computed: null, stopReason: null }
          : await plainPrefill(target, prompt, reused, onEvent, signal);
    kvMeter.sample();
    // a lazy prefill's chart ends at what each layer computed (its cells are shared by every layer)
    if (lazy) onEvent({ type: 'progress', phase: 'prefill', done: prompt.length, total: prompt.length, ...(prefilled.computed ? { live: { layers: prefilled.computed } } : {}) });

    let ttftMs = prefilled.ttftMs;
    let stopReason: StopReason = prefilled.stopReason ?? 'maxTokens';
    let logits: Float32Array[] | null = null;
    if (continuation.kind === 'force') {
      if (prefilled.stopReason === 'cancelled') throw new EngineError('INTERNAL', 'a forced continuation was cancelled');
      logits = await force(continuation.follow, prefilled);
      ttftMs ||= performance.now() - started;
      stopReason = 'maxTokens';
    } else if (prefilled.stopReason === null && answer.tokens.length < maxTokens) {
      evictor?.startDecode();
      // yieldEogToken: node-llama-cpp otherwise ends quietly at end-of-generation, and the stop
      // reason would read as the length limit
      const options =
        request.sampling.temperature > 0
          ? { temperature: request.sampling.temperature, topP: request.sampling.topP, seed: request.sampling.seed, yieldEogToken: true }
          : { yieldEogToken: true };
      for await (const token of sequence.evaluate(prefilled.next, options)) {
        if (ttftMs === 0) {
          ttftMs = performance.now() - started;
          onEvent({ type: 'progress', phase: 'prefill', done: prompt.length, total: prompt.length });
        }
        if (model.isEogToken(token)) {
          stopReason = 'eos';
          break;
        }
        answer.push(token);
        if (signal.aborted) {
          stopReason = 'cancelled';
          break;
        }
        if (answer.tokens.length >= maxTokens) break;
        await evictor?.afterDecodeStep();
      }
    }
    kvMeter.sample();
    const totalMs = performance.now() - started;
    const generated = answer.tokens.length;

    const kv = readKvLayerStats(target.llama, context);
    const decodeMs = totalMs - ttftMs;
    const metrics: TurnMetrics = {
      build: target.build,
      policy: request.policy,
      promptTokens: prompt.length,
      prefillTokens: prompt.length - reused - (resume?.reuse?.reusedTokens ?? 0),
      generatedTokens: generated,
      ttftMs: round(ttftMs),
      totalMs: round(totalMs),
      prefillTokensPerSec: ttftMs > 0 ? round(((prompt.length - reused) / ttftMs) * 1000) : 0,
      decodeTokensPerSec: generated > 1 && decodeMs > 0 ? round(((generated - 1) / decodeMs) * 1000) : 0,
      kvBytesAllocated: kv?.bytesAllocated ?? null,
      kvBytesUsed: kv?.bytesUsed ?? null,
      kvBytesPeak: kvMeter.peak,
      kvBytesSteady: kvMeter.last,
      kvPredicted: target.kvPredicted ?? null,
      memory: readMemoryByBuffer(target.llama, context),
      // a follow-up going on from the kept tokens ran no lazy prefill of its own
      eviction: evictor && evicting ? { ...evictionMetrics(evicting, evictor), reuse: resume?.reuse ?? null, afterLazy: evicting.afterLazy && !continued } : null,
      kept: evictor
        ? describeKept(model, prompt, request.messages, evictor.keptOrigins())
        : describeDepth(model, prompt, request.messages, prefilled.prunedAt, model.fileInsights.totalLayers - 1),
      contextSize: context.contextSize,
      perLayer: (kv?.perLayer ?? []).map((layer) => ({
        ...layer,
        computed: prefilled.computed?.[layer.layer] ?? prompt.length,
        keys: prefilled.keys?.[layer.layer] ?? prompt.length,
      })),
      lazy: prefilled.lazy,
      simLayerKvDecision: target.simLayerKvDecision ?? null,
      selection: target.selection ?? null,
      // what stays for the next question is the engine's to say, after the turn
      conversation: {
        reusedTokens: reused,
        continued: continued ? { tokens: continued.keep, covered: continued.covered } : null,
        revived: target.revived ?? null,
        restored: reused > 0 ? (target.restored ?? null) : null,
        saved: prefilled.saved ?? null,
        next: 'none',
        nextReason: null,
      },
      notice: target.notice,
    };
    const stream = continuation.kind === 'force' ? [...prompt, ...continuation.follow] : [...prompt, ...answer.tokens];
    const evicted = evictor ? { promptTokens: prompt.length, stream, origin: evictor.keptOrigins(), scores: evictor.carriedScores() } : null;
    return { answer: answer.answer, stopReason, metrics, logits, evicted };
  }
}

/**
 * An evicting turn's start: the tokens the previous turn kept that the prompt goes on from (the
 * rest erased), or an empty sequence; returns the prompt tokens they stand for.
 */
async function keepKeptHistory(sequence: LlamaContextSequence, continued: EvictedContinuation | null): Promise<number> {
  if (!continued) {
    await sequence.clearHistory();
    return 0;
  }
  const held = sequence.nextTokenIndex;
  if (continued.keep < held) await sequence.eraseContextTokenRanges([{ start: continued.keep, end: held }]);
  return continued.covered;
}

/** Keeps the leading tokens of the sequence the prompt may reuse (conversationCache.ts) and erases the rest; returns how many. */
async function keepSharedHistory(sequence: LlamaContextSequence, prompt: Token[], history: TurnTarget['history']): Promise<number> {
  const held = sequence.nextTokenIndex;
  const kept = history ? reusablePrefix(held, sequence.compareContextTokens(prompt).firstDifferentIndex, prompt.length, history) : 0;
  if (kept === 0) await sequence.clearHistory();
  else if (kept < held) await sequence.eraseContextTokenRanges([{ start: kept, end: held }]);
  return sequence.nextTokenIndex;
}

/** A turn whose prompt (and maybe first answer tokens) went through another context first. */
function resumedPrefill(
  resume: ResumedPrefill,
  prompt: Token[],
  answer: AnswerStream,
  started: number,
  onEvent: (event: TurnEvent) => void,
  signal: AbortSignal,
): Prefilled {
  const generated = resume.generated ?? [];
  const ttftMs = resume.firstTokenAt ? resume.firstTokenAt - started : 0;
  if (ttftMs > 0) onEvent({ type: 'progress', phase: 'prefill', done: prompt.length, total: prompt.length });
  answer.adopt(generated, resume.shownText ?? '');
  const stopReason = resume.stopReason ?? (signal.aborted ? 'cancelled' : null);
  const next = generated.length > 0 ? generated.slice(-1) : prompt.slice(-1);
  const lazy = { lazy: resume.lazy ?? null, computed: resume.computed ?? null, ...(resume.keys ? { keys: resume.keys } : {}) };
  return { next, known: resume.logits ?? [], ttftMs, ...lazy, stopReason };
}

function evictionMetrics(evicting: EvictionTurn, evictor: TokenEvictor): EvictionTurnMetrics {
  const { evicted, rounds, prefillRounds, evictMs, lookaheadTokens, lookaheads, recalledTokens } = evictor.stats;
  return { method: evicting.policy.method, budgetTokens: evictor.capacityTokens, keptTokens: evictor.keepTokens, evicted, rounds, prefillRounds, evictMs: round(evictMs), lookaheadTokens, lookaheads, recalledTokens, recalledText: evictor.recalledText };
}

/** KV bytes the backend reports, sampled at the turn's start, after the prefill and at its end. */
class KvMeter {
  peak: number | null = null;
  last: number | null = null;

  constructor(
    private readonly target: TurnTarget,
    peakBefore: number | null,
  ) {
    this.peak = peakBefore;
    this.sample();
  }

  sample(): void {
    const bytes = readKvMemoryBytes(this.target.llama, this.target.context);
    if (bytes === null) return;
    this.last = bytes;
    this.peak = Math.max(this.peak ?? 0, bytes);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
