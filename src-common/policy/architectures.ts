// Which model architectures each native hook supports: the capability table the presses'
// requirements read (presses/*.ts). A new architecture is one word here once its graph builder
// has the hook.

/** Graph builders with Sift's segment hooks, for lazy prefill (native-patches/llama.cpp/0005-sift-model-hooks.patch). */
export const LAZY_PREFILL_ARCHITECTURES: readonly string[] = ['llama', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'];

/** Graph builders that give SimLayerKV's trimmed layers a window cache (llama-sift-kv-budget.cpp). */
export const SIMLAYERKV_ARCHITECTURES: readonly string[] = ['llama', 'qwen2'];

/**
 * Architectures with sliding-window layers (gemma3 only when the file sets a window): their window
 * cache is sized by the model, and a lazy prefill needs it to keep every token (swa_full).
 */
export const SLIDING_WINDOW_ARCHITECTURES: readonly string[] = ['gemma2', 'gemma3'];
