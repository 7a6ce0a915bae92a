// Auto's lossy step (select.ts, only when nothing exact fits and the preference allows loss):
// eviction over an 8-bit cache at the largest budget that fits, by the scorer this model's
// frontier kept answers best with; and where the frontier measured SimLayerKV with the model's
// layer profile, trimming alone or with eviction. Of those that fit, the one expected to lose
// least runs: an eviction's loss read off the scorer's measured budgets (frontier.ts), a
// combination's as the sum of its parts, which were not measured together. A prompt longer than
// the context gets the long-document evictor instead (longDocument.ts), as the long bench measured it.
import { formatBytes } from '../format.js';
import { CONTEXT_STEP } from './kvBytes.js';
import { bestEvictor, describePoint, evictionLoss, evictorWithoutBudget, lossPoints, measuredTrim, type FrontierPoint } from './frontier.js';
import { fitsIn, freeText, MIN_BUDGET_TOKENS, predictPolicyBytes, promptText, type Candidate, type SelectionInput } from './selectionCost.js';
import { LONG_DOCUMENT_NOTICE, longDocumentBudgetSteps, longDocumentPolicy } from './longDocument.js';

/** Scorer knobs of the uncalibrated default: whole sentences, the bench's best VATP rule on real prose while streaming (Qwen2.5 0.5B on real prose at 2k, Intel Xeon: 15 of full's 21 answers against pooling's 8). */
const DEFAULT_EVICTOR = 'vatp:chunk=sentence';

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
  if (tooLong) {
    const longDocument = longDocumentEviction(input, available);
    return longDocument ? [longDocument] : [];
  }
  const frontier = input.frontier ?? null;
  const fraction = (policy: string) => Number(/budget=(\d+)/.exec(policy)?.[1] ?? 0) / input.promptTokens;
  const evictionPoints = (policy: string) => (frontier && evictor ? evictionLoss(frontier, evictor, fraction(policy)).points : undefined);
  const candidates: Candidate[] = [];
  const evicting = largestFittingBudget(input, available, evictor);
  if (evicting) candidates.push({ ...evicting, ...optionalLoss(evictionPoints(evicting.policy)) });
  const trim = measuredTrim(frontier);
  if (!trim || !input.profile || input.profile.trimmedLayers.length === 0) return candidates;
  const policy = `${trimPrefix(trim)}kv:type=q8_0`;
  const trimmed: Candidate = { policy, lossy: true, bytes: predictPolicyBytes(input, policy), measured: trim, loss: lossPoints(trim) };
  if (fitsIn(input, trimmed.bytes, available)) candidates.push(trimmed);
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
  const most = Math.floor(Math.min(input.promptTokens + Math.max(1, input.answerTokens), input.model.contextSize) / CONTEXT_STEP);
  return largestFitting(input, available, most, (steps) => ({ policy: `${trim}${evictionPolicy(steps * CONTEXT_STEP, evictor)}`, measured: evictor }));
}

/**
 * A prompt longer than the context: the long-document evictor at up to a quarter of the context,
 * with an f16 cache as the long bench measured it, else over an 8-bit one; null when neither fits.
 */
function longDocumentEviction(input: SelectionInput, available: number): Candidate | null {
  const most = longDocumentBudgetSteps(input.model.contextSize);
  return (
    largestFitting(input, available, most, (steps) => ({ policy: longDocumentPolicy(steps * CONTEXT_STEP, 'f16'), measured: null })) ??
    largestFitting(input, available, most, (steps) => ({ policy: longDocumentPolicy(steps * CONTEXT_STEP, 'q8_0'), measured: null }))
  );
}

/** The policy with the most budget steps (at most `most`) that fits, or null. */
function largestFitting(input: SelectionInput, available: number, most: number, policyAt: (steps: number) => { policy: string; measured: FrontierPoint | null }): Candidate | null {
  if (!input.options.features.has('kvBudgets') || !input.options.features.has('observation')) return null;
  const candidate = (steps: number): Candidate => {
    const { policy, measured } = policyAt(steps);
    return { policy, lossy: true, bytes: predictPolicyBytes(input, policy), measured };
  };
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

function explainLossy(input: SelectionInput, chosen: Candidate, full: Candidate, available: number, tooLong: boolean): string {
  const budget = Number(/budget=(\d+)/.exec(chosen.policy)?.[1] ?? 0);
  const layers = isTrim(chosen.policy) ? `trimming ${input.profile?.trimmedLayers.length ?? 0} of ${input.model.layers} layers to their first and most recent tokens` : '';
  const cache = chosen.policy.includes('kv:type=q8_0') ? 'an 8-bit cache' : 'a cache';
  const recalled = /recall=\d+/.test(chosen.policy) ? ', the passages the question ranks highest read again just before it' : '';
  const evicting =
    budget > 0 ? `keeping the most important tokens (${scorerName(chosen.policy.split('+').filter((press) => !isTrim(press)).join('+'))}) in ${cache} of ${budget.toLocaleString('en-US')} tokens${recalled}` : '';
  const expected = chosen.loss !== undefined ? `, expected to agree with about ${Math.max(0, 100 - chosen.loss).toFixed(0)}% of full KV's answer tokens` : '';
  const kept = `${[layers, evicting].filter(Boolean).join(' and ')}${budget > 0 ? '' : ' in an 8-bit cache'} (${formatBytes(chosen.bytes.kv)} KV, ${formatBytes(chosen.bytes.peak)} in all${expected})`;
  if (tooLong) {
    const context = input.model.contextSize.toLocaleString('en-US');
    // a short prompt is "too long" only with its answer's room: say which
    const over =
      input.promptTokens > input.model.contextSize
        ? `${promptText(input)}, more than the model reads at once (${context})`
        : `${promptText(input)}; with room for a ${input.answerTokens.toLocaleString('en-US')}-token answer that is more than the model reads at once (${context})`;
    return `${over}: ${kept}; ${freeText(input, available)}.`;
  }
  return `${promptText(input)}; a full cache needs ${formatBytes(full.bytes.peak)} and ${freeText(input, available)}: ${kept}.`;
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

/** The lossy candidate to run, with its explanation and notices; null when none fits. */
export function lossyChoice(input: SelectionInput, available: number, full: Candidate, tooLong: boolean): { candidate: Candidate; explanation: string; notices: string[] } | null {
  const evictor = bestEvictor(input.frontier ?? null);
  const candidate = leastLossy(lossyCandidates(input, available, evictor, tooLong));
  if (!candidate) return null;
  const notices: string[] = [];
  if (tooLong) notices.push(LONG_DOCUMENT_NOTICE);
  else if (candidate.policy.includes('budget=')) notices.push(evictionNotice(input, evictor));
  if (isTrim(candidate.policy)) notices.push(trimNotice(input));
  return { candidate, explanation: explainLossy(input, candidate, full, available, tooLong), notices };
}

/** Eviction at the smallest budget auto offers: what a turn that fits nothing is measured against. */
export function smallestEviction(input: SelectionInput): Candidate {
  const policy = evictionPolicy(MIN_BUDGET_TOKENS, bestEvictor(input.frontier ?? null));
  return { policy, lossy: true, bytes: predictPolicyBytes(input, policy) };
}
