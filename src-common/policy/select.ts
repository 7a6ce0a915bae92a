// Policy `auto`: picks the KV policy for one turn from the memory that is free, the model's shape
// and the prompt's length, and says why in one sentence. It asks the presses' own cost model
// (contextPlan.ts: the contexts a policy opens and their KV bytes, as llama.cpp allocates them)
// for every candidate, so what it predicts is what the engine then creates.
//
// The order it tries, least lossy first:
// 1. exact and near-exact: `full`; a cache sized to this prompt and its answer instead of the
//    whole context (`streaming:budget=N` with N above both: nothing is ever evicted, so the
//    logits are full KV's); an 8-bit KV cache (`kv:type=q8_0`, half the KV), whole or sized;
//    with a long prompt, lazy prefill first (a faster first token, lossy) when this model's
//    measured frontier (sift calibrate, frontier.ts) puts a schedule within the loss the
//    preference allows: none for `exact`, 2 points of answer-token agreement for `balanced`,
//    10 for `fast`; an uncalibrated model keeps full KV;
// 2. lossy, only when nothing above fits (never under preference `exact`), over an 8-bit cache:
//    eviction with the largest token budget that fits the memory, by the scorer this model's
//    frontier kept answers best with (value-aware, pooled, when it is not calibrated); and where
//    the frontier measured SimLayerKV with the model's layer profile, trimming its lazy layers,
//    alone or with eviction (which then keeps more tokens in the same memory): of those that fit,
//    the one whose measured loss is least (an eviction's read off its measured budgets, a
//    combination's taken as the sum of its parts, which were not measured together);
// 3. nothing: "does not fit", with the smallest change that would.
// A prompt longer than the context the model reads at once can only be answered by evicting
// (positions stay inside the context: Sift evicts, llama.cpp never shifts silently), so it goes to 2.
// Pure: the engine, `sift plan`, the settings panel and the table tests call it.
import { formatBytes } from '../format.js';
import { planContexts, predictKvCost, type ContextShape, type ModelKvShape, type PlanOptions } from './contextPlan.js';
import { LAZY_PREFILL_ARCHITECTURES } from './architectures.js';
import { CONTEXT_STEP, padToStep } from './kvBytes.js';
import type { LayerProfile } from './simLayerKvLayers.js';
import { parsePolicy } from './spec.js';
import { PolicySpecError } from './policyError.js';
import { bestEvictor, describePoint, evictionLoss, evictorWithoutBudget, lossPoints, measuredTrim, SPEED_LOSS_POINTS, vouchedLazy, type FrontierPoint, type ModelFrontier } from './frontier.js';

export type Preference = 'exact' | 'balanced' | 'fast';
export const PREFERENCES: readonly Preference[] = ['exact', 'balanced', 'fast'];
export const DEFAULT_PREFERENCE: Preference = 'balanced';

/** `auto` as the --policy grammar writes it: "auto", or "auto:prefer=exact|balanced|fast". */
export interface AutoPolicy {
  spec: string;
  preference: Preference;
}

