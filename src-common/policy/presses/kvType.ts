// `kv`: the K and V cache's element type, llama.cpp's own quantized cache.
import type { PressDeclaration } from '../press.js';
import type { KvCacheType } from '../spec.js';

export const kvTypePress: PressDeclaration = {
  name: 'kv',
  title: 'KV cache type',
  role: 'cacheType',
  summary: "element type of the K and V cache (llama.cpp's quantized cache; q8_0 and q4_0 turn flash attention on)",
  knobs: {
    type: { values: ['f16', 'q8_0', 'q4_0'], default: 'f16', description: 'element type of the K and V cache' },
  },
  requires: { native: null, architectures: null, flashAttention: 'on', profile: 'none' },
  excludes: [],
  fallback: 'kept an f16 cache',
  hooks: ['context'],
  reports: null,
  parse: (params) => ({ kvType: params['type'] as KvCacheType }),
  describeTurn: (_metrics, policy) => `K and V stored as ${policy.kvType}`,
  planContext(policy, draft) {
    draft.shape.kvType = policy.kvType;
    // llama.cpp quantizes V only with flash attention
    if (policy.kvType !== 'f16') draft.shape.flashAttention = true;
  },
};
