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
  /** Sliding-window attention: the window (0: none) and the layers that use it; their KV holds the window and a batch. */
  slidingWindow: number;
  slidingLayers: number[];
}

/**
 * Which layers slide, when the file does not list them: llama.cpp's pattern per architecture
 * (models/<arch>.cpp, load_swa_pattern): n means every layer but each n-th.
 */
const SLIDING_PATTERNS: Readonly<Record<string, number>> = { gemma2: 2, gemma3: 6, gemma3n: 5, 'gemma-embedding': 6, cohere2: 4, exaone4: 4 };

/** llama_hparams::set_swa_pattern (dense_first off): the layers whose index mod n is below n - 1; n = 0: every layer. */
function slidingLayersOf(metadata: Record<string, unknown>, architecture: string, layers: number, window: number): number[] {
  if (window <= 0) return [];
  const listed = ((metadata[architecture] as Record<string, unknown> | undefined)?.['attention'] as Record<string, unknown> | undefined)?.['sliding_window_pattern'];
  if (Array.isArray(listed)) return listed.flatMap((slides, layer) => (slides === true || slides === 1 ? [layer] : []));
  const n = typeof listed === 'number' ? listed : SLIDING_PATTERNS[architecture];
  if (n === undefined) return [];
  return Array.from({ length: layers }, (_, layer) => layer).filter((layer) => n === 0 || layer % n < n - 1);
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
  const layers = archNumber(meta, architecture, 'block_count') ?? 0;
  const window = archNumber(meta, architecture, 'attention.sliding_window') ?? 0;
  return {
    architecture,
    name: typeof general.name === 'string' ? general.name : null,
    layers,
    kvHeads: archNumber(meta, architecture, 'attention.head_count_kv') ?? heads,
    headDim: archNumber(meta, architecture, 'attention.key_length') ?? (heads > 0 ? embd / heads : 0),
    heads,
    embeddingLength: embd,
    feedForwardLength: archNumber(meta, architecture, 'feed_forward_length') ?? 4 * embd,
    vocabSize: archNumber(meta, architecture, 'vocab_size') ?? (Array.isArray(tokens) ? tokens.length : 0),
    trainContextSize: archNumber(meta, architecture, 'context_length') ?? 0,
    slidingWindow: window,
    slidingLayers: slidingLayersOf(meta, architecture, layers, window),
  };
}
