// A model's frontier on this machine (sift calibrate): real-prose documents with facts at several
// depths (proseCases.ts, the bench's real-document QA task), each question asked under full KV and
// under each lossy candidate, greedy, in the app's chat format; every candidate's answer scored
// against the ground truth and full KV's answer, teacher-forced through full KV's answer for
// top-1 agreement, and its TTFT and KV paired with full KV's on the same prompt. Auto picks lossy
// presses from the result (src-common/policy/frontier.ts, select.ts).
import os from 'node:os';
import type { EngineClient } from '../engine/engineClient.js';
import { EngineError } from '../../src-engine/engineError.js';
import { argmax } from '../../src-common/policy/calibration.js';
import { frontierPoint, median, type FrontierFamily, type FrontierPoint, type ModelFrontier, type QuestionResult } from '../../src-common/policy/frontier.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { LAZY_PREFILL_ARCHITECTURES } from '../../src-common/policy/architectures.js';
import { answerMatches, loadProseCorpus, normalizeAnswer, proseLength, type ProseCase, type ProseSource } from './proseCases.js';
import { tokenizer } from './layerCalibration.js';

export type FrontierEngine = Pick<EngineClient, 'probeLogits' | 'runTurn'>;

export interface FrontierCandidate {
  policy: string;
  family: FrontierFamily;
  budgetFraction: number | null;
}

export interface FrontierOptions {
  /** Prompt length of the questions, in tokens (chat template, question and document). */
  tokens: number;
  /** Fact depths per length; every 4 share a document, which adds a two-passage question. */
  depths: number;
  /** Answer tokens generated, and forced through for top-1 agreement. */
  answerTokens: number;
  seed: string;
}

export const DEFAULT_FRONTIER: FrontierOptions = { tokens: 2048, depths: 4, answerTokens: 32, seed: 'sift-calibrate-1' };

/**
 * Prompt lengths a model is calibrated at by default: a short document and one twice as long.
 * Loss grows with length (a kept share of a longer prompt drops more tokens that matter), so auto
 * reads the length nearest its prompt; longer ones (`sift calibrate --frontier-tokens 2048,8192`)
 * cost minutes each on a laptop CPU, quadratically more with length.
 */
export const DEFAULT_FRONTIER_LENGTHS: readonly number[] = [2048, 4096];

/** Room a question of `tokens` needs in the context: the prompt, the answer, a little slack. */
export function contextFor(tokens: number, answerTokens: number): number {
  return tokens + answerTokens + 16;
}

/**
 * The wanted lengths the opened context holds (shortest first); when it holds none, the longest
 * question it does, so a model with a short trained context is still calibrated at its own length.
 */
export function lengthsWithin(wanted: readonly number[], contextSize: number, answerTokens: number): number[] {
  const fitting = [...new Set(wanted)].filter((t) => contextFor(t, answerTokens) <= contextSize).sort((a, b) => a - b);
  return fitting.length ? fitting : [Math.max(256, contextSize - answerTokens - 16)];
}

/** Eviction budgets tried, as fractions of the prompt: a light and a heavy one. */
const BUDGETS = [0.5, 0.2];

/**
 * What is tried: the default lazy schedule and a faster one (the bench's second-best prose row,
 * placed by depth), each eviction scorer at the heavy budget and value-aware eviction at the light
 * one too, an 8-bit cache, and SimLayerKV when the model has a calibrated profile. Value-aware
 * eviction keeps whole sentences: on real prose (Qwen2.5 0.5B, 2k, Intel Xeon) it kept 15 of full KV's 21
 * answers where token-by-token pooled ranking kept 8, at the same 4× smaller cache.
 */
export function frontierCandidates(layers: number, options: { lazy: boolean; eviction: boolean; simLayerKv: Pick<LayerProfile, 'sink' | 'window'> | null }): FrontierCandidate[] {
  const at = (fraction: number) => Math.max(1, Math.min(layers - 1, Math.round(fraction * layers)));
  const candidates: FrontierCandidate[] = [{ policy: 'kv:type=q8_0', family: 'kv', budgetFraction: null }];
  if (options.lazy) {
    candidates.push({ policy: 'lazy', family: 'lazy', budgetFraction: null });
    const points = [...new Set([at(0.27), at(0.53), at(0.8)])];
    if (points.length === 3) {
      candidates.push({ policy: `lazy:at=${points.join('/')},keep=0.6/0.4/0.25,from=last,window=question`, family: 'lazy', budgetFraction: null });
    }
  }
  if (options.eviction) {
    for (const budget of BUDGETS) candidates.push({ policy: `vatp:budget=${budget},chunk=sentence`, family: 'eviction', budgetFraction: budget });
    const heavy = Math.min(...BUDGETS);
    candidates.push({ policy: `snapkv:budget=${heavy}`, family: 'eviction', budgetFraction: heavy });
    candidates.push({ policy: `keydiff:budget=${heavy}`, family: 'eviction', budgetFraction: heavy });
  }
  // the trimmed layers keep the sinks and window their laziness was measured with (the press's own default window is wider)
  if (options.simLayerKv) candidates.push({ policy: `simlayerkv:sink=${options.simLayerKv.sink},window=${options.simLayerKv.window}`, family: 'simlayerkv', budgetFraction: null });
  return candidates;
}

