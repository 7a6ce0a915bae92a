// Runs the suite: starts one engine per (build, flash attention), finds which rows this engine
// supports, then per length: the stock reference continuation, the passkey rounds (every row once
// per depth, builds interleaved), and the teacher-forced fidelity probes (a few prompts). Stock results come from
// the cache when they can; everything else is measured now.
import { type ChatMessage } from '../../src-common/engineTypes.js';
import { EngineError } from '../../src-engine/engineError.js';
import type { EnginePool } from './engines.js';
import type { FidelityReference } from './fidelity.js';
import { runFollowUp, type FollowUpSample } from './followUp.js';
import {
  cacheable,
  fidelityOf,
  passkeyKey,
  passkeySample,
  referenceFor,
  referenceKey,
  type MeasureContext,
} from './measurements.js';
import type { TurnSample } from './passkeyTurn.js';
import { prefillCost, type Progress } from './progress.js';
import {
  fidelityCases,
  fitFiller,
  followUpCases,
  passkeyCases,
  type FidelityCase,
  type FillerFit,
  type FollowUpCase,
  type PasskeyCase,
} from './prompts.js';
import type { FidelityResult } from './results.js';
import { prepareRows, type RowState } from './rowStates.js';
import { contextSizeFor, isKvRow, isReferenceRow, measuresKv, promptTokensFor, rowLabel, runsAtLength, type BenchRow } from './suite.js';

export type { RowState } from './rowStates.js';

export interface LengthRun {
  length: number;
  targetTokens: number;
  /** The context the engines held for this length (as the reference engine reports it). */
  contextSize: number;
  /** One stock continuation per fidelity prompt. */
  references: Array<FidelityReference & { cached: boolean; depth: number }>;
  samples: Map<string, TurnSample[]>;
  /** Follow-up cases of the KV-memory rows and their full-KV references (none at other lengths). */
  followUps: Map<string, FollowUpSample[]>;
  fidelity: Map<string, FidelityResult>;
}

export interface RawRun {
  rows: RowState[];
  lengths: LengthRun[];
  fit: FillerFit;
}

export interface BenchContext extends MeasureContext {
  pool: EnginePool;
  progress: Progress;
  /** True once Ctrl-C was pressed: errors are then the interruption, not a row failing. */
  isStopping(): boolean;
}

