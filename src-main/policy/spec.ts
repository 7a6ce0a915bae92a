// The --policy grammar: parts joined by "+", each `name` or `name:key=value,key=value`.
//   full                      stock KV cache, nothing changed
//   kv:type=q8_0|q4_0|f16     KV cache element type (llama.cpp's own quantized cache)
// Later issues add lazy, simlayerkv, vatp, h2o, snapkv, streaming and auto; each registers its
// knobs in POLICY_KNOBS so parsing, validation and docs/POLICIES.md stay in one place.

export type KvCacheType = 'f16' | 'q8_0' | 'q4_0';

export interface PolicyPart {
  name: string;
  params: Record<string, string>;
}

/** A parsed, validated policy the engine can apply. */
export interface KvPolicy {
  /** The canonical spec string, e.g. "full" or "kv:type=q8_0". */
  spec: string;
  kvType: KvCacheType;
}

interface KnobSpec {
  values?: readonly string[];
  description: string;
}

export const POLICY_KNOBS: Record<string, Record<string, KnobSpec>> = {
  full: {},
  kv: {
    type: { values: ['f16', 'q8_0', 'q4_0'], description: 'element type of the K and V cache' },
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
  return { spec: formatPolicyParts(parts), kvType };
}