/** The auto policy a spec asks for, or null when it names presses. */
export function parseAutoPolicy(spec: string): AutoPolicy | null {
  const match = /^\s*auto(?::(.*))?\s*$/.exec(spec);
  if (!match) return null;
  let preference = DEFAULT_PREFERENCE;
  for (const part of (match[1] ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [key, value] = part.split('=').map((t) => t.trim());
    if (key !== 'prefer') throw new PolicySpecError(`auto has one knob, prefer= (${PREFERENCES.join(', ')}); "${key}" is not one`);
    if (!PREFERENCES.includes(value as Preference)) throw new PolicySpecError(`auto:prefer=${value ?? ''} must be one of ${PREFERENCES.join(', ')}`);
    preference = value as Preference;
  }
  return { spec: preference === DEFAULT_PREFERENCE ? 'auto' : `auto:prefer=${preference}`, preference };
}

/** A policy setting in its canonical form: auto's, or the presses' (throws PolicySpecError). */
export function canonicalPolicySetting(spec: string): string {
  return parseAutoPolicy(spec)?.spec ?? parsePolicy(spec).spec;
}

/**
 * Memory kept free beside a turn's predicted peak: the OS, the app and other programs move while
 * a turn runs, and a predicted byte count has no slack of its own. 10% of what is free, at least
 * 256 MiB (the renderer and Node alone take about that).
 */
export function defaultMarginBytes(freeBytes: number): number {
  return Math.max(256 * 2 ** 20, Math.round(freeBytes * 0.1));
}

/** Prompts from this long on get lazy prefill under `fast`: below it the measured gain is noise (docs/BENCHMARKS.md, 1k rows). */
export const LAZY_MIN_PROMPT_TOKENS = 2048;
/** The smallest eviction budget auto offers: fewer tokens keep too little of a document to answer from. */
export const MIN_BUDGET_TOKENS = 256;
/** Cells beyond prompt and answer a sized cache keeps, so that its evictor never has to run. */
const SIZED_SLACK = 8;
/** Pooling that keeps a needle's neighbours with it (the bench's best VATP row). */
const VATP_POOL = 7;

export interface SelectionModel extends ModelKvShape {
  name: string;
  /** Bytes of the weights (the GGUF file's size). */
  weightsBytes: number;
  trainContextSize: number;
}

export interface SelectionInput {
  model: SelectionModel;
  promptTokens: number;
  /** Answer tokens the turn may generate: the context must hold them after the prompt. */
  answerTokens: number;
  /** Free bytes where the KV cache lives (RAM for the CPU, the device's VRAM when offloaded). */
  freeBytes: number;
  /** 'RAM' or a device name, for the explanation. */
  memoryName: string;
  /**
   * The model runs on a GPU. There a prefill is not FLOP-bound the way it is on a CPU: lazy prefill
   * measured slower than full KV (0.48–0.54× of stock's TTFT on an H200, docs/NATIVE.md), so
   * preference `fast` keeps full KV.
   */
  onGpu?: boolean;
  /** The weights already take memory that freeBytes leaves out (the model is loaded). */
  weightsLoaded: boolean;
  marginBytes: number;
  /** Compute-buffer bytes a context of this shape allocates beside its KV. */
  computeBytes: (shape: ContextShape) => number;
  options: PlanOptions;
  profile: LayerProfile | null;
  /** What this model's lossy policies measured on real prose (sift calibrate, or shipped); null: not calibrated. */
  frontier?: ModelFrontier | null;
  preference: Preference;
  /** The most the KV cache may take (a cache budget the person set), beside what memory allows; null: no cap. */
  kvBudgetBytes?: number | null;
}

export interface PredictedBytes {
  /** Weights still to be loaded (0 when they already are). */
  model: number;
  /** KV of the context the turn answers in. */
  kv: number;
  compute: number;
  /** The most the turn holds at once: weights to load, the largest KV and compute. */
  peak: number;
  /** What stays while it generates. */
  steady: number;
}

export interface Selection {
  /** The policy to run (the --policy grammar); for a turn that does not fit, the least that came closest. */
  policy: string;
  fits: boolean;
  /** Loses information compared with full KV (eviction, lazy prefill). */
  lossy: boolean;
  predictedBytes: PredictedBytes;
  /** Bytes the turn may use: free minus the margin. */
  availableBytes: number;
  /** Where they are: 'RAM' or the device's memory. */
  memoryName: string;
  /** One sentence a person understands. */
  explanation: string;
  notices: string[];
}

interface Candidate {
  policy: string;
  lossy: boolean;
  bytes: PredictedBytes;
  /** The frontier's measurement behind a lossy choice. */
  measured?: FrontierPoint | null;
  /** Points of agreement with full KV a lossy choice is expected to lose, from the frontier; undefined: not calibrated. */
  loss?: number;
}

export function selectPolicy(input: SelectionInput): Selection {
  const available = Math.max(0, input.freeBytes - input.marginBytes);
  const notices: string[] = [];
  const { model, promptTokens } = input;
  const needed = promptTokens + Math.max(1, input.answerTokens);
  const tooLong = needed > model.contextSize;
  if (tooLong) {
    notices.push(
      `The prompt is ${promptTokens.toLocaleString('en-US')} tokens; with room for the answer that is more than the ${model.contextSize.toLocaleString('en-US')} tokens this model reads at once${
        model.contextSize < model.trainContextSize ? '' : ' (its trained context)'
      }, so only an evicting policy can answer it, from the part of the document it keeps.`,
    );
  }
  const cost = (policy: string, lossy: boolean): Candidate => ({ policy, lossy, bytes: predictPolicyBytes(input, policy) });
  const fits = (c: Candidate) => fitsIn(input, c.bytes, available);

  const exactLadder: Candidate[] = [];
  if (!tooLong) {
    const lazy = lazyPays(input) ? lazyChoice(input, notices) : null;
    if (lazy) exactLadder.push({ ...cost(lazy.policy, true), measured: lazy }, { ...cost(`${lazy.policy}+kv:type=q8_0`, true), measured: lazy });
    const sized = sizedCacheTokens(input);
    const canSize = sized !== null && input.options.features.has('kvBudgets');
    exactLadder.push(cost('full', false));
    if (canSize) exactLadder.push(cost(sizedPolicy(sized, 'f16'), false));
    exactLadder.push(cost('kv:type=q8_0', false));
    if (canSize) exactLadder.push(cost(sizedPolicy(sized, 'q8_0'), false));
  }
  const chosen = exactLadder.find(fits);
  const full = cost('full', false);
  const budgetNotice = kvBudgetNotice(input, full, available);
  if (budgetNotice) notices.push(budgetNotice);
  if (chosen) return done(input, chosen, true, explainExact(input, chosen, full, available), notices, available);

  if (input.preference === 'exact') {
    const closest = exactLadder.at(-1) ?? full;
    const why = tooLong
      ? `An exact answer needs the whole prompt in the context, and it is ${promptTokens.toLocaleString('en-US')} tokens where the model reads ${model.contextSize.toLocaleString('en-US')}: ask about a part of the document, or allow a balanced choice.`
      : overBudgetOnly(input, closest.bytes, available)
        ? `${prompt(input)}; the smallest exact cache takes ${formatBytes(closest.bytes.kv)} of KV, over the KV budget of ${formatBytes(input.kvBudgetBytes ?? 0)}: raise the budget, or allow a balanced choice (evicting part of the document).`
        : `${exactNeeds(input, closest, available)} Free ${formatBytes(closest.bytes.peak - available)} more, use a smaller model, or allow a balanced choice (evicting part of the document).`;
    return done(input, closest, false, why, notices, available);
  }

  const evictor = bestEvictor(input.frontier ?? null);
  const lossy = leastLossy(lossyCandidates(input, available, evictor, tooLong));
  if (lossy) {
    if (lossy.policy.includes('budget=')) notices.push(evictionNotice(input, evictor));
    if (isTrim(lossy.policy)) notices.push(trimNotice(input));
    return done(input, lossy, true, explainLossy(input, lossy, full, available, tooLong), notices, available);
  }

  const smallest = cost(evictionPolicy(MIN_BUDGET_TOKENS, evictor), true);
  const why = overBudgetOnly(input, smallest.bytes, available)
    ? `${prompt(input)}; even keeping only ${MIN_BUDGET_TOKENS} tokens takes ${formatBytes(smallest.bytes.kv)} of KV, over the KV budget of ${formatBytes(input.kvBudgetBytes ?? 0)}: raise the budget.`
    : explainNothingFits(input, smallest, available);
  return done(input, smallest, false, why, notices, available);
}

/**
 * A policy the person chose, against the same memory: null when it is predicted to fit, else the
 * warning to show (an explicit policy always runs; auto's choice is named beside it).
 */
export function explicitPolicyWarning(input: SelectionInput, policy: string): string | null {
  const tooLong = longerThanContextWarning(input, policy);
  if (tooLong) return tooLong;
  const available = Math.max(0, input.freeBytes - input.marginBytes);
  const bytes = predictPolicyBytes(input, policy);
  if (bytes.peak <= available) return null;
  const auto = selectPolicy(input);
  const instead = auto.fits ? ` auto would choose ${auto.policy}.` : '';
  return `${policy} is predicted to need ${formatBytes(bytes.peak)} at its peak and ${free(input, available)}: it may not fit.${instead}`;
}

/**
 * A prompt longer than the context is read whole only by eviction while it streams in (positions
 * stay within the budget's cells); any other policy needs it in one context and the engine will
 * refuse it: said before sending, with what auto would do instead.
 */
function longerThanContextWarning(input: SelectionInput, policy: string): string | null {
  if (input.promptTokens + Math.max(1, input.answerTokens) <= input.model.contextSize) return null;
  const parsed = parsePolicy(policy);
  if (parsed.eviction?.when === 'stream' && !parsed.lazy) return null;
  const auto = selectPolicy(input);
  const instead = auto.fits ? ` auto would choose ${auto.policy}, which reads it whole through a smaller cache.` : '';
  return (
    `The prompt is ${input.promptTokens.toLocaleString('en-US')} tokens, more than the ${input.model.contextSize.toLocaleString('en-US')} this model reads at once, ` +
    `and ${policy} needs it whole in one context: it will be refused.${instead}`
  );
}

/** Bytes a policy's contexts take for this prompt, from the presses' plan. */
export function predictPolicyBytes(input: SelectionInput, policy: string): PredictedBytes {
  const plan = planContexts(parsePolicy(policy), input.model, input.promptTokens, input.profile, input.options);
  const kv = predictKvCost(plan, input.model, input.profile);
  const compute = Math.max(input.computeBytes(plan.shape), plan.prefillShape ? input.computeBytes(plan.prefillShape) : 0);
  const weights = input.weightsLoaded ? 0 : input.model.weightsBytes;
  return { model: weights, kv: kv.steadyKvBytes, compute, peak: weights + kv.peakKvBytes + compute, steady: weights + kv.steadyKvBytes + compute };
}

/** Cells that hold this prompt and its answer with room to spare, when fewer than the context's. */
function sizedCacheTokens(input: SelectionInput): number | null {
  // the evictor makes room two tokens ahead and node-llama-cpp keeps one cell free
  const tokens = padToStep(input.promptTokens + Math.max(1, input.answerTokens) + SIZED_SLACK);
  return tokens < input.model.contextSize ? tokens : null;
}

/** A cache of `tokens` cells that never evicts: StreamingLLM ranks nothing, so it costs no observation. */
function sizedPolicy(tokens: number, kvType: 'f16' | 'q8_0'): string {
  return `streaming:budget=${tokens}${kvType === 'q8_0' ? '+kv:type=q8_0' : ''}`;
}

function lazyPays(input: SelectionInput): boolean {
  return input.promptTokens >= LAZY_MIN_PROMPT_TOKENS && input.options.features.has('lazyPrefill') && LAZY_PREFILL_ARCHITECTURES.includes(input.model.architecture);
}

/**
 * The lazy schedule this model's frontier vouches for under the preference, or null with the
 * reason noted where a person would expect one (fast asked for speed): not calibrated, too lossy
 * here, or a GPU, where lazy prefill measured slower than full KV.
 */
function lazyChoice(input: SelectionInput, notices: string[]): FrontierPoint | null {
  const frontier = input.frontier ?? null;
  const point = vouchedLazy(frontier, input.preference);
  const asked = input.preference === 'fast';
  if (point && input.onGpu) {
    notices.push('The model runs on a GPU: lazy prefill was measured there only with a 135M model, slower than full KV (docs/NATIVE.md), so auto keeps full KV.');
    return null;
  }
  if (point || !asked) return point;
  if (!frontier) {
    notices.push('Lazy prefill is not calibrated on this model (sift calibrate measures it), so auto keeps full KV: it may lose a buried fact on a model it was not measured on.');
  } else {
    const lazies = frontier.points.filter((p) => p.family === 'lazy');
    const withinLoss = lazies.filter((p) => lossPoints(p) <= SPEED_LOSS_POINTS.fast);
    const tokens = frontier.promptTokens.toLocaleString('en-US');
    if (lazies.length === 0) notices.push("This model's calibration has no lazy prefill measurement, so auto keeps full KV.");
    else if (withinLoss.length > 0) {
      const best = Math.max(...withinLoss.map((p) => p.ttftSpeedup));
      notices.push(`On this model lazy prefill gave the first token at most ${best.toFixed(2)}× sooner on ${tokens}-token prompts, too little for its loss, so auto keeps full KV.`);
    } else {
      const least = Math.min(...lazies.map(lossPoints));
      notices.push(`On this model lazy prefill lost at least ${least.toFixed(1)} points of agreement with full KV's answers, more than fast allows (${SPEED_LOSS_POINTS.fast}), so auto keeps full KV.`);
    }
  }
  return null;
}

/** Scorer knobs of the uncalibrated default: pooling keeps a needle's neighbours with it (the bench's best VATP row). */
const DEFAULT_EVICTOR = `vatp:pool=${VATP_POOL}`;

/** An eviction policy of `budgetTokens` cells over an 8-bit cache, by the measured scorer or the default. */
function evictionPolicy(budgetTokens: number, evictor: FrontierPoint | null): string {
  const [press, knobs] = (evictor ? evictorWithoutBudget(evictor) : DEFAULT_EVICTOR).split(':');
  return `${press}:budget=${budgetTokens}${knobs ? `,${knobs}` : ''}+kv:type=q8_0`;
}

function evictionNotice(input: SelectionInput, evictor: FrontierPoint | null): string {
  const base = 'Eviction keeps part of the document: answers about what it drops can be wrong.';
  if (!evictor || !input.frontier) return `${base} It is not calibrated on this model yet (sift calibrate measures it).`;
  return `${base} On this model, keeping ${Math.round((evictor.budgetFraction ?? 0) * 100)}% of a ${input.frontier.promptTokens.toLocaleString('en-US')}-token prompt, ${evictorWithoutBudget(evictor).split(':')[0]} ${describePoint(evictor, input.frontier)}.`;
}

/** SimLayerKV as the frontier measured it (its knobs, the model's calibrated layers), leading a composed policy. */
function trimPrefix(trim: FrontierPoint): string {
  return `${trim.policy.split('+')[0]!}+`;
}

const isTrim = (policy: string) => policy.startsWith('simlayerkv');

/**
 * What fits when nothing exact does, each with its expected loss where the frontier measured it:
 * eviction alone; SimLayerKV's trimming alone (when the prompt fits the context); both.
 */
function lossyCandidates(input: SelectionInput, available: number, evictor: FrontierPoint | null, tooLong: boolean): Candidate[] {
  const frontier = input.frontier ?? null;
  const fraction = (policy: string) => Number(/budget=(\d+)/.exec(policy)?.[1] ?? 0) / input.promptTokens;
  const evictionPoints = (policy: string) => (frontier && evictor ? evictionLoss(frontier, evictor, fraction(policy)).points : undefined);
  const candidates: Candidate[] = [];
  const evicting = largestFittingBudget(input, available, evictor);
  if (evicting) candidates.push({ ...evicting, ...optionalLoss(evictionPoints(evicting.policy)) });
  const trim = measuredTrim(frontier);
  if (!trim || !input.profile || input.profile.trimmedLayers.length === 0) return candidates;
  if (!tooLong) {
    const policy = `${trimPrefix(trim)}kv:type=q8_0`;
    const trimmed: Candidate = { policy, lossy: true, bytes: predictPolicyBytes(input, policy), measured: trim, loss: lossPoints(trim) };
    if (fitsIn(input, trimmed.bytes, available)) candidates.push(trimmed);
  }
  const both = largestFittingBudget(input, available, evictor, trimPrefix(trim));
  const bothLoss = evictionPoints(both?.policy ?? '');
  if (both && bothLoss !== undefined) candidates.push({ ...both, loss: lossPoints(trim) + bothLoss });
  return candidates;
}

function optionalLoss(loss: number | undefined): { loss?: number } {
  return loss === undefined ? {} : { loss };
}

/** The measured candidate expected to lose least (the first on a tie: eviction alone); uncalibrated, eviction alone. */
function leastLossy(candidates: Candidate[]): Candidate | null {
  const measured = candidates.filter((c) => c.loss !== undefined);
  if (measured.length === 0) return candidates[0] ?? null;
  return measured.reduce((best, c) => (c.loss! < best.loss! ? c : best));
}

function trimNotice(input: SelectionInput): string {
  const trim = measuredTrim(input.frontier ?? null)!;
  const layers = input.profile?.trimmedLayers.length ?? 0;
  return `SimLayerKV trims ${layers} of the model's ${input.model.layers} layers to their first and most recent tokens; on this model it ${describePoint(trim, input.frontier!)}.`;
}

/**
 * The eviction candidate with the most cells that fits (at most the prompt and the context), or
 * null. Budgets are whole steps of 256 cells, as llama.cpp allocates them, so the budget named
 * is the cache's size.
 */
function largestFittingBudget(input: SelectionInput, available: number, evictor: FrontierPoint | null, trim = ''): Candidate | null {
  if (!input.options.features.has('kvBudgets') || !input.options.features.has('observation')) return null;
  const candidate = (steps: number): Candidate => {
    const policy = `${trim}${evictionPolicy(steps * CONTEXT_STEP, evictor)}`;
    return { policy, lossy: true, bytes: predictPolicyBytes(input, policy), measured: evictor };
  };
  const most = Math.floor(Math.min(input.promptTokens + Math.max(1, input.answerTokens), input.model.contextSize) / CONTEXT_STEP);
  const least = MIN_BUDGET_TOKENS / CONTEXT_STEP;
  const fitsAt = (steps: number) => fitsIn(input, candidate(steps).bytes, available);
  if (most < least || !fitsAt(least)) return null;
  if (fitsAt(most)) return candidate(most);
  // the KV grows with the budget: the largest number of steps that fits
  let low = least;
  let high = most;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fitsAt(mid)) low = mid;
    else high = mid;
  }
  return candidate(low);
}

