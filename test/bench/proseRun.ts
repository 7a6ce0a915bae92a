// Runs the real-document QA suite (issue 13): sizes each document on the model's own tokenizer,
// then asks every case of a length once per row, greedy, in the app's chat format (the default
// system prompt, composeUserMessage), rows interleaved and the order reversed every other case,
// so the paired TTFT ratios compare turns on the same prompt run back to back.
import { createHash } from 'node:crypto';
import { EngineError } from '../../src-engine/engineError.js';
import type { EngineClient } from '../../src-main/engine/engineClient.js';
import type { BenchCache } from './cache.js';
import type { EnginePool } from './engines.js';
import { compareDistributions } from './divergence.js';
import { probeRow, tokenize } from './fidelity.js';
import type { ActiveTurn } from './passkeyTurn.js';
import { prefillCost, type Progress } from './progress.js';
import {
  answerMatches,
  loadProseCorpus,
  proseLength,
  type ProseCase,
  type ProseLengthPlan,
  type ProseSource,
} from '../../src-main/models/proseCases.js';
import { PROSE_RESERVE, type ProseSuite } from './proseSuite.js';
import { prepareRows, type RowState } from './rowStates.js';
import { contextSizeFor, rowLabel } from './suite.js';

export interface ProseTurn {
  round: number;
  document: number;
  kind: ProseCase['kind'];
  depths: number[];
  answer: string;
  correct: boolean;
  promptTokens: number;
  ttftMs: number;
  kvBytesSteady: number | null;
  kvBytesPeak: number | null;
  notice: string | null;
  /** The lazy schedule the engine ran (a bare `lazy` is the model's default); null for other policies. */
  lazy: { pruneLayers: number[]; keep: number[]; scoreFrom: number; obsWindow: number; pool?: number; span?: number } | null;
  /** Pruned tokens completed after the first answer token (lazy revive=on): the second token waits for it; null when none. */
  reviveMs?: number | null;
  /** Forced through patched full KV's answer (suite.forcedFidelity); null for full rows or when not measured. */
  fidelity: { positions: number; top1Agreement: number; meanKl: number } | null;
}

export interface ProseLengthRun {
  length: number;
  contextSize: number;
  plan: ProseLengthPlan;
  /** Prompt tokens of each document's longest case, as the reference engine counted them. */
  documentTokens: number[];
  turns: Map<string, ProseTurn[]>;
}

export interface ProseRawRun {
  rows: RowState[];
  lengths: ProseLengthRun[];
  /** Characters per token of each source on this model's tokenizer (the first 2,500 characters). */
  charsPerToken: Record<string, number>;
}

export interface ProseContext {
  suite: ProseSuite;
  /** Where document sizes are kept: counting an 8k document's tokens is a full prefill. */
  cache: BenchCache;
  modelSha256: string;
  pool: EnginePool;
  progress: Progress;
  setActiveTurn(turn: ActiveTurn | null): void;
  isStopping(): boolean;
}

/** Bump when proseCases.ts builds different documents from the same inputs (cached sizes go stale). */
const PROSE_BUILDER_VERSION = 2;

function tag(length: number): string {
  return length % 1024 === 0 ? `${length / 1024}k` : String(length);
}

async function runTurn(ctx: ProseContext, state: RowState, task: ProseCase): Promise<ProseTurn> {
  const { client } = state.slot;
  const running = client.runTurn(
    { messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens: ctx.suite.answerTokens }, policy: state.row.policy, cachePrompt: false },
    () => {},
  );
  ctx.setActiveTurn({ client, turnId: running.turnId });
  try {
    const { answer, metrics, stopReason } = await running.result;
    if (stopReason === 'cancelled') throw new Error('the turn was cancelled');
    return {
      round: task.round,
      document: task.document,
      kind: task.kind,
      depths: task.depths,
      answer,
      correct: answerMatches(answer, task.accept),
      promptTokens: metrics.promptTokens,
      ttftMs: metrics.ttftMs,
      kvBytesSteady: metrics.kvBytesSteady,
      kvBytesPeak: metrics.kvBytesPeak,
      notice: metrics.notice !== null && metrics.notice !== '' ? metrics.notice : null,
      lazy: metrics.lazy ? { pruneLayers: metrics.lazy.pruneLayers, keep: metrics.lazy.keep, scoreFrom: metrics.lazy.scoreFrom, obsWindow: metrics.lazy.obsWindow, pool: metrics.lazy.pool, span: metrics.lazy.span } : null,
      reviveMs: metrics.lazy && metrics.lazy.revived > 0 ? metrics.lazy.reviveMs : null,
      fidelity: null,
    };
  } finally {
    ctx.setActiveTurn(null);
  }
}

/**
 * Builds a length's documents to fit its context: a first guess from the source's characters per
 * token, then each document's longest case counted on the engine and the prose cut by the
 * overshoot until it fits (the facts and questions do not change with the prose's length).
 */
