// The --policy grammar: parts joined by "+", each `name` or `name:key=value,key=value`.
//   full                      stock KV cache, nothing changed
//   kv:type=q8_0|q4_0|f16     KV cache element type (llama.cpp's own quantized cache)
//   lazy:at=4/12/20,keep=0.5/0.3/0.2,sink=4,recent=16,window=8,revive=on
//                             LazyLLM prefill pruning (docs/POLICIES.md)
// Later issues add lazy, simlayerkv, vatp, h2o, snapkv, streaming and auto; each registers its
// knobs in POLICY_KNOBS so parsing, validation and docs/POLICIES.md stay in one place.

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
  window: number;
  revive: boolean;
}

/** A parsed, validated policy the engine can apply. */
export interface KvPolicy {
  /** The canonical spec string, e.g. "full" or "kv:type=q8_0". */
  spec: string;
  kvType: KvCacheType;
  lazy: LazyPolicy | null;
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
    window: { pattern: COUNT, description: 'tokens are scored by the attention of this many last tokens (default 8)' },
    revive: { values: ['on', 'off'], description: 'complete pruned tokens after the first answer token (default on)' },
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
  const kv = parts.find((p) => p.name === 'kv');
  const kvType = (kv?.params['type'] ?? 'f16') as KvCacheType;
  const lazyPart = parts.find((p) => p.name === 'lazy');
  return { spec: formatPolicyParts(parts), kvType, lazy: lazyPart ? parseLazy(lazyPart.params) : null };
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
    window: Math.max(1, Number(params['window'] ?? 8)),
    revive: (params['revive'] ?? 'on') === 'on',
  };
}
