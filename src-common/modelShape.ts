// A model's shape as a GGUF file's metadata states it: what the KV cost model (layers, KV heads,
// head width) and the compute estimate (heads, widths, vocabulary) need. Read from a loaded
// model by the engine, and from the header alone by `sift plan` (no weights loaded). Pure.

export interface ModelShapeFacts {
  architecture: string;
  name: string | null;
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Query heads, the residual width, the feed-forward width and the vocabulary: what sizes the compute buffers. */
  heads: number;
  embeddingLength: number;
  feedForwardLength: number;
  vocabSize: number;
  trainContextSize: number;
}

/** A number under `<architecture>.<key>` (a per-layer array gives its first entry). */
function archNumber(metadata: Record<string, unknown>, arch: string, key: string): number | undefined {
  const section = metadata[arch] as Record<string, unknown> | undefined;
  const value = key.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], section);
  if (typeof value === 'number') return value;
  if (Array.isArray(value) && typeof value[0] === 'number') return value[0];
  return undefined;
}

export function modelShapeFromMetadata(metadata: unknown): ModelShapeFacts {
  const meta = metadata as Record<string, unknown>;
  const general = (meta['general'] ?? {}) as { architecture?: unknown; name?: unknown };
  const architecture = String(general.architecture ?? 'unknown');
  const heads = archNumber(meta, architecture, 'attention.head_count') ?? 0;
  const embd = archNumber(meta, architecture, 'embedding_length') ?? 0;
  const tokens = (meta['tokenizer'] as { ggml?: { tokens?: unknown } } | undefined)?.ggml?.tokens;
  return {
    architecture,
    name: typeof general.name === 'string' ? general.name : null,
    layers: archNumber(meta, architecture, 'block_count') ?? 0,
    kvHeads: archNumber(meta, architecture, 'attention.head_count_kv') ?? heads,
    headDim: archNumber(meta, architecture, 'attention.key_length') ?? (heads > 0 ? embd / heads : 0),
    heads,
    embeddingLength: embd,
    feedForwardLength: archNumber(meta, architecture, 'feed_forward_length') ?? 4 * embd,
    vocabSize: archNumber(meta, architecture, 'vocab_size') ?? (Array.isArray(tokens) ? tokens.length : 0),
    trainContextSize: archNumber(meta, architecture, 'context_length') ?? 0,
  };
}