function took(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

function lengthLabel(length: number): string {
  return length % 1024 === 0 ? `${length / 1024}k` : String(length);
}

/**
 * A row whose turns fail is left out of the rest of the run, so one broken schedule does not end
 * hours of measurement; the failure is reported. The reference row failing does end the run.
 */
function dropFailedRow(ctx: BenchContext, state: RowState, samples: Map<string, unknown[]>, err: unknown): void {
  if (ctx.isStopping() || isReferenceRow(state.row) || !(err instanceof EngineError)) throw err;
  state.failure = `failed during the run (${err.code}): ${err.message}`;
  samples.delete(state.id);
  ctx.progress.note(`${rowLabel(state.row)}: ${state.failure}; left out from here on`);
}

/** Rows that run the follow-up cases at a length: KV rows and their full-KV references, when a KV row runs there. */
function followUpRows(states: readonly RowState[], rows: readonly BenchRow[], length: number): RowState[] {
  const here = states.filter((s) => s.available && runsAtLength(s.row, length));
  if (!here.some((s) => isKvRow(s.row))) return [];
  return here.filter((s) => measuresKv(s.row, rows));
}

/**
 * Work a length still needs, in prefill-cost units, for the ETA. Cached stock results cost
 * nothing; a stock probe is counted even when cached (its key needs the reference's tokens).
 * A follow-up case is two turns.
 */
function planLength(
  ctx: BenchContext,
  states: RowState[],
  reference: RowState,
  plan: { length: number; cases: PasskeyCase[]; followUps: FollowUpCase[]; fidelity: FidelityCase[] },
): number {
  const { length, cases, fidelity } = plan;
  const measured = states.filter((s) => s.available && runsAtLength(s.row, length));
  const trials = measured.reduce(
    (sum, s) => sum + (cacheable(s) ? cases.filter((task) => !ctx.cache.has(passkeyKey(ctx, s, task))).length : cases.length),
    0,
  );
  const probes = fidelity.length * measured.filter((s) => s.probeable && !isReferenceRow(s.row)).length;
  const referenceRuns = 2 * fidelity.filter((f) => !ctx.cache.has(referenceKey(ctx, reference, f.messages))).length;
  const followUpTurns = 2 * plan.followUps.length * followUpRows(states, ctx.suite.rows, length).length;
  return prefillCost(promptTokensFor(length)) * (trials + probes + referenceRuns + followUpTurns);
}

export async function runBench(ctx: BenchContext): Promise<RawRun> {
  const { suite, progress } = ctx;
  const rows = await prepareRows(suite.rows, ctx.pool, progress);
  const referenceState = rows.find((s) => isReferenceRow(s.row) && s.available);
  if (!referenceState) throw new Error('the stock full-KV row (flash attention off) is not available; it is the reference for every other row');

  const countTokens = async (messages: ChatMessage[]) =>
    (await referenceState.slot.client.probeLogits({ messages })).promptTokens.length;
  const fit = await fitFiller(countTokens);
  progress.note(`filler: ${fit.tokensPerBlock.toFixed(2)} tokens per block on ${ctx.model.fileName}`);

  const plans = suite.lengths.map((length) => {
    const targetTokens = promptTokensFor(length);
    const cases = passkeyCases(length, targetTokens, suite.depths, fit);
    const fidelity = fidelityCases(length, targetTokens, suite.fidelityPrompts, fit);
    const followUps = followUpCases(length, targetTokens, suite.followUps, fit);
    progress.plan(planLength(ctx, rows, referenceState, { length, cases, followUps, fidelity }));
    return { length, targetTokens, cases, followUps, fidelity };
  });

  const results: LengthRun[] = [];
  for (const plan of plans) {
    const active = rows.filter((s) => s.available && s.failure === null && runsAtLength(s.row, plan.length));
    const cost = prefillCost(plan.targetTokens);
    const tag = lengthLabel(plan.length);

    let started = performance.now();
    await ctx.pool.resize(contextSizeFor(plan.length));
    progress.note(`${tag}: every engine holds a ${contextSizeFor(plan.length)}-token context (reloaded in ${took(started)})`);

    const references: LengthRun['references'] = [];
    for (const f of plan.fidelity) {
      started = performance.now();
      const reference = await referenceFor(ctx, referenceState, f.messages);
      references.push({ ...reference, depth: f.depth });
      progress.step(
        reference.cached ? 0 : 2 * cost,
        performance.now() - started,
        `${tag}: reference continuation ${f.index + 1}/${plan.fidelity.length} (needle at ${f.depth}), ${reference.follow.length} tokens ` +
          `(stock top-1 = forced token at ${reference.selfConsistent}/${reference.follow.length})${reference.cached ? ' [cache]' : `, took ${took(started)}`}`,
      );
    }
    const prompts = plan.fidelity.map((f, i) => ({ messages: f.messages, depth: f.depth, reference: references[i] as FidelityReference }));

    const samples = new Map<string, TurnSample[]>(active.map((s) => [s.id, []]));
    for (const task of plan.cases) {
      // alternate the order every round, so no row always runs right after another one
      const order = task.depthIndex % 2 === 0 ? active : [...active].reverse();
      for (const state of order) {
        if (state.failure) continue;
        started = performance.now();
        let sample: TurnSample;
        try {
          sample = await passkeySample(ctx, state, task);
        } catch (err) {
          dropFailedRow(ctx, state, samples, err);
          continue;
        }
        samples.get(state.id)?.push(sample);
        progress.step(
          sample.cached ? 0 : cost,
          performance.now() - started,
          `${tag} ${rowLabel(state.row)} depth ${task.depthIndex + 1}/${plan.cases.length}: ` +
            `${(sample.ttftMs / 1000).toFixed(2)} s TTFT, ${sample.promptTokens} tokens, key ${sample.found ? 'found' : 'missed'}${sample.cached ? ' [cache]' : ''}`,
        );
      }
    }

    const followUps = await runFollowUps(ctx, active, plan.followUps, tag, cost);

    const fidelity = new Map<string, FidelityResult>();
    for (const state of active) {
      if (state.failure) continue;
      started = performance.now();
      let outcome: FidelityResult & { ran: number };
      try {
        outcome = await fidelityOf(ctx, state, prompts);
      } catch (err) {
        // the row's passkey and timing results stand; only its fidelity is missing
        if (ctx.isStopping() || !(err instanceof EngineError)) throw err;
        outcome = { status: 'failed', note: `the probe failed (${err.code}): ${err.message}`, ran: 0 };
        progress.unplan(prompts.length * cost);
      }
      const { ran, ...result } = outcome;
      fidelity.set(state.id, result);
      if (result.status === 'measured') {
        progress.unplan((prompts.length - ran) * cost);
        progress.step(
          ran * cost,
          performance.now() - started,
          `${tag} ${rowLabel(state.row)} fidelity: top-1 ${(result.top1Agreement * 100).toFixed(1)}%, ` +
            `mean KL ${result.meanKl.toExponential(2)} over ${prompts.length} prompts${result.cached ? ' [cache]' : `, probes took ${took(started)}`}`,
        );
      }
    }
    results.push({ length: plan.length, targetTokens: plan.targetTokens, contextSize: referenceState.slot.info.contextSize, references, samples, followUps, fidelity });
  }
  return { rows, lengths: results, fit };
}

/** The follow-up cases, every participating row once per case, the order alternating per case. */
async function runFollowUps(ctx: BenchContext, active: RowState[], cases: FollowUpCase[], tag: string, cost: number): Promise<Map<string, FollowUpSample[]>> {
  const participants = followUpRows(active, ctx.suite.rows, cases[0]?.length ?? 0);
  const results = new Map<string, FollowUpSample[]>(participants.map((s) => [s.id, []]));
  for (const task of cases) {
    const order = task.index % 2 === 0 ? participants : [...participants].reverse();
    for (const state of order) {
      if (state.failure) continue;
      const started = performance.now();
      let sample: FollowUpSample;
      try {
        sample = await runFollowUp(state.slot.client, state.row.policy, task, ctx.suite.answerTokens, (t) => ctx.setActiveTurn(t));
      } catch (err) {
        dropFailedRow(ctx, state, results, err);
        continue;
      }
      results.get(state.id)?.push(sample);
      ctx.progress.step(
        2 * cost,
        performance.now() - started,
        `${tag} ${rowLabel(state.row)} follow-up ${task.index + 1}/${cases.length}: pass key ${sample.firstFound ? 'found' : 'missed'}, ` +
          `door code ${sample.found ? 'found' : 'missed'} (${sample.promptTokens}-token conversation)`,
      );
    }
  }
  return results;
}