/** Within the memory and, when one is set, within the KV budget. */
function fitsIn(input: SelectionInput, bytes: PredictedBytes, available: number): boolean {
  return bytes.peak <= available && (input.kvBudgetBytes == null || bytes.kv <= input.kvBudgetBytes);
}

/** Memory would hold it; only the KV budget does not. */
function overBudgetOnly(input: SelectionInput, bytes: PredictedBytes, available: number): boolean {
  return bytes.peak <= available && input.kvBudgetBytes != null && bytes.kv > input.kvBudgetBytes;
}

/** Said whenever the budget, not the memory, is what rules the full cache out. */
function kvBudgetNotice(input: SelectionInput, full: Candidate, available: number): string | null {
  const budget = input.kvBudgetBytes;
  if (budget == null || full.bytes.kv <= budget || full.bytes.peak > available) return null;
  return `The KV cache is held to the budget of ${formatBytes(budget)}: a full cache would take ${formatBytes(full.bytes.kv)}, which memory alone would allow.`;
}

function done(input: SelectionInput, candidate: Candidate, fits: boolean, explanation: string, notices: string[], availableBytes: number): Selection {
  return { policy: candidate.policy, fits, lossy: candidate.lossy, predictedBytes: candidate.bytes, availableBytes, memoryName: input.memoryName, explanation, notices };
}