export async function sizeLength(
  ctx: ProseContext,
  length: number,
  sources: readonly ProseSource[],
  charsPerToken: Record<string, number>,
  countTokens: (c: ProseCase) => Promise<number>,
  cacheKey: string | null = null,
): Promise<{ plan: ProseLengthPlan; documentTokens: number[]; cached: boolean }> {
  const target = length - PROSE_RESERVE;
  const stored = cacheKey ? ctx.cache.readJson<{ chars: Array<[number, number]>; documentTokens: number[] }>(cacheKey) : null;
  if (stored) {
    const known = new Map(stored.chars);
    const plan = proseLength(length, ctx.suite.depths, sources, (_s, i) => known.get(i) ?? 0, ctx.suite.seed);
    return { plan, documentTokens: stored.documentTokens, cached: true };
  }
  // about 120 tokens of system prompt, template and question, and a first guess a little short, so
  // counting it never overflows the context; a document well short of the target grows once
  const chars = new Map<number, number>();
  const charsFor = (source: ProseSource, index: number) => chars.get(index) ?? Math.floor((target - 130) * 0.95 * (charsPerToken[source.id] ?? 4));
  let plan = proseLength(length, ctx.suite.depths, sources, charsFor, ctx.suite.seed);
  // the fact sentences and the longest question come on top of the prose: leave room for them, so
  // a document of four facts is not counted in a context it overflows
  for (const document of plan.documents) {
    const extra = document.facts.reduce((sum, f) => sum + f.sentence.length + 1, 0) + Math.max(...document.questions.map((q) => q.question.length));
    chars.set(document.index, Math.max(0, charsFor(sources[document.index % sources.length] as ProseSource, document.index) - extra));
  }
  plan = proseLength(length, ctx.suite.depths, sources, charsFor, ctx.suite.seed);
  let documentTokens: number[] = [];
  // prose is cut at sentence ends, so a small cut may change nothing: each retry cuts twice as far
  for (let attempt = 0; attempt < 6; attempt++) {
    documentTokens = [];
    let over = false;
    for (const document of plan.documents) {
      const cases = plan.cases.filter((c) => c.document === document.index);
      const longest = cases.reduce((a, b) => (b.messages[1]!.content.length > a.messages[1]!.content.length ? b : a));
      const tokens = await countTokens(longest);
      documentTokens.push(tokens);
      const proseChars = charsFor(sources[document.index % sources.length] as ProseSource, document.index);
      if (tokens > target) {
        over = true;
        chars.set(document.index, Math.floor(proseChars * (1 - (tokens - target + 8 * 2 ** attempt) / tokens)));
      } else if (attempt === 0 && tokens < target - 24) {
        // grow towards the target, aiming a little under it
        over = true;
        chars.set(document.index, Math.floor(proseChars * (1 + (target - tokens - 16) / tokens)));
      }
    }
    if (!over) {
      if (cacheKey) {
        const used = plan.documents.map((d) => [d.index, charsFor(sources[d.index % sources.length] as ProseSource, d.index)] as [number, number]);
        ctx.cache.writeJson(cacheKey, { chars: used, documentTokens });
      }
      return { plan, documentTokens, cached: false };
    }
    plan = proseLength(length, ctx.suite.depths, sources, charsFor, ctx.suite.seed);
  }
  throw new Error(`${tag(length)}: the prose documents do not fit ${target} tokens (${documentTokens.join(', ')})`);
}

const isFullRow = (state: RowState) => state.row.policy === 'full';

/**
 * Teacher-forced fidelity of each lossy row on one question: patched full KV's answer tokens are
 * forced through the row's policy and through full, and the next-token distributions compared.
 */
async function measureFidelity(ctx: ProseContext, task: ProseCase, active: RowState[], byRow: Map<RowState, ProseTurn>): Promise<void> {
  const full = active.find((s) => s.row.build === 'patched' && isFullRow(s) && s.row.flashAttention === false && !s.failure);
  const fullTurn = full ? byRow.get(full) : undefined;
  if (!full || !fullTurn) return;
  const follow = (await tokenize(full.slot.client, fullTurn.answer)).slice(0, ctx.suite.answerTokens);
  if (follow.length === 0) return;
  const referenceStarted = performance.now();
  const reference = await probeRow(full.slot.client, task.messages, follow, 'full');
  ctx.progress.step(prefillCost(task.length), performance.now() - referenceStarted, `${tag(task.length)} q${task.round + 1}: full's answer forced through full (the reference)`);
  for (const state of active) {
    const turn = byRow.get(state);
    if (!turn || isFullRow(state) || state.failure) continue;
    const started = performance.now();
    const candidate = await probeRow(state.slot.client, task.messages, follow, state.row.policy);
    const measure = compareDistributions(reference, candidate, follow.length);
    turn.fidelity = { positions: measure.positions, top1Agreement: measure.top1Agreement, meanKl: measure.meanKl };
    ctx.progress.step(
      prefillCost(task.length),
      performance.now() - started,
      `${tag(task.length)} ${rowLabel(state.row)} q${task.round + 1} forced through full's answer: top-1 ${(measure.top1Agreement * 100).toFixed(0)}% of ${measure.positions}, mean KL ${measure.meanKl.toFixed(3)}`,
    );
  }
}

