// A model's measured frontier: for each lossy policy tried on real-prose questions (sift calibrate,
// src-main/models/frontierCalibration.ts), how much of full KV's answers it kept, how often its
// answer tokens agree with full KV's, and what it bought (first token sooner, KV smaller). Auto
// picks lossy presses from it (select.ts): lazy prefill only where this model's measured loss is
// within what the preference allows, and the eviction scorer this model kept answers best with.
// Pure: the aggregation of per-question results, the stored form and the queries auto asks.
import { z } from 'zod';

/** The key of a model's frontiers, one per calibrated prompt length, inside its stored profile JSON (beside SimLayerKV's profile). */
export const FRONTIERS_PROFILE_KEY = 'frontiers';
/** Where profiles stored before frontiers had lengths keep their one frontier. */
const SINGLE_FRONTIER_KEY = 'frontier';

export type FrontierFamily = 'lazy' | 'eviction' | 'simlayerkv' | 'kv';

/** One policy's measurement over the calibration questions. */
export interface FrontierPoint {
  /** As it ran (an eviction budget as a fraction of the prompt, e.g. vatp:budget=0.2,pool=7). */
  policy: string;
  family: FrontierFamily;
  /** An eviction budget's fraction of the prompt; null for other families. */
  budgetFraction: number | null;
  /** Questions full KV answered correctly that this policy answered correctly too. */
  kept: number;
  /** Questions whose normalised answer equals full KV's. */
  sameAnswer: number;
  /** Share of answer positions whose top token is full KV's, teacher-forced through full KV's answers. */
  top1: number;
  /** Median over questions of full KV's TTFT over this policy's (>1: first token sooner). */
  ttftSpeedup: number;
  /** Full KV's steady KV bytes over this policy's (>1: smaller). */
  kvSmaller: number;
}

export interface ModelFrontier {
  /** Questions asked, and how many full KV answered correctly (the denominator of `kept`). */
  questions: number;
  fullCorrect: number;
  /** Mean prompt length of the questions, in tokens. */
  promptTokens: number;
  points: FrontierPoint[];
  /** Where it came from: this machine's `sift calibrate`, or the file shipped with the app. */
  source: 'calibrate' | 'shipped';
  /** The CPU or GPU it was measured on (TTFT ratios depend on it). */
  machine: string;
  measuredAt: string;
}

/** One question's result under one policy, as the calibration records it. */
export interface QuestionResult {
  correct: boolean;
  /** Normalised answer, compared with full KV's. */
  answer: string;
  ttftMs: number;
  kvBytesSteady: number | null;
  /** Top-1 agreements with full KV at the forced positions, and how many positions. */
  agreeing: number;
  positions: number;
}

/**
 * What each preference lets auto trade for a sooner first token while memory is ample, in points
 * of answer-token agreement with full KV lost (100 × (1 − top-1)) on this model's calibration:
 * `exact` nothing; `balanced` about what an 8-bit cache costs (2 points); `fast` up to 10.
 * When memory is short, `balanced` and `fast` evict whatever the loss (the alternative is no
 * answer), and say what this model's calibration measured.
 */
export const SPEED_LOSS_POINTS: Record<'exact' | 'balanced' | 'fast', number> = { exact: 0, balanced: 2, fast: 10 };

/** A lazy prefill must save at least this much of the first token's wait to be worth its loss. */
export const MIN_LAZY_SPEEDUP = 1.1;