function prompt(input: SelectionInput): string {
  return `The prompt is ${input.promptTokens.toLocaleString('en-US')} tokens`;
}

function free(input: SelectionInput, available: number): string {
  return `${formatBytes(available)} of ${input.memoryName} is free beside a ${formatBytes(input.marginBytes)} margin`;
}

function explainExact(input: SelectionInput, chosen: Candidate, full: Candidate, available: number): string {
  const needs = `${formatBytes(chosen.bytes.peak)}`;
  switch (chosen.policy) {
    case 'full':
      return `${prompt(input)}; a full KV cache (${formatBytes(full.bytes.kv)}) fits: the turn needs ${needs} and ${free(input, available)}.`;
    case 'kv:type=q8_0':
      return `${prompt(input)}; a full cache would need ${formatBytes(full.bytes.peak)} and ${free(input, available)}: an 8-bit KV cache (${formatBytes(chosen.bytes.kv)}, near-exact) fits in ${needs}.`;
    default:
      if (chosen.policy.startsWith('streaming:')) {
        const cells = Number(/budget=(\d+)/.exec(chosen.policy)?.[1] ?? 0);
        const eightBit = chosen.policy.includes('q8_0') ? ' 8-bit (near-exact)' : '';
        return `${prompt(input)}; a cache for the whole ${input.model.contextSize.toLocaleString('en-US')}-token context would need ${formatBytes(full.bytes.peak)} and ${free(input, available)}: a${eightBit} cache of ${cells.toLocaleString('en-US')} tokens holds this prompt and its answer (${formatBytes(chosen.bytes.kv)}), nothing is evicted.`;
      }
      return `${prompt(input)}, long enough for lazy prefill to give a faster first token: it skips unimportant tokens in deeper layers${measuredLazy(input, chosen)}; the turn needs ${needs} and ${free(input, available)}.`;
  }
}

