// Each measurement of one row, through the stock cache where the row is cacheable: the reference
// continuation, a passkey turn, and a teacher-forced probe compared with the reference.
import os from 'node:os';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import type { BenchCache } from './cache.js';
import { compareDistributions, type FidelityMeasure } from './divergence.js';
import type { EngineSlot } from './engines.js';
import { buildReference, probeRow, type FidelityReference } from './fidelity.js';
import type { ModelIdentity } from './modelIdentity.js';
import { runPasskeyTurn, type ActiveTurn, type TurnSample } from './passkeyTurn.js';
import type { PasskeyCase } from './prompts.js';
import type { FidelityResult } from './results.js';
import type { RowState } from './rowStates.js';
import { isReferenceRow, type BenchSuite } from './suite.js';

export interface MeasureContext {
  suite: BenchSuite;
  cache: BenchCache;
  model: ModelIdentity;
  setActiveTurn(turn: ActiveTurn | null): void;
}

const PROBE_UNSUPPORTED =
  "not measured: the engine's probeLogits always uses the full KV cache; it must accept a policy first";

/** Only the unmodified stock build's results are cached: they are the reference every run reuses. */
export function cacheable(state: RowState): boolean {
  return state.row.build === 'stock' && state.slot.problem === null;
}

function cacheParts(ctx: MeasureContext, slot: EngineSlot): Record<string, unknown> {
  return {
    model: ctx.model.sha256,
    build: slot.client.build.id,
    flashAttention: slot.flashAttention,
    contextSize: slot.info.contextSize,
    threads: os.availableParallelism(),
  };
}

export function referenceKey(ctx: MeasureContext, state: RowState, messages: ChatMessage[]): string {
  return ctx.cache.key({ kind: 'reference', ...cacheParts(ctx, state.slot), messages, tokens: ctx.suite.fidelityTokens });
}

export function passkeyKey(ctx: MeasureContext, state: RowState, task: PasskeyCase): string {
  const parts = { kind: 'passkey', ...cacheParts(ctx, state.slot), policy: state.row.policy, messages: task.messages };
  return ctx.cache.key({ ...parts, maxTokens: ctx.suite.answerTokens });
}

export function probeKey(ctx: MeasureContext, state: RowState, messages: ChatMessage[], follow: number[]): string {
  return ctx.cache.key({ kind: 'probe', ...cacheParts(ctx, state.slot), policy: state.row.policy, messages, follow });
}

export async function referenceFor(ctx: MeasureContext, state: RowState, messages: ChatMessage[]): Promise<FidelityReference & { cached: boolean }> {
  const key = referenceKey(ctx, state, messages);
  const stored = ctx.cache.readJson<Omit<FidelityReference, 'logits'> & { width: number }>(key);
  const logits = stored ? ctx.cache.readRows(key, stored.width) : null;
  if (stored && logits) return { ...stored, logits, cached: true };
  const reference = await buildReference(state.slot.client, messages, ctx.suite.fidelityTokens);
  const { logits: rows, ...rest } = reference;
  ctx.cache.writeRows(key, rows);
  ctx.cache.writeJson(key, { ...rest, width: rows[0]?.length ?? 0 });
  return { ...reference, cached: false };
}

export async function passkeySample(ctx: MeasureContext, state: RowState, task: PasskeyCase): Promise<TurnSample> {
  const maxTokens = ctx.suite.answerTokens;
  const key = passkeyKey(ctx, state, task);
  if (cacheable(state)) {
    const stored = ctx.cache.readJson<TurnSample>(key);
    if (stored) return { ...stored, cached: true };
  }
  const sample = await runPasskeyTurn(state.slot.client, state.row.policy, task, maxTokens, (t) => ctx.setActiveTurn(t));
  if (cacheable(state)) ctx.cache.writeJson(key, sample);
  return sample;
}

type MeasuredFidelity = Extract<FidelityResult, { status: 'measured' }>;

/** One prompt's teacher-forced comparison with its reference. */
async function promptFidelity(
  ctx: MeasureContext,
  state: RowState,
  messages: ChatMessage[],
  reference: FidelityReference,
): Promise<FidelityMeasure & { cached: boolean }> {
  const key = probeKey(ctx, state, messages, reference.follow);
  const width = reference.logits[0]?.length ?? 0;
  let logits = cacheable(state) ? ctx.cache.readRows(key, width) : null;
  const cached = logits !== null;
  if (!logits) {
    logits = await probeRow(state.slot.client, messages, reference.follow, state.row.policy);
    if (cacheable(state)) ctx.cache.writeRows(key, logits);
  }
  return { ...compareDistributions(reference.logits, logits, reference.follow.length), cached };
}

/** Every prompt's positions weigh the same, so a shorter continuation counts for less. */
export function poolFidelity(prompts: ReadonlyArray<FidelityMeasure & { cached: boolean; depth: number }>): MeasuredFidelity {
  const positions = prompts.reduce((sum, p) => sum + p.positions, 0);
  const weighted = (pick: (p: FidelityMeasure) => number) => prompts.reduce((sum, p) => sum + pick(p) * p.positions, 0) / Math.max(1, positions);
  return {
    status: 'measured',
    positions,
    top1Agreement: weighted((p) => p.top1Agreement),
    meanKl: weighted((p) => p.meanKl),
    maxKl: Math.max(0, ...prompts.map((p) => p.maxKl)),
    cached: prompts.every((p) => p.cached),
    perPrompt: prompts.map(({ depth, positions: n, top1Agreement, meanKl }) => ({ depth, positions: n, top1Agreement, meanKl })),
  };
}

/** The row's fidelity over every prompt; `ran` counts the probes measured now (not read from the cache). */
export async function fidelityOf(
  ctx: MeasureContext,
  state: RowState,
  prompts: ReadonlyArray<{ messages: ChatMessage[]; reference: FidelityReference; depth: number }>,
): Promise<FidelityResult & { ran: number }> {
  if (isReferenceRow(state.row)) return { status: 'reference', ran: 0 };
  if (!state.probeable) return { status: 'unsupported', note: PROBE_UNSUPPORTED, ran: 0 };
  const measured: Array<FidelityMeasure & { cached: boolean; depth: number }> = [];
  for (const prompt of prompts) measured.push({ ...(await promptFidelity(ctx, state, prompt.messages, prompt.reference)), depth: prompt.depth });
  return { ...poolFidelity(measured), ran: measured.filter((m) => !m.cached).length };
}
