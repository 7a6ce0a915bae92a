// The --policy grammar: parts joined by "+", each `name` or `name:key=value,key=value`.
//   full                      stock KV cache, nothing changed
//   kv:type=q8_0|q4_0|f16     KV cache element type (llama.cpp's own quantized cache)
//   lazy:at=8/20/24,keep=0.7/0.6/0.5,sink=4,recent=16,window=question|N,pool=15,from=L|last,revive=off|on
//                             LazyLLM prefill pruning (docs/POLICIES.md)
//   simlayerkv:delta=0.9,layers=3/5/9,sink=4,window=1024,lastw=32,rule=profile|prefill|decode
//                             SimLayerKV: lazy layers keep only sinks and a recent window
//   vatp:budget=B,sink=20,recent=N,score=acc|window,window=32,pool=1,when=stream|prompt,reuse=off|disk
//   h2o:budget=B,sink=20,recent=N,when=stream|prompt
//   snapkv:budget=B,sink=20,recent=N,window=32,pool=7,when=stream|prompt,reuse=off|disk
//   streaming:budget=B,sink=4
//                             token eviction under a budget (at most one of the four); B is
//                             tokens "512", a fraction of the prompt "0.2", or bytes "64mb"
// simlayerkv, one eviction method and kv compose; lazy does not combine with either yet.
// A later issue adds auto; each policy registers its knobs in POLICY_KNOBS so parsing,
// validation and docs/POLICIES.md stay in one place.

export type KvCacheType = 'f16' | 'q8_0' | 'q4_0';

export interface PolicyPart {
  name: string;
  params: Record<string, string>;
}

/** LazyLLM's schedule; `at` absent means the model's default schedule (src-main/policy/lazy.ts). */
export interface LazyPolicy {
  at: number[] | null;
  keep: number[] | null;
  sink: number;
  recent: number;
  /** Scoring queries: the last `window` prompt tokens, or 'question': the question's own tokens and the template's tail (the engine counts them per prompt). */
  window: number | 'question';
  /** Max-pooling kernel over positions applied to each KV head's scores before ranking (odd; 1 = none); null = the default. */
  pool: number | null;
  /** Score with every layer from this one up to the prune point (summed); 'last' = the prune point's previous layer only (LazyLLM); null = the default. */
  scoreFrom: number | 'last' | null;
  revive: boolean;
}

/** A KV budget: a count of tokens, a fraction of the prompt's tokens, or bytes of KV cache. */
export type KvBudget =
  | { kind: 'tokens'; value: number } // integer >= 2, e.g. "512"
  | { kind: 'fraction'; value: number } // 0 < f <= 1, written with a dot: "0.2", "1.0"; "1" alone is fraction 1
  | { kind: 'bytes'; value: number }; // "64mb", "512kb", "1gb", "1000b" (case-insensitive, binary units: kb=1024)

export type EvictionMethod = 'vatp' | 'h2o' | 'snapkv' | 'streaming';

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
}

/** SimLayerKV: lazy layers keep only sinks and a recent window. */
export interface LayerTrimPolicy {
  /** Laziness threshold; null = use the model's calibrated profile. Must be > 0; > 1 means no lazy layers. */
  delta: number | null;
  /** Explicit lazy layers (overrides delta and the profile), e.g. layers=3/5/9; null if not given. */
  layers: number[] | null;
  /** Initial tokens kept in lazy layers, default 4. */
  sink: number;
  /** Recent window kept in lazy layers, default 1024. */
  window: number;
  /** Scoring window (last prompt queries) for the prefill-time rule, default 32. */
  lastW: number;
  /**
   * Where the lazy layers come from: 'profile' (default) uses layers= or the calibrated profile and
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
  layerTrim: LayerTrimPolicy | null;
  eviction: EvictionPolicy | null;
}

interface KnobSpec {
  values?: readonly string[];
  /** The value's shape, when it is not one of `values`. */
  pattern?: RegExp;
  description: string;
}

const LAYER_LIST = /^\d+(\/\d+)*$/;
const FRACTION_LIST = /^(0(\.\d+)?|1(\.0+)?)(\/(0(\.\d+)?|1(\.0+)?))*$/;
const COUNT = /^\d+$/;
const POSITIVE_NUMBER = /^\d+(\.\d+)?$/;
const BUDGET = /^(\d+|\d+\.\d+|\d+(\.\d+)?(b|kb|mb|gb))$/i;

const BUDGET_KNOB: KnobSpec = {
  pattern: BUDGET,
  description:
    'required: tokens kept, as a count ("512"), a fraction of the prompt written with a dot ("0.2", "1.0"; "1" is the whole prompt) or KV bytes ("64mb", "512kb", "1gb", "1000b")',
};
const EVICTION_METHODS: readonly EvictionMethod[] = ['vatp', 'h2o', 'snapkv', 'streaming'];

