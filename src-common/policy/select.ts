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
//    combination's taken as the sum of its parts, which were not measured together):
//    lossySelection.ts;
// 3. nothing: "does not fit", with the smallest change that would.
// A prompt longer than the context the model reads at once can only be answered by evicting
// (positions stay inside the context: Sift evicts, llama.cpp never shifts silently), so it goes to 2,
// where it is read through a quarter of the context with recall (longDocument.ts).
// Pure: the engine, `sift plan`, the settings panel and the table tests call it. What it weighs
// (its input, a policy's predicted bytes) is selectionCost.ts.
import { formatBytes } from '../format.js';
import { LAZY_PREFILL_ARCHITECTURES } from './architectures.js';
import { padToStep } from './kvBytes.js';
import { parsePolicy } from './spec.js';
import { PolicySpecError } from './policyError.js';
import { describePoint, lossPoints, SPEED_LOSS_POINTS, vouchedLazy, type FrontierPoint } from './frontier.js';
import { lossyChoice, smallestEviction } from './lossySelection.js';
import {
  DEFAULT_PREFERENCE,
  fitsIn,
  freeText,
  MIN_BUDGET_TOKENS,
  overBudgetOnly,
  predictPolicyBytes,
  PREFERENCES,
  promptText,
  type Candidate,
  type Preference,
  type Selection,
  type SelectionInput,
} from './selectionCost.js';

export { DEFAULT_PREFERENCE, MIN_BUDGET_TOKENS, predictPolicyBytes, PREFERENCES };
export type { Preference, PredictedBytes, Selection, SelectionInput, SelectionModel } from './selectionCost.js';

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

/** Cells beyond prompt and answer a sized cache keeps, so that its evictor never has to run. */
const SIZED_SLACK = 8;

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
        ? `${promptText(input)}; the smallest exact cache takes ${formatBytes(closest.bytes.kv)} of KV, over the KV budget of ${formatBytes(input.kvBudgetBytes ?? 0)}: raise the budget, or allow a balanced choice (evicting part of the document).`
        : `${exactNeeds(input, closest, available)} Free ${formatBytes(closest.bytes.peak - available)} more, use a smaller model, or allow a balanced choice (evicting part of the document).`;
    return done(input, closest, false, why, notices, available);
  }

  const lossy = lossyChoice(input, available, full, tooLong);
  if (lossy) return done(input, lossy.candidate, true, lossy.explanation, [...notices, ...lossy.notices], available);

  const smallest = smallestEviction(input);
  const why = overBudgetOnly(input, smallest.bytes, available)
    ? `${promptText(input)}; even keeping only ${MIN_BUDGET_TOKENS} tokens takes ${formatBytes(smallest.bytes.kv)} of KV, over the KV budget of ${formatBytes(input.kvBudgetBytes ?? 0)}: raise the budget.`
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
  return `${policy} is predicted to need ${formatBytes(bytes.peak)} at its peak and ${freeText(input, available)}: it may not fit.${instead}`;
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

/** Said whenever the budget, not the memory, is what rules the full cache out. */
function kvBudgetNotice(input: SelectionInput, full: Candidate, available: number): string | null {
  const budget = input.kvBudgetBytes;
  if (budget == null || full.bytes.kv <= budget || full.bytes.peak > available) return null;
  return `The KV cache is held to the budget of ${formatBytes(budget)}: a full cache would take ${formatBytes(full.bytes.kv)}, which memory alone would allow.`;
}

function done(input: SelectionInput, candidate: Candidate, fits: boolean, explanation: string, notices: string[], availableBytes: number): Selection {
  return { policy: candidate.policy, fits, lossy: candidate.lossy, predictedBytes: candidate.bytes, availableBytes, memoryName: input.memoryName, explanation, notices };
}

function explainExact(input: SelectionInput, chosen: Candidate, full: Candidate, available: number): string {
  const needs = `${formatBytes(chosen.bytes.peak)}`;
  switch (chosen.policy) {
    case 'full':
      return `${promptText(input)}; a full KV cache (${formatBytes(full.bytes.kv)}) fits: the turn needs ${needs} and ${freeText(input, available)}.`;
    case 'kv:type=q8_0':
      return `${promptText(input)}; a full cache would need ${formatBytes(full.bytes.peak)} and ${freeText(input, available)}: an 8-bit KV cache (${formatBytes(chosen.bytes.kv)}, near-exact) fits in ${needs}.`;
    default:
      if (chosen.policy.startsWith('streaming:')) {
        const cells = Number(/budget=(\d+)/.exec(chosen.policy)?.[1] ?? 0);
        const eightBit = chosen.policy.includes('q8_0') ? ' 8-bit (near-exact)' : '';
        return `${promptText(input)}; a cache for the whole ${input.model.contextSize.toLocaleString('en-US')}-token context would need ${formatBytes(full.bytes.peak)} and ${freeText(input, available)}: a${eightBit} cache of ${cells.toLocaleString('en-US')} tokens holds this prompt and its answer (${formatBytes(chosen.bytes.kv)}), nothing is evicted.`;
      }
      return `${promptText(input)}, long enough for lazy prefill to give a faster first token: it skips unimportant tokens in deeper layers${measuredLazy(input, chosen)}; the turn needs ${needs} and ${freeText(input, available)}.`;
  }
}

/** What the model's calibration measured for the chosen lazy schedule, in words. */
function measuredLazy(input: SelectionInput, chosen: Candidate): string {
  const point = chosen.measured;
  if (!point || !input.frontier) return '';
  return ` (on this model it gave the first token ${point.ttftSpeedup.toFixed(2)}× sooner and ${describePoint(point, input.frontier)}, within the ${SPEED_LOSS_POINTS[input.preference]} points ${input.preference} allows)`;
}

function exactNeeds(input: SelectionInput, closest: Candidate, available: number): string {
  return `${promptText(input)}; even an 8-bit KV cache needs ${formatBytes(closest.bytes.peak)} and ${freeText(input, available)}.`;
}

function explainNothingFits(input: SelectionInput, smallest: Candidate, available: number): string {
  const weights = input.weightsLoaded ? 0 : input.model.weightsBytes;
  if (weights > available) {
    return `The model's weights alone need ${formatBytes(weights)} and ${freeText(input, available)}: choose a smaller model (or a smaller quantization of it), or free memory.`;
  }
  if (!input.options.features.has('kvBudgets')) {
    return `${promptText(input)}; the smallest exact cache needs more than the ${formatBytes(available)} free, and this build cannot evict (run npm run setup for the patched build), or shorten the document.`;
  }
  return `${promptText(input)}; even keeping only ${MIN_BUDGET_TOKENS} tokens needs ${formatBytes(smallest.bytes.peak)} and ${freeText(input, available)}: free ${formatBytes(smallest.bytes.peak - available)}, use a smaller model, or offload fewer layers to the GPU.`;
}

