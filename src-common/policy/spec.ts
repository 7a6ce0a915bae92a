// The --policy grammar: presses joined by "+", each `name` or `name:key=value,key=value`, e.g.
// `simlayerkv+vatp:budget=0.25,pool=7+kv:type=q8_0`. Each press declares its knobs, defaults and
// the combinations it refuses (press.ts, presses/); this module only reads those declarations,
// so `sift ask --help` and docs/POLICIES.md (npm run docs:policies) say the same.
import { describeKnob, withDefaults, type PressDeclaration } from './press.js';
import { PolicySpecError } from './policyError.js';
import { PRESSES, pressNamed } from './presses/index.js';

export { resolveBudgetTokens } from './presses/evictor.js';

export type KvCacheType = 'f16' | 'q8_0' | 'q4_0';

export interface PolicyPart {
  name: string;
  params: Record<string, string>;
}

/** A lazy schedule given by name, as fractions of the depth (src-common/policy/lazy.ts). */
export type LazyScheduleName = 'light' | 'balanced';

/** LazyLLM's schedule; `at` absent means the named schedule scaled to the model's depth (src-common/policy/lazy.ts). */
export interface LazyPolicy {
  at: number[] | null;
  keep: number[] | null;
  schedule: LazyScheduleName;
  sink: number;
  recent: number;
  /** Scoring queries: the last `window` prompt tokens, or 'question': the question's own tokens and the template's tail (the engine counts them per prompt). */
  window: number | 'question';
  /** Max-pooling kernel over positions applied to each KV head's scores before ranking (odd; 1 = none). */
  pool: number;
  /** Score with every layer from this one up to the prune point (summed); 'last' = the prune point's previous layer only (LazyLLM); null = the default. */
  scoreFrom: number | 'last' | null;
  /** Rank whole sentences (runs of at most `span` tokens) by their best token; 0 = each token alone. */
  span: number;
  revive: boolean;
}

/** A KV budget: a count of tokens, a fraction of the prompt's tokens, or bytes of KV cache. */
export type KvBudget =
  | { kind: 'tokens'; value: number } // integer >= 2, e.g. "512"
  | { kind: 'fraction'; value: number } // 0 < f <= 1, written with a dot: "0.2", "1.0"; "1" alone is fraction 1
  | { kind: 'bytes'; value: number }; // "64mb", "512kb", "1gb", "1000b" (case-insensitive, binary units: kb=1024)

/** A scorer's name (scorers/index.ts): vatp, h2o, snapkv, streaming. */
export type EvictionMethod = string;

