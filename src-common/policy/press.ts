// A press (kvpress's unit): one KV technique, declared in one place. The grammar (spec.ts), the
// context planner and its cost model (contextPlan.ts), `sift ask --help` and docs/POLICIES.md's
// knob tables all read these declarations, so a knob's default or a refused combination is
// written once. Pure: the renderer imports it.
import type { PlanDraft } from './contextPlan.js';
import type { TurnMetrics } from '../engineTypes.js';
import type { KvPolicy } from './spec.js';

/** One `key=value` a press takes. */
export interface Knob {
  /** The allowed words, when the value is one of a few. */
  values?: readonly string[];
  /** The value's shape, when it is not one of `values`. */
  pattern?: RegExp;
  /** What the grammar reads when the knob is left out; null when the press computes it (the description says how) or it is required. */
  default: string | null;
  /** Without the default: help and docs append "(default X)" from `default`. */
  description: string;
  required?: boolean;
}

/**
 * What a press does to a turn, which also orders presses on the pipeline: the cache type is set
 * before anything sizes a cache, trimmed layers before an evictor counts bytes per token.
 */
export type PressRole = 'baseline' | 'cacheType' | 'layers' | 'evictor' | 'prefill';
export const ROLE_ORDER: readonly PressRole[] = ['baseline', 'cacheType', 'layers', 'evictor', 'prefill'];

/** The patched build's native features (siftNative.ts reads which a build has). */
export type NativeFeature = 'kvBudgets' | 'lazyPrefill' | 'observation';

/** Where a press acts on the turn pipeline. */
export type PipelineHook = 'context' | 'beforePrefill' | 'perChunk' | 'afterPrefill' | 'perDecodeStep' | 'twoContext';

export interface PressRequirements {
  /** Native feature the patched build provides; null: any build, stock included. */
  native: NativeFeature | null;
  /** Architectures whose graph builders have the hooks it needs; null: every architecture. */
  architectures: readonly string[] | null;
  /** Flash attention: 'on' when the press turns it on for its context (a quantized V cache needs it). */
  flashAttention: 'any' | 'on';
  /** A calibrated layer profile (sift calibrate): used when present, or needed unless a knob replaces it. */
  profile: 'none' | 'uses';
}

/**
 * What the cache holds after a turn, for the next question: the conversation whole, as reading it
 * again under the same policy would leave it (the next turn evaluates only what is new);
 * 'revivable': whole once the engine completes what the turn skipped, which it does while idle;
 * 'kept': only what the turn kept, which the next turn goes on from (evaluating only what is new),
 * as `note` tells the person; 'partial': the next turn reads the conversation again, for `reason`.
 */
export type AfterTurn = { cache: 'whole' } | { cache: 'revivable' } | { cache: 'kept'; note: string } | { cache: 'partial'; reason: string };

/** A press it does not run with, and why; `when` narrows the refusal to some of its own settings (and the other press's). */
export interface Exclusion {
  role: PressRole;
  when?: (params: Readonly<Record<string, string>>, other: Readonly<Record<string, string>>) => boolean;
  /** Shown when the combination is refused. */
  reason: string;
}

export interface PressDeclaration {
  name: string;
  /** The technique's name in sentences and notices ("Lazy prefill", "VATP"). */
  title: string;
  role: PressRole;
  /** One line: what the press does. */
  summary: string;
  knobs: Readonly<Record<string, Knob>>;
  requires: PressRequirements;
  /** Presses it refuses to run with; none listed means it composes with every other role. */
  excludes: readonly Exclusion[];
  /** What a turn runs instead when a requirement is missing, for the notice ("ran a full prefill"). */
  fallback: string;
  hooks: readonly PipelineHook[];
  /** The TurnMetrics field it fills (null: its effect shows in the KV bytes alone). */
  reports: 'lazy' | 'eviction' | 'simLayerKvDecision' | null;
  /**
   * Its part of the policy from validated knobs, every declared default filled in (a knob whose
   * default is null is absent when not given). Throws PolicySpecError on values the patterns
   * allow but the press does not.
   */
  parse(params: Readonly<Record<string, string>>): Partial<Omit<KvPolicy, 'spec'>>;
  /**
   * Its contribution to the turn's contexts (contextPlan.ts), given the policy and the plan so
   * far; presses run in ROLE_ORDER and only when their requirements are met. The KV cost model
   * follows from the shapes it leaves. Throws PolicySpecError when the policy does not fit the
   * model (a layer past its depth).
   */
  planContext?(policy: KvPolicy, draft: PlanDraft): void;
  /** What the cache holds after a turn (absent: the conversation whole). */
  afterTurn?(policy: KvPolicy): AfterTurn;
  /** What it did in a turn, in one line from its metrics (the CLI, the app and exports show it); null: nothing to say. */
  describeTurn?(metrics: TurnMetrics, policy: KvPolicy): string | null;
}

/** The knobs as given, with every declared default filled in. */
export function withDefaults(press: PressDeclaration, params: Readonly<Record<string, string>>): Record<string, string> {
  const filled: Record<string, string> = {};
  for (const [key, knob] of Object.entries(press.knobs)) if (knob.default !== null) filled[key] = knob.default;
  return { ...filled, ...params };
}

/** A knob's description with its default, as help and docs show it. */
export function describeKnob(knob: Knob): string {
  if (knob.required) return `required: ${knob.description}`;
  return knob.default === null ? knob.description : `${knob.description} (default ${knob.default})`;
}