/** Knobs every attention-ranked eviction method (vatp, h2o, snapkv) takes. */
const RANKED_EVICTION_KNOBS: Record<string, KnobSpec> = {
    budget: BUDGET_KNOB,
    sink: { pattern: COUNT, description: 'first tokens never evicted (default 20)' },
    recent: { pattern: COUNT, description: 'last tokens never evicted (default half of the budget)' },
    when: { values: ['stream', 'prompt'], description: 'evict while the prompt streams in (stream, default: memory never above the budget) or once the whole prompt, question included, is in (prompt: full-size peak, budget after)' },
};

const REUSE_KNOB: KnobSpec = {
  values: ['off', 'disk'],
  description: "with when=prompt: keep the prompt's full KV on disk so a follow-up loads it and selects again for its own question (disk), or prefill every turn anew (off, default)",
};

export const POLICY_KNOBS: Record<string, Record<string, KnobSpec>> = {
  full: {},
  kv: {
    type: { values: ['f16', 'q8_0', 'q4_0'], description: 'element type of the K and V cache' },
  },
  lazy: {
    at: { pattern: LAYER_LIST, description: 'prune points: the layers the kept tokens continue into, increasing' },
    keep: { pattern: FRACTION_LIST, description: 'fraction of the prompt computed after each prune point' },
    sink: { pattern: COUNT, description: 'first tokens never pruned (default 4)' },
    recent: { pattern: COUNT, description: 'last tokens never pruned (default 16)' },
    window: { pattern: /^(\d+|question)$/, description: "tokens are scored by the attention of this many last tokens; question = the question's own tokens and the template's tail (default question)" },
    pool: { pattern: COUNT, description: "max-pooling kernel over positions of each KV head's scores, odd; 1 = none (default 15)" },
    from: { pattern: /^(\d+|last)$/, description: "sum the attention of every layer from this one up to each prune point; last = the prune point's previous layer only, LazyLLM's rule (default: a tenth of the depth)" },
    revive: { values: ['on', 'off'], description: 'complete pruned tokens after the first answer token (default off: at 8k it stalls the answer about as long as a full prefill)' },
  },
  simlayerkv: {
    delta: { pattern: POSITIVE_NUMBER, description: "laziness threshold above 0; above 1 no layer is lazy (default: the model's calibrated profile)" },
    layers: { pattern: LAYER_LIST, description: 'explicit lazy layers, increasing (overrides delta and the profile)' },
    sink: { pattern: COUNT, description: 'initial tokens kept in lazy layers (default 4)' },
    window: { pattern: COUNT, description: 'recent tokens kept in lazy layers, at least 1 (default 1024)' },
    lastw: { pattern: COUNT, description: 'last prompt queries whose attention decides which layers are lazy, at least 1 (default 32)' },
    rule: {
      values: ['profile', 'prefill', 'decode'],
      description:
        'profile (default): layers= or the calibrated profile, small from the start; prefill / decode: decided per prompt after a full-size prefill, from the last lastw prompt queries or the first generated token, with delta (default: the profile\'s, else 0.9)',
    },
  },
  vatp: {
    ...RANKED_EVICTION_KNOBS,
    score: { values: ['acc', 'window'], description: 'attention averaged over the last window queries (window, default) or summed over every query so far (acc, H2O-style)' },
    window: { pattern: COUNT, description: 'queries averaged with score=window, at least 1 (default 32)' },
    reuse: REUSE_KNOB,
    pool: { pattern: COUNT, description: "max-pooling kernel over positions of each KV head's attention x value norm, odd (default 1 = none; 7 keeps spans whole as SnapKV does)" },
  },
  h2o: { ...RANKED_EVICTION_KNOBS },
  snapkv: {
    ...RANKED_EVICTION_KNOBS,
    window: { pattern: COUNT, description: 'observation window: the last queries whose attention scores tokens, at least 1 (default 32)' },
    pool: { pattern: COUNT, description: 'max-pooling kernel over positions, odd (default 7; 1 = none)' },
    reuse: REUSE_KNOB,
  },
  streaming: {
    budget: BUDGET_KNOB,
    sink: { pattern: COUNT, description: 'first tokens kept (attention sinks; default 4); the rest of the budget is the recent window' },
  },
};

export class PolicySpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicySpecError';
  }
}

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