/** Token eviction under a budget (VATP and its baselines). */
export interface EvictionPolicy {
  method: EvictionMethod;
  budget: KvBudget;
  /** First tokens always kept (attention sinks). Default 20 for vatp/h2o/snapkv, 4 for streaming. */
  sink: number;
  /** Most recent tokens always kept; null = half of the budget (VATP's 25% heavy + 25% recent split). streaming ignores it (everything but the sinks is the window). */
  recent: number | null;
  /** How attention is scored: 'accumulate' (H2O-style, every query so far) or 'window' (mean over the last `window` queries, Scissorhands-style). vatp default 'window' (it kept the pass key where accumulate lost it, and decodes without observing every step: docs/POLICIES.md); h2o is always 'accumulate'; snapkv always 'window'; streaming has none ('accumulate' there, unused). */
  score: 'accumulate' | 'window';
  /** Query window for score=window and for snapkv. Default 32. */
  window: number;
  /** Max-pooling kernel over positions applied to each slot's importance (odd; 1 = none). SnapKV default 7, VATP default 1, others 1. */
  pool: number;
  /**
   * Selection unit (ChunkKV, Liu et al., 2025): 1 ranks token by token; N > 1 ranks runs of N
   * consecutive stream tokens by their summed importance and keeps whole runs, so a sentence the
   * question needs stays readable rather than keeping its few most-attended tokens. 'sentence'
   * ranks sentences (split after . ! ? or a line end, at most 64 tokens) by their most important
   * token: a fact stated in one sentence is kept or dropped whole, not worn away a token per round.
   */
  chunk: number | 'sentence';
  /**
   * How the observed (layer, KV head) slots' scores combine into one importance per token (cells
   * are shared by every head): 'sum' (default) or 'max', so a token one head attends to sharply
   * (a retrieval head's fact) is not outranked by tokens every head attends to a little; 'share'
   * takes the max of each slot's share of the candidates' total, so scale differences between
   * layers (value norms) do not decide it.
   */
  heads: 'sum' | 'max' | 'share';
  /**
   * When tokens are chosen: 'stream' evicts while the prompt streams in (memory never exceeds the
   * budget, but the question is not seen yet); 'prompt' prefills the whole prompt at full size,
   * chooses with the question in view, and moves the kept tokens into a context of the budget's
   * size (steady memory is the budget; the peak is the full prompt). streaming is always 'stream'.
   */
  when: 'stream' | 'prompt';
  /**
   * With when=prompt: 'disk' keeps the whole prompt's full KV on disk, outside the working cache,
   * so a follow-up turn on the same document loads it, evaluates only its new tokens and selects
   * again for its own question (docs/design/KV_BUDGETS.md). Needs window scoring: accumulated
   * scores of the stored tokens are not kept.
   */
  reuse: 'off' | 'disk';
  /**
   * With when=stream and window scoring: what ranks each round while a prompt longer than the
   * budget streams in. 'question' evaluates the prompt's last `window` tokens (the question and the
   * answer's header) ahead of time after the chunks read so far, ranks by their attention, and
   * erases them again, so the question steers what is kept before it arrives; 'none' ranks by the
   * last chunk's own queries.
   */
  lookahead: 'question' | 'none';
  /**
   * With the question read ahead (when=stream, lookahead=question), for a prompt longer than the
   * budget: when the stream reaches its last window, this many tokens of the kept middle, the
   * sentences the question ranks highest, are erased where they sit and read again just before
   * it, the highest ranked last. Compaction keeps the document's order, so a fact from the first
   * half otherwise sits behind nearly everything kept; re-read next to the question the model
   * finds it (docs/BENCHMARKS.md, 2026-12-05 and 2026-12-06: 7 of 7 depths probed at 32k). 0 = off.
   */
  recall: number;
  /**
   * What a follow-up question reads: 'kept' goes on from the tokens this turn kept (and the answer),
   * evaluating only the new ones; 'reread' reads the whole conversation again. reuse=disk is always
   * 'reread': it restores the full KV stored on disk.
   */
  followUp: 'kept' | 'reread';
}

/** SimLayerKV: trimmed layers keep only sinks and a recent window. */
export interface SimLayerKvPolicy {
  /** Laziness threshold; null = use the model's calibrated profile. Must be > 0; > 1 means no trimmed layers. */
  delta: number | null;
  /** Explicit trimmed layers (overrides delta and the profile), e.g. layers=3/5/9; null if not given. */
  layers: number[] | null;
  /** Initial tokens kept in trimmed layers, default 4. */
  sink: number;
  /** Recent window kept in trimmed layers, default 1024. */
  window: number;
  /** Scoring window (last prompt queries) for the prefill-time rule, default 32. */
  lastW: number;
  /**
   * Where the trimmed layers come from: 'profile' (default) uses layers= or the calibrated profile and
   * allocates them small from the start; 'prefill' and 'decode' decide per prompt, after a
   * full-size prefill, from the attention of the last `lastW` prompt queries (prefill) or of the
   * first generated token (decode, SimLayerKV's code), then move the sequence into a trimmed
   * context: steady memory is trimmed, the peak is full.
   */
  rule: 'profile' | 'prefill' | 'decode';
}

/** A parsed, validated policy the engine can apply. */
export interface KvPolicy {
  /** The canonical spec string, e.g. "full" or "kv:type=q8_0". */
  spec: string;
  kvType: KvCacheType;
  lazy: LazyPolicy | null;
  simLayerKv: SimLayerKvPolicy | null;
  eviction: EvictionPolicy | null;
}

export { PolicySpecError };