/** What the model's calibration measured for the chosen lazy schedule, in words. */
function measuredLazy(input: SelectionInput, chosen: Candidate): string {
  const point = chosen.measured;
  if (!point || !input.frontier) return '';
  return ` (on this model it gave the first token ${point.ttftSpeedup.toFixed(2)}× sooner and ${describePoint(point, input.frontier)}, within the ${SPEED_LOSS_POINTS[input.preference]} points ${input.preference} allows)`;
}

function exactNeeds(input: SelectionInput, closest: Candidate, available: number): string {
  return `${prompt(input)}; even an 8-bit KV cache needs ${formatBytes(closest.bytes.peak)} and ${free(input, available)}.`;
}

function explainLossy(input: SelectionInput, chosen: Candidate, full: Candidate, available: number, tooLong: boolean): string {
  const budget = Number(/budget=(\d+)/.exec(chosen.policy)?.[1] ?? 0);
  const layers = isTrim(chosen.policy) ? `trimming ${input.profile?.trimmedLayers.length ?? 0} of ${input.model.layers} layers to their first and most recent tokens` : '';
  const evicting = budget > 0 ? `keeping the most important tokens (${scorerName(chosen.policy.split('+').filter((press) => !isTrim(press)).join('+'))}) in an 8-bit cache of ${budget.toLocaleString('en-US')} tokens` : '';
  const expected = chosen.loss !== undefined ? `, expected to agree with about ${Math.max(0, 100 - chosen.loss).toFixed(0)}% of full KV's answer tokens` : '';
  const kept = `${[layers, evicting].filter(Boolean).join(' and ')}${budget > 0 ? '' : ' in an 8-bit cache'} (${formatBytes(chosen.bytes.kv)} KV, ${formatBytes(chosen.bytes.peak)} in all${expected})`;
  if (tooLong) {
    const context = input.model.contextSize.toLocaleString('en-US');
    // a short prompt is "too long" only with its answer's room: say which
    const over =
      input.promptTokens > input.model.contextSize
        ? `${prompt(input)}, more than the model reads at once (${context})`
        : `${prompt(input)}; with room for a ${input.answerTokens.toLocaleString('en-US')}-token answer that is more than the model reads at once (${context})`;
    return `${over}: ${kept}; ${free(input, available)}.`;
  }
  return `${prompt(input)}; a full cache needs ${formatBytes(full.bytes.peak)} and ${free(input, available)}: ${kept}.`;
}