function validatePart(part: PolicyPart): void {
  const knobs = POLICY_KNOBS[part.name];
  if (!knobs) {
    const known = Object.keys(POLICY_KNOBS).join(', ');
    throw new PolicySpecError(`unknown policy "${part.name}" (known: ${known})`);
  }
  for (const [key, value] of Object.entries(part.params)) {
    const knob = knobs[key];
    if (!knob) {
      const allowed = Object.keys(knobs);
      throw new PolicySpecError(
        `"${part.name}" has no knob "${key}"` + (allowed.length ? ` (knobs: ${allowed.join(', ')})` : ''),
      );
    }
    if (knob.values && !knob.values.includes(value)) {
      throw new PolicySpecError(`${part.name}:${key} must be one of ${knob.values.join(', ')}, not "${value}"`);
    }
    if (knob.pattern && !knob.pattern.test(value)) {
      throw new PolicySpecError(`${part.name}:${key}="${value}" is not valid: ${knob.description}`);
    }
  }
}

export function formatPolicyParts(parts: PolicyPart[]): string {
  return parts
    .map((p) => {
      const entries = Object.entries(p.params);
      return entries.length ? `${p.name}:${entries.map(([k, v]) => `${k}=${v}`).join(',')}` : p.name;
    })
    .join('+');
}

export function parsePolicy(spec: string): KvPolicy {
  const parts = parsePolicyParts(spec);
  const seen = new Set<string>();
  for (const part of parts) {
    validatePart(part);
    if (seen.has(part.name)) throw new PolicySpecError(`"${part.name}" appears twice in "${spec}"`);
    seen.add(part.name);
  }
  if (seen.has('full') && parts.length > 1) {
    throw new PolicySpecError('"full" means the stock KV cache and combines with nothing');
  }
  const evictionParts = parts.filter((p) => (EVICTION_METHODS as readonly string[]).includes(p.name));
  if (evictionParts.length > 1) {
    throw new PolicySpecError(`pick one eviction method: ${evictionParts.map((p) => `"${p.name}"`).join(' and ')} are both given`);
  }
  const layerTrimPart = parts.find((p) => p.name === 'simlayerkv');
  const lazyPart = parts.find((p) => p.name === 'lazy');
  const perPromptRule = layerTrimPart?.params['rule'];
  if ((perPromptRule === 'prefill' || perPromptRule === 'decode') && evictionParts.length > 0) {
    throw new PolicySpecError(`simlayerkv:rule=${perPromptRule} does not combine with eviction yet (rule=profile does)`);
  }
  if ((perPromptRule === 'prefill' || perPromptRule === 'decode') && layerTrimPart?.params['layers']) {
    throw new PolicySpecError(`simlayerkv:rule=${perPromptRule} decides the layers itself; drop layers= (or use rule=profile)`);
  }
  if (lazyPart && (layerTrimPart || evictionParts.length > 0)) {
    throw new PolicySpecError('lazy prefill does not combine with simlayerkv or eviction yet');
  }
  const kv = parts.find((p) => p.name === 'kv');
  const kvType = (kv?.params['type'] ?? 'f16') as KvCacheType;
  const evictionPart = evictionParts[0];
  return {
    spec: formatPolicyParts(parts),
    kvType,
    lazy: lazyPart ? parseLazy(lazyPart.params) : null,
    layerTrim: layerTrimPart ? parseLayerTrim(layerTrimPart.params) : null,
    eviction: evictionPart ? parseEviction(evictionPart.name as EvictionMethod, evictionPart.params) : null,
  };
}

/** A budget in tokens: fractions of the prompt round up, bytes round down; never below 1. */
export function resolveBudgetTokens(budget: KvBudget, promptTokens: number, bytesPerToken: number): number {
  let tokens: number;
  switch (budget.kind) {
    case 'tokens':
      tokens = budget.value;
      break;
    case 'fraction':
      // The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from rounding up a whole token.
      tokens = Math.ceil(budget.value * promptTokens - 1e-9);
      break;
    case 'bytes':
      if (!(bytesPerToken > 0)) throw new RangeError(`bytesPerToken must be above 0, not ${bytesPerToken}`);
      tokens = Math.floor(budget.value / bytesPerToken);
      break;
  }
  return Math.max(1, tokens);
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

function parseBudget(method: string, raw: string): KvBudget {
  const bytes = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)$/i.exec(raw);
  if (bytes) {
    const value = Math.floor(Number(bytes[1]) * BYTE_UNITS[bytes[2]!.toLowerCase()]!);
    if (value < 1) throw new PolicySpecError(`${method}:budget=${raw} must be at least 1 byte`);
    return { kind: 'bytes', value };
  }
  const value = Number(raw);
  if (raw.includes('.')) {
    if (value <= 0 || value > 1) {
      throw new PolicySpecError(`${method}:budget=${raw} is a fraction of the prompt and must be above 0 and at most 1`);
    }
    return { kind: 'fraction', value };
  }
  if (value === 0) throw new PolicySpecError(`${method}:budget=0 keeps nothing; give at least 2 tokens, a fraction like 0.2 or bytes like 64mb`);
  if (value === 1) return { kind: 'fraction', value: 1 };
  return { kind: 'tokens', value };
}