export function parsePolicyParts(spec: string): PolicyPart[] {
  const trimmed = spec.trim();
  if (trimmed === '') throw new PolicySpecError('empty policy; use "full" for the stock KV cache');
  return trimmed.split('+').map((raw) => {
    const part = raw.trim();
    const colon = part.indexOf(':');
    const name = (colon === -1 ? part : part.slice(0, colon)).trim();
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new PolicySpecError(`bad policy name "${name}" in "${spec}"`);
    const params: Record<string, string> = {};
    if (colon !== -1) {
      for (const pair of part.slice(colon + 1).split(',')) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new PolicySpecError(`"${pair}" in "${part}" is not key=value`);
        const key = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        if (key in params) throw new PolicySpecError(`"${key}" is given twice in "${part}"`);
        params[key] = value;
      }
    }
    return { name, params };
  });
}

/** The press a part names, its knobs checked against the press's declaration. */
function validatePart(part: PolicyPart): PressDeclaration {
  const press = pressNamed(part.name);
  if (!press) {
    const known = PRESSES.map((p) => p.name).join(', ');
    throw new PolicySpecError(`unknown policy "${part.name}" (known: ${known})`);
  }
  for (const [key, value] of Object.entries(part.params)) {
    const knob = press.knobs[key];
    if (!knob) {
      const allowed = Object.keys(press.knobs);
      throw new PolicySpecError(
        `"${part.name}" has no knob "${key}"` + (allowed.length ? ` (knobs: ${allowed.join(', ')})` : ''),
      );
    }
    if (knob.values && !knob.values.includes(value)) {
      throw new PolicySpecError(`${part.name}:${key} must be one of ${knob.values.join(', ')}, not "${value}"`);
    }
    if (knob.pattern && !knob.pattern.test(value)) {
      throw new PolicySpecError(`${part.name}:${key}="${value}" is not valid: ${describeKnob(knob)}`);
    }
  }
  return press;
}

/**
 * Why two parts cannot run together, from the presses' declarations: two presses of one role
 * (two evictors, say) would both decide the same thing; otherwise either press may exclude the
 * other's role, for all or some of its own settings.
 */
function refusal(a: { press: PressDeclaration; part: PolicyPart }, b: { press: PressDeclaration; part: PolicyPart }): string | null {
  if (a.press.role === b.press.role) {
    return a.press.role === 'evictor'
      ? `pick one eviction method: "${a.part.name}" and "${b.part.name}" are both given`
      : `"${a.part.name}" and "${b.part.name}" both set the ${a.press.role}; pick one`;
  }
  for (const [own, other] of [[a, b], [b, a]] as const) {
    const rule = own.press.excludes.find((x) => x.role === other.press.role && (x.when?.(own.part.params, other.part.params) ?? true));
    if (rule) return rule.reason;
  }
  return null;
}

export function formatPolicyParts(parts: PolicyPart[]): string {
  return parts
    .map((p) => {
      const entries = Object.entries(p.params);
      return entries.length ? `${p.name}:${entries.map(([k, v]) => `${k}=${v}`).join(',')}` : p.name;
    })
    .join('+');
}

/** Parts in pipeline order with their presses, every combination checked. */
export function parsePolicyPresses(spec: string): Array<{ press: PressDeclaration; part: PolicyPart }> {
  const parts = parsePolicyParts(spec);
  const seen = new Set<string>();
  const entries = parts.map((part) => {
    const press = validatePart(part);
    if (seen.has(part.name)) throw new PolicySpecError(`"${part.name}" appears twice in "${spec}"`);
    seen.add(part.name);
    return { press, part };
  });
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const reason = refusal(entries[i]!, entries[j]!);
      if (reason) throw new PolicySpecError(reason);
    }
  }
  return entries;
}

export function parsePolicy(spec: string): KvPolicy {
  const entries = parsePolicyPresses(spec);
  const policy: KvPolicy = { spec: formatPolicyParts(entries.map((e) => e.part)), kvType: 'f16', lazy: null, simLayerKv: null, eviction: null };
  for (const { press, part } of entries) Object.assign(policy, press.parse(withDefaults(press, part.params)));
  return policy;
}