/** Points of agreement with full KV a measured point loses. */
export function lossPoints(point: FrontierPoint): number {
  return Math.max(0, 100 * (1 - point.top1));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A policy's point from its per-question results, paired with full KV's for the same questions. */
export function frontierPoint(policy: string, family: FrontierFamily, budgetFraction: number | null, full: readonly QuestionResult[], mine: readonly QuestionResult[]): FrontierPoint {
  if (full.length !== mine.length || full.length === 0) throw new Error(`${policy}: ${mine.length} results against full KV's ${full.length}`);
  const positions = mine.reduce((sum, r) => sum + r.positions, 0);
  const fullKv = full.reduce((sum, r) => sum + (r.kvBytesSteady ?? 0), 0);
  const myKv = mine.reduce((sum, r) => sum + (r.kvBytesSteady ?? 0), 0);
  return {
    policy,
    family,
    budgetFraction,
    kept: mine.filter((r, i) => r.correct && full[i]!.correct).length,
    sameAnswer: mine.filter((r, i) => r.answer === full[i]!.answer).length,
    top1: positions > 0 ? mine.reduce((sum, r) => sum + r.agreeing, 0) / positions : 0,
    ttftSpeedup: median(mine.map((r, i) => full[i]!.ttftMs / Math.max(1e-3, r.ttftMs))),
    kvSmaller: fullKv > 0 && myKv > 0 ? fullKv / myKv : 1,
  };
}

/**
 * The lazy schedule auto may run under this preference: the measured lazy point with the soonest
 * first token among those within the preference's loss and worth it; null when none (or the
 * model is not calibrated).
 */
export function vouchedLazy(frontier: ModelFrontier | null, preference: keyof typeof SPEED_LOSS_POINTS): FrontierPoint | null {
  if (!frontier) return null;
  const allowed = SPEED_LOSS_POINTS[preference];
  const fitting = frontier.points.filter((p) => p.family === 'lazy' && p.ttftSpeedup >= MIN_LAZY_SPEEDUP && lossPoints(p) <= allowed);
  return fitting.sort((a, b) => b.ttftSpeedup - a.ttftSpeedup)[0] ?? null;
}

/** The eviction scorer this model kept answers best with, by agreement at the smallest budget measured. */
export function bestEvictor(frontier: ModelFrontier | null): FrontierPoint | null {
  if (!frontier) return null;
  const evicting = frontier.points.filter((p) => p.family === 'eviction' && p.budgetFraction !== null);
  if (evicting.length === 0) return null;
  const smallest = Math.min(...evicting.map((p) => p.budgetFraction!));
  return evicting.filter((p) => p.budgetFraction === smallest).sort((a, b) => b.top1 - a.top1 || b.kept - a.kept)[0] ?? null;
}

/** SimLayerKV's measurement (with the model's own layer profile), or null when it was not measured. */
export function measuredTrim(frontier: ModelFrontier | null): FrontierPoint | null {
  return frontier?.points.find((p) => p.family === 'simlayerkv') ?? null;
}

/**
 * Points an eviction by this scorer is expected to lose keeping `fraction` of the prompt, read off
 * its measured budgets: linearly between them and full KV (all of the prompt, no loss); below the
 * smallest budget measured, that budget's loss, a floor (keeping less loses more), said by
 * `withinMeasured` false.
 */
export function evictionLoss(frontier: ModelFrontier, scorer: FrontierPoint, fraction: number): { points: number; withinMeasured: boolean } {
  const knobs = evictorWithoutBudget(scorer);
  const measured = frontier.points
    .filter((p) => p.family === 'eviction' && p.budgetFraction !== null && evictorWithoutBudget(p) === knobs)
    .map((p) => ({ fraction: p.budgetFraction!, points: lossPoints(p) }));
  const anchors = [...measured, { fraction: 1, points: 0 }].sort((a, b) => a.fraction - b.fraction);
  const lowest = anchors[0]!;
  if (fraction <= lowest.fraction) return { points: lowest.points, withinMeasured: fraction === lowest.fraction };
  const upper = anchors.findIndex((a) => a.fraction >= fraction);
  if (upper < 0) return { points: 0, withinMeasured: true };
  const [a, b] = [anchors[upper - 1]!, anchors[upper]!];
  const t = (fraction - a.fraction) / (b.fraction - a.fraction);
  return { points: a.points + t * (b.points - a.points), withinMeasured: true };
}

/** The scorer's own knobs of a measured eviction policy, without budget (e.g. "vatp:pool=7"). */
export function evictorWithoutBudget(point: FrontierPoint): string {
  const [press, knobs = ''] = point.policy.split('+')[0]!.split(':');
  const rest = knobs.split(',').filter((k) => k !== '' && !k.startsWith('budget='));
  return rest.length ? `${press}:${rest.join(',')}` : press!;
}

/** "kept 4 of 5 of full KV's correct answers, 94.8% of its answer tokens" */
export function describePoint(point: FrontierPoint, frontier: ModelFrontier): string {
  const kept = frontier.fullCorrect > 0 ? `kept ${point.kept} of the ${frontier.fullCorrect} answers full KV got right and ` : '';
  return `${kept}agreed with ${(point.top1 * 100).toFixed(1)}% of full KV's answer tokens`;
}

const frontierSchema = z.object({
  questions: z.number().int().nonnegative(),
  fullCorrect: z.number().int().nonnegative(),
  promptTokens: z.number().nonnegative(),
  points: z.array(
    z.object({
      policy: z.string().min(1),
      family: z.enum(['lazy', 'eviction', 'simlayerkv', 'kv']),
      budgetFraction: z.number().positive().max(1).nullable(),
      kept: z.number().int().nonnegative(),
      sameAnswer: z.number().int().nonnegative(),
      top1: z.number().min(0).max(1),
      ttftSpeedup: z.number().positive(),
      kvSmaller: z.number().positive(),
    }),
  ),
  source: z.enum(['calibrate', 'shipped']),
  machine: z.string(),
  measuredAt: z.string(),
});

/** A frontier checked field by field (stored JSON and shipped files are not trusted), or null. */
export function parseFrontier(value: unknown): ModelFrontier | null {
  const parsed = frontierSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/**
 * The frontiers in a stored profile JSON, shortest prompt first: each length's checked on its own
 * (a malformed one is left out), and a profile stored before frontiers had lengths read as its
 * one frontier. Empty when there is none.
 */
export function readFrontiers(stored: unknown): ModelFrontier[] {
  if (!stored || typeof stored !== 'object') return [];
  const profile = stored as Record<string, unknown>;
  const listed = profile[FRONTIERS_PROFILE_KEY];
  const candidates = Array.isArray(listed) ? listed : [profile[SINGLE_FRONTIER_KEY]];
  return byLength(candidates.map(parseFrontier).filter((f): f is ModelFrontier => f !== null));
}

/** Two prompt lengths within this ratio are one calibrated length (a new measurement replaces the old). */
const SAME_LENGTH_RATIO = 1.25;

function sameLength(a: number, b: number): boolean {
  return Math.max(a, b) / Math.max(1, Math.min(a, b)) <= SAME_LENGTH_RATIO;
}

function byLength(frontiers: ModelFrontier[]): ModelFrontier[] {
  return [...frontiers].sort((a, b) => a.promptTokens - b.promptTokens);
}

/** The frontiers with `added` in place of any measured at about its length, shortest first. */
export function mergeFrontier(frontiers: readonly ModelFrontier[], added: ModelFrontier): ModelFrontier[] {
  return byLength([...frontiers.filter((f) => !sameLength(f.promptTokens, added.promptTokens)), added]);
}

/**
 * The frontier with the points of `added`, measured on the same questions (same seed, depths and
 * length), in place of its points of the same policies and after the others; an error when the
 * questions differ, since a point's agreement and TTFT ratio are only comparable on the same ones.
 */
export function withPoints(frontier: ModelFrontier, added: ModelFrontier): ModelFrontier {
  if (added.questions !== frontier.questions || !sameLength(added.promptTokens, frontier.promptTokens)) {
    throw new Error(
      `points measured on ${added.questions} questions of ~${added.promptTokens} tokens cannot join a frontier of ${frontier.questions} of ~${frontier.promptTokens}`,
    );
  }
  const replaced = new Set(added.points.map((p) => p.policy));
  return { ...frontier, points: [...frontier.points.filter((p) => !replaced.has(p.policy)), ...added.points] };
}

/** A stored profile with `frontier` merged into its frontiers by length and every other kind kept. */
export function withFrontier(stored: unknown, frontier: ModelFrontier): Record<string, unknown> {
  const base = stored && typeof stored === 'object' && !Array.isArray(stored) ? (stored as Record<string, unknown>) : {};
  const { [SINGLE_FRONTIER_KEY]: _single, ...rest } = base;
  return { ...rest, [FRONTIERS_PROFILE_KEY]: mergeFrontier(readFrontiers(base), frontier) };
}

/**
 * The frontier measured nearest this prompt length (by ratio: 3k reads 2k's over 8k's), the one
 * auto reads for a turn; null when the model has none. A pruned or evicted share of a longer
 * prompt loses differently than of a short one, so the length's own measurement is the honest one.
 */
export function nearestFrontier(frontiers: readonly ModelFrontier[], promptTokens: number): ModelFrontier | null {
  const distance = (f: ModelFrontier) => Math.abs(Math.log(Math.max(1, f.promptTokens) / Math.max(1, promptTokens)));
  return [...frontiers].sort((a, b) => distance(a) - distance(b) || b.promptTokens - a.promptTokens)[0] ?? null;
}
