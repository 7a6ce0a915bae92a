// A chat's KV budget setting: what `auto` may give the KV cache beside the free memory. "auto"
// (no cap: the memory decides), bytes ("512mb", "1.5gb") or tokens ("4096" or "4096 tokens": that
// many tokens of full-precision KV on the loaded model). Pure: the settings form validates with it
// before sending, the API's schema with the same words, the engine turns it into bytes.
import { formatBytes, parseByteSize } from '../format.js';

export type KvBudgetSetting = { kind: 'auto' } | { kind: 'bytes'; bytes: number } | { kind: 'tokens'; tokens: number };

/** Below this a cache holds too little of any document to answer from it (auto's smallest eviction budget is 256 cells). */
export const MIN_KV_BUDGET_TOKENS = 256;

export class KvBudgetSettingError extends Error {}

export function parseKvBudgetSetting(raw: string): KvBudgetSetting {
  const text = raw.trim().toLowerCase();
  if (text === '' || text === 'auto') return { kind: 'auto' };
  const tokens = /^(\d+)(\s*tokens?)?$/.exec(text);
  if (tokens) {
    const count = Number(tokens[1]);
    if (count < MIN_KV_BUDGET_TOKENS) throw new KvBudgetSettingError(`A KV budget of ${count} tokens holds too little to answer from; give at least ${MIN_KV_BUDGET_TOKENS}.`);
    return { kind: 'tokens', tokens: count };
  }
  const bytes = parseByteSize(text.replace(/\s+/g, ''));
  if (bytes === null) throw new KvBudgetSettingError(`"${raw.trim()}" is not a KV budget: write auto, a size such as 512mb or 1.5gb, or a token count such as 4096.`);
  if (bytes < 1024 * 1024) throw new KvBudgetSettingError(`A KV budget of ${formatBytes(bytes)} holds too little to answer from; give at least 1mb.`);
  return { kind: 'bytes', bytes };
}

/** The reason `raw` is refused, or null when it is a budget. */
export function kvBudgetSettingProblem(raw: string): string | null {
  try {
    parseKvBudgetSetting(raw);
    return null;
  } catch (err) {
    if (err instanceof KvBudgetSettingError) return err.message;
    throw err;
  }
}

/** The cap in bytes for a model whose full-precision KV takes `bytesPerToken` per token; null for auto. */
export function kvBudgetBytes(setting: KvBudgetSetting, bytesPerToken: number): number | null {
  if (setting.kind === 'auto') return null;
  if (setting.kind === 'bytes') return setting.bytes;
  return setting.tokens * bytesPerToken;
}
