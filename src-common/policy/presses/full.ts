// `full`: llama.cpp's own f16 KV cache, nothing changed; the reference every press is measured against.
import type { PressDeclaration } from '../press.js';

export const fullPress: PressDeclaration = {
  name: 'full',
  title: 'Full KV',
  role: 'baseline',
  summary: "llama.cpp's own f16 KV cache, nothing changed",
  knobs: {},
  requires: { native: null, architectures: null, flashAttention: 'any', profile: 'none' },
  excludes: (['cacheType', 'layers', 'evictor', 'prefill'] as const).map((role) => ({
    role,
    reason: '"full" means the stock KV cache and combines with nothing',
  })),
  fallback: 'ran with the stock KV cache',
  hooks: [],
  reports: null,
  parse: () => ({}),
};