/** A max-pooling kernel: odd, at least 1 (1 = none); null when not given. */
function oddPool(name: string, raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const pool = Number(raw);
  if (pool < 1 || pool % 2 === 0) throw new PolicySpecError(`${name}:pool must be odd and at least 1 (1 = no pooling), not ${pool}`);
  return pool;
}

function atLeastOne(name: string, key: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (value < 1) throw new PolicySpecError(`${name}:${key} must be at least 1, not ${raw}`);
  return value;
}

function parseLayerTrim(params: Record<string, string>): LayerTrimPolicy {
  let delta: number | null = null;
  if (params['delta'] !== undefined) {
    delta = Number(params['delta']);
    if (!(delta > 0)) throw new PolicySpecError(`simlayerkv:delta must be a positive number, not ${params['delta']}`);
  }
  const layers = params['layers'] ? params['layers'].split('/').map(Number) : null;
  if (layers?.some((l, i) => i > 0 && l <= layers[i - 1]!)) {
    throw new PolicySpecError(`simlayerkv:layers must be non-negative layer numbers in increasing order, not ${params['layers']}`);
  }
  return {
    delta,
    layers,
    sink: Number(params['sink'] ?? 4),
    window: atLeastOne('simlayerkv', 'window', params['window'], 1024),
    lastW: atLeastOne('simlayerkv', 'lastw', params['lastw'], 32),
    rule: params['rule'] === 'prefill' || params['rule'] === 'decode' ? params['rule'] : 'profile',
  };
}

function parseEviction(method: EvictionMethod, params: Record<string, string>): EvictionPolicy {
  const rawBudget = params['budget'];
  if (rawBudget === undefined) {
    throw new PolicySpecError(
      `${method} needs budget=: tokens ("512"), a fraction of the prompt ("0.2") or KV bytes ("64mb")`,
    );
  }
  const budget = parseBudget(method, rawBudget);
  const sink = Number(params['sink'] ?? (method === 'streaming' ? 4 : 20));
  const recent = params['recent'] !== undefined ? Number(params['recent']) : null;
  const window = atLeastOne(method, 'window', params['window'], 32);
  const pool = method === 'snapkv' || method === 'vatp' ? oddPool(method, params['pool']) ?? (method === 'snapkv' ? 7 : 1) : 1;
  if (budget.kind === 'tokens' && sink + (recent ?? 0) > budget.value) {
    const kept = recent === null ? `sink=${sink}` : `sink=${sink} + recent=${recent}`;
    throw new PolicySpecError(`${method}: ${kept} is more than budget=${budget.value} tokens`);
  }
  const score = method === 'snapkv' || (method === 'vatp' && params['score'] !== 'acc') ? 'window' : 'accumulate';
  const when = method !== 'streaming' && params['when'] === 'prompt' ? 'prompt' : 'stream';
  const reuse = params['reuse'] === 'disk' ? 'disk' : 'off';
  if (reuse === 'disk' && when !== 'prompt') throw new PolicySpecError(`${method}:reuse=disk needs when=prompt (the full KV is kept only when the whole prompt is prefilled)`);
  if (reuse === 'disk' && score !== 'window') throw new PolicySpecError(`${method}:reuse=disk needs score=window (accumulated scores of stored tokens are not kept)`);
  return { method, budget, sink, recent, score, window, pool, when, reuse };
}

function parseLazy(params: Record<string, string>): LazyPolicy {
  const at = params['at'] ? params['at'].split('/').map(Number) : null;
  const keep = params['keep'] ? params['keep'].split('/').map(Number) : null;
  if ((at === null) !== (keep === null)) throw new PolicySpecError('lazy: give both at= and keep=, or neither for the default');
  if (at && keep) {
    if (at.length !== keep.length) throw new PolicySpecError(`lazy: ${at.length} prune points but ${keep.length} keep fractions`);
    if (at.some((l, i) => l < 1 || (i > 0 && l <= at[i - 1]!))) throw new PolicySpecError('lazy:at must increase and start at layer 1 or later');
    if (keep.some((k, i) => k <= 0 || (i > 0 && k > keep[i - 1]!))) throw new PolicySpecError('lazy:keep must be above 0 and never grow');
  }
  return {
    at,
    keep,
    sink: Number(params['sink'] ?? 4),
    recent: Number(params['recent'] ?? 16),
    window: (params['window'] ?? 'question') === 'question' ? 'question' : Math.max(1, Number(params['window'])),
    pool: oddPool('lazy', params['pool']),
    scoreFrom: params['from'] === undefined ? null : params['from'] === 'last' ? 'last' : Number(params['from']),
    revive: (params['revive'] ?? 'off') === 'on',
  };
}
