// The compute buffers llama.cpp allocates beside a context's KV cache: its graph allocator's peak
// over the worst-case ubatch (a full batch over every cell). One of two tensors dominates it:
// - the logits of a full ubatch (f32, a vocabulary-wide row per token) beside two residual rows;
// - without flash attention, the attention scores of a full ubatch over every cell (a row per
//   query head, and the mask's), beside the feed-forward block's two ff-wide rows.
// A quantized V cache needs flash attention, which llama.cpp turns on for it, so only an f16
// cache without flash attention materializes the scores. Measured on SmolLM2-135M (2-core Intel Xeon, batch
// 256 and 512, 1k-8k cells, 2026-12-03): without flash attention 0-1.2% under the allocation,
// with it up to 4.3% under (its own scratch rows, which the allocator packs unevenly); the
// selector's margin (select.ts) is far larger. An estimate until llama.cpp's own dry run
// (common/fit.h) is exposed through the addon.
import { padToStep } from './kvBytes.js';
import type { ContextShape } from './contextPlan.js';

export interface ComputeShape {
  heads: number;
  embeddingLength: number;
  feedForwardLength: number;
  vocabSize: number;
}

const F32 = 4;

export function computeBytesEstimate(model: ComputeShape, shape: Pick<ContextShape, 'batchSize' | 'contextSize' | 'flashAttention' | 'kvType'>): number {
  const rows = Math.min(shape.batchSize, shape.contextSize);
  const logits = F32 * rows * (model.vocabSize + 2 * model.embeddingLength);
  const scoresMaterialized = !shape.flashAttention && shape.kvType === 'f16';
  const scores = scoresMaterialized ? F32 * rows * ((model.heads + 1) * padToStep(shape.contextSize) + 2 * model.feedForwardLength) : 0;
  return Math.max(logits, scores);
}