/** A case's prompt tokens as the engine renders and tokenizes it, nothing evaluated (an 8k prefill per count otherwise). */
export function promptTokenCounter(client: EngineClient): (c: ProseCase) => Promise<number> {
  return async (c) => (await client.planTurn({ messages: c.messages, sampling: { temperature: 0, topP: 1, maxTokens: 1 }, policy: 'full', cachePrompt: false })).promptTokens;
}

export async function runProseBench(ctx: ProseContext): Promise<ProseRawRun> {
  const { suite, progress } = ctx;
  const rows = await prepareRows(suite.rows, ctx.pool, progress);
  const reference = rows.find((s) => s.row.build === 'stock' && s.row.policy === 'full' && !s.row.flashAttention && s.available);
  if (!reference) throw new Error('the stock full-KV row (flash attention off) is not available; it sizes the documents and is the TTFT baseline');
  const client = reference.slot.client;

  const sources = loadProseCorpus();
  const corpusHash = createHash('sha256').update(sources.map((x) => x.text).join('\u0000')).digest('hex');
  const charsPerToken: Record<string, number> = {};
  for (const source of sources) {
    // short enough to fit the smallest context (1k)
    const sample = source.text.slice(0, 2500);
    charsPerToken[source.id] = sample.length / (await tokenize(client, sample)).length;
  }
  progress.note(`prose: ${Object.entries(charsPerToken).map(([id, r]) => `${id} ${r.toFixed(2)} chars/token`).join(', ')}`);
  const countTokens = promptTokenCounter(client);

  const lengths: ProseLengthRun[] = [];
  for (const length of suite.lengths) {
    let started = performance.now();
    await ctx.pool.resize(contextSizeFor(length));
    // the sizes depend on the tokenizer, the template, the corpus, the builder and the cases asked for
    const sizeKey = ctx.cache.key({
      kind: 'prose-sizes',
      builder: PROSE_BUILDER_VERSION,
      model: ctx.modelSha256,
      build: client.build.id,
      length,
      depths: suite.depths,
      seed: suite.seed,
      corpus: corpusHash,
    });
    const { plan, documentTokens, cached } = await sizeLength(ctx, length, sources, charsPerToken, countTokens, sizeKey);
    const active = rows.filter((s) => s.available && s.failure === null);
    // with forced fidelity: full's reference probe and one per lossy row, as long as a turn each
    const probes = suite.forcedFidelity ? active.filter((s) => !isFullRow(s)).length + 1 : 0;
    progress.plan(prefillCost(length) * plan.cases.length * (active.length + probes));
    progress.note(
      `${tag(length)}: ${plan.documents.length} documents (${documentTokens.join(', ')} tokens), ${plan.cases.length} questions ` +
        `(${plan.cases.filter((c) => c.kind === 'two-passage').length} two-passage), ${cached ? 'sizes from the cache' : `sized in ${((performance.now() - started) / 1000).toFixed(1)} s`}`,
    );
    const turns = new Map<string, ProseTurn[]>(active.map((s) => [s.id, []]));
    for (const task of plan.cases) {
      const order = task.round % 2 === 0 ? active : [...active].reverse();
      const byRow = new Map<RowState, ProseTurn>();
      for (const state of order) {
        if (state.failure) continue;
        started = performance.now();
        let turn: ProseTurn;
        try {
          turn = await runTurn(ctx, state, task);
        } catch (err) {
          if (ctx.isStopping() || state === reference || !(err instanceof EngineError)) throw err;
          state.failure = `failed during the run (${err.code}): ${err.message}`;
          turns.delete(state.id);
          progress.note(`${rowLabel(state.row)}: ${state.failure}; left out from here on`);
          continue;
        }
        turns.get(state.id)?.push(turn);
        byRow.set(state, turn);
        progress.step(
          prefillCost(length),
          performance.now() - started,
          `${tag(length)} ${rowLabel(state.row)} q${task.round + 1}/${plan.cases.length} (${task.kind}, depth ${task.depths.map((d) => d.toFixed(2)).join('+')}): ` +
            `${(turn.ttftMs / 1000).toFixed(2)} s TTFT, ${turn.correct ? 'correct' : 'wrong'} “${turn.answer.replace(/\s+/g, ' ').slice(0, 50)}”`,
        );
      }
      if (suite.forcedFidelity) await measureFidelity(ctx, task, active, byRow);
    }
    lengths.push({ length, contextSize: reference.slot.info.contextSize, plan, documentTokens, turns });
  }
  return { rows, lengths, charsPerToken };
}