const SCORER_NAMES: Record<string, string> = {
  vatp: 'value-aware eviction',
  snapkv: 'SnapKV eviction',
  h2o: 'H2O eviction',
  keydiff: 'KeyDiff eviction',
  streaming: 'the first and most recent tokens',
};

function scorerName(policy: string): string {
  const press = policy.split(':')[0] ?? '';
  return SCORER_NAMES[press] ?? `${press} eviction`;
}

function explainNothingFits(input: SelectionInput, smallest: Candidate, available: number): string {
  const weights = input.weightsLoaded ? 0 : input.model.weightsBytes;
  if (weights > available) {
    return `The model's weights alone need ${formatBytes(weights)} and ${free(input, available)}: choose a smaller model (or a smaller quantization of it), or free memory.`;
  }
  if (!input.options.features.has('kvBudgets')) {
    return `${prompt(input)}; the smallest exact cache needs more than the ${formatBytes(available)} free, and this build cannot evict (run npm run setup for the patched build), or shorten the document.`;
  }
  return `${prompt(input)}; even keeping only ${MIN_BUDGET_TOKENS} tokens needs ${formatBytes(smallest.bytes.peak)} and ${free(input, available)}: free ${formatBytes(smallest.bytes.peak - available)}, use a smaller model, or offload fewer layers to the GPU.`;
}