/** What a loaded model is calibrated with: lazy prefill where its architecture has it, SimLayerKV where it has a profile with lazy layers. */
export function candidatesFor(model: { layers: number; architecture: string }, layerProfile: LayerProfile | null): FrontierCandidate[] {
  return frontierCandidates(model.layers, {
    lazy: LAZY_PREFILL_ARCHITECTURES.includes(model.architecture),
    eviction: true,
    simLayerKv: layerProfile !== null && layerProfile.trimmedLayers.length > 0 ? layerProfile : null,
  });
}

/** Evenly spread fact depths in (0, 1). */
export function spreadDepths(count: number): number[] {
  return Array.from({ length: count }, (_, k) => Number(((k + 0.5) / count).toFixed(3)));
}

/**
 * The questions at about `tokens` prompt tokens: each source's characters per token measured on
 * the model's tokenizer, documents sized a little short (a case the context cannot hold would be
 * refused, not truncated).
 */
export async function calibrationCases(engine: FrontierEngine, options: FrontierOptions, sources: readonly ProseSource[] = loadProseCorpus()): Promise<ProseCase[]> {
  const tokenize = await tokenizer(engine);
  const charsPerToken = new Map<string, number>();
  for (const source of sources) {
    const sample = source.text.slice(0, 2500);
    charsPerToken.set(source.id, sample.length / Math.max(1, (await tokenize(sample)).length));
  }
  // ~150 tokens of system prompt, template and question
  const proseTokens = Math.max(64, options.tokens - 150);
  const plan = proseLength(options.tokens, spreadDepths(options.depths), sources, (source) => Math.floor(proseTokens * 0.92 * (charsPerToken.get(source.id) ?? 4)), options.seed);
  return plan.cases;
}

interface Reference {
  result: QuestionResult;
  follow: number[];
  top: number[];
  promptTokens: number;
}

async function turn(engine: FrontierEngine, task: ProseCase, policy: string, answerTokens: number, layerProfile: LayerProfile | null) {
  const { result } = engine.runTurn(
    { messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens: answerTokens }, policy, cachePrompt: false, ...(layerProfile ? { layerProfile } : {}) },
    () => {},
  );
  const { answer, metrics, stopReason } = await result;
  if (stopReason === 'cancelled') throw new Error('a calibration turn was cancelled');
  return { answer, metrics };
}

async function reference(engine: FrontierEngine, task: ProseCase, options: FrontierOptions, tokenize: (text: string) => Promise<number[]>): Promise<Reference> {
  const { answer, metrics } = await turn(engine, task, 'full', options.answerTokens, null);
  const follow = (await tokenize(answer)).slice(0, options.answerTokens);
  const probe = await engine.probeLogits({ messages: task.messages, follow, policy: 'full' });
  const top = probe.logits.slice(0, follow.length + 1).map(argmax);
  return {
    result: { correct: answerMatches(answer, task.accept), answer: normalizeAnswer(answer), ttftMs: metrics.ttftMs, kvBytesSteady: metrics.kvBytesSteady, agreeing: top.length, positions: top.length },
    follow,
    top,
    promptTokens: metrics.promptTokens,
  };
}

async function measure(engine: FrontierEngine, task: ProseCase, ref: Reference, candidate: FrontierCandidate, options: FrontierOptions, layerProfile: LayerProfile | null): Promise<QuestionResult> {
  const profile = candidate.family === 'simlayerkv' ? layerProfile : null;
  const { answer, metrics } = await turn(engine, task, candidate.policy, options.answerTokens, profile);
  const probe = await engine.probeLogits({ messages: task.messages, follow: ref.follow, policy: candidate.policy, ...(profile ? { layerProfile: profile } : {}) });
  const agreeing = ref.top.filter((token, i) => probe.logits[i] !== undefined && argmax(probe.logits[i]!) === token).length;
  return { correct: answerMatches(answer, task.accept), answer: normalizeAnswer(answer), ttftMs: metrics.ttftMs, kvBytesSteady: metrics.kvBytesSteady, agreeing, positions: ref.top.length };
}

/** This CPU (and GPU, when the caller says), for the frontier's machine line. */
export function machineName(gpu: string | null = null): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} threads${gpu ? `, ${gpu}` : ''}`;
}

/**
 * Measures every candidate on every question. A candidate this build or model refuses (an
 * architecture without lazy prefill, a build without eviction) is left out and said in progress.
 */
export async function calibrateFrontier(
  engine: FrontierEngine,
  cases: readonly ProseCase[],
  candidates: readonly FrontierCandidate[],
  options: FrontierOptions & { layerProfile: LayerProfile | null; machine: string },
  progress: (line: string) => void = () => {},
  /** After each turn measured (full KV's or a candidate's), of all there are. */
  onStep: (done: number, total: number) => void = () => {},
): Promise<ModelFrontier> {
  if (cases.length === 0) throw new Error('no calibration questions');
  const total = cases.length * (candidates.length + 1);
  let done = 0;
  const step = () => onStep(++done, total);
  const tokenize = await tokenizer(engine);
  const refs: Reference[] = [];
  const results = new Map<FrontierCandidate, QuestionResult[]>(candidates.map((c) => [c, []]));
  const refused = new Set<FrontierCandidate>();
  for (const [i, task] of cases.entries()) {
    const started = Date.now();
    const ref = await reference(engine, task, options, tokenize);
    refs.push(ref);
    step();
    for (const candidate of candidates) {
      if (refused.has(candidate)) {
        step();
        continue;
      }
      const began = Date.now();
      try {
        const result = await measure(engine, task, ref, candidate, options, options.layerProfile);
        results.get(candidate)!.push(result);
        progress(`  ${candidate.policy}: ${result.correct ? 'right' : 'wrong'}, top-1 ${result.agreeing}/${result.positions} (${((Date.now() - began) / 1000).toFixed(1)} s)`);
      } catch (error) {
        if (!(error instanceof EngineError) || error.code !== 'BAD_POLICY') throw error;
        refused.add(candidate);
        progress(`  ${candidate.policy} left out: ${error.message}`);
      }
      step();
    }
    progress(`question ${i + 1}/${cases.length} (${ref.promptTokens} tokens, full KV ${ref.result.correct ? 'right' : 'wrong'}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  const full = refs.map((r) => r.result);
  const points: FrontierPoint[] = candidates
    .filter((c) => !refused.has(c))
    .map((c) => frontierPoint(c.policy, c.family, c.budgetFraction, full, results.get(c)!));
  return {
    questions: cases.length,
    fullCorrect: full.filter((r) => r.correct).length,
    promptTokens: Math.round(median(refs.map((r) => r.promptTokens))),
    points,
    source: 'calibrate',
    machine: options.machine,
    measuredAt: new Date().toISOString(),
  };
}

/**
 * The frontier at each length, shortest first: every length's questions built before the first
 * turn (so progress counts all the turns there are), each length handed to `onLength` as soon as
 * it is measured (stored at once: a cancelled run keeps the lengths it finished).
 */
export async function calibrateLengths(
  engine: FrontierEngine,
  lengths: readonly number[],
  candidates: readonly FrontierCandidate[],
  options: Omit<FrontierOptions, 'tokens'> & { layerProfile: LayerProfile | null; machine: string },
  hooks: {
    progress?: (line: string) => void;
    onStep?: (done: number, total: number) => void;
    onLength?: (frontier: ModelFrontier) => void | Promise<void>;
  } = {},
): Promise<ModelFrontier[]> {
  const { progress = () => {}, onStep = () => {}, onLength = () => {} } = hooks;
  const questions: { tokens: number; cases: ProseCase[] }[] = [];
  for (const tokens of lengths) questions.push({ tokens, cases: await calibrationCases(engine, { ...options, tokens }) });
  const total = questions.reduce((sum, q) => sum + q.cases.length * (candidates.length + 1), 0);
  let before = 0;
  const frontiers: ModelFrontier[] = [];
  for (const { tokens, cases } of questions) {
    progress(`${candidates.length} policies against full KV on ${cases.length} real-prose question${cases.length === 1 ? '' : 's'} of ~${tokens} tokens`);
    const frontier = await calibrateFrontier(engine, cases, candidates, { ...options, tokens }, progress, (done) => onStep(before + done, total));
    before += cases.length * (candidates.length + 1);
    frontiers.push(frontier);
    await onLength(frontier);
  }
  return frontiers;
}
