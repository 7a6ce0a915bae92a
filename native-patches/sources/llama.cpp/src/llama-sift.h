#pragma once

// Sift inside llama.cpp: its C API, plain structs and functions, so node-llama-cpp's addon (or any
// binding) can call it. Implemented in Sift's own files, which the build copies into src/ from the
// Sift repository's native-patches/sources/ (each says at its top what it adds):
//   llama-sift.cpp             build marker, KV layer statistics, memory by buffer type and device
//   llama-sift-observe.cpp     attention observation, the scores the KV policies rank tokens by
//   llama-sift-prefill.cpp     segmented (lazy) prefill: LazyLLM's progressive token pruning
//   llama-sift-prune-score.cpp which tokens a lazy prefill keeps at a prune point
//   llama-sift-segment-kv.cpp  the KV cache's side of it: re-entry, gathered keys, holes
//   llama-sift-revive.cpp      revival of pruned tokens from the aux cache
//   llama-sift-kv-budget.cpp   SimLayerKV's small caches, value norms (VATP), key similarity (KeyDiff)
// native-patches/llama.cpp/*.patch hold only the hooks into llama.cpp's own files.

#include "llama.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

    struct llama_sift_kv_layer_stats {
        int32_t  il;       // layer index in the model
        uint32_t n_cells;  // cells this layer's cache can hold (all streams)
        uint32_t n_used;   // cells holding a token of any sequence
        uint64_t bytes_k;  // bytes allocated for this layer's K
        uint64_t bytes_v;  // bytes allocated for this layer's V
        uint32_t n_sink;   // windowed (SimLayerKV-trimmed) layer: the first positions it keeps, else 0
        uint32_t n_window; // windowed (SimLayerKV-trimmed) layer: the recent positions it keeps, else 0 (keeps all)
    };

    // identifies a Sift-patched build; a stock build does not export this symbol
    LLAMA_API const char * llama_sift_build_id(void);

    // fills up to n_max entries, one per layer that has a KV cache, ordered by layer index
    // returns the number of such layers, or -1 if the context's memory is not a KV cache
    LLAMA_API int32_t llama_sift_get_kv_layer_stats(
            const struct llama_context * ctx,
       struct llama_sift_kv_layer_stats * out,
                              int32_t   n_max);

    //
    // attention observation (llama-sift-observe.cpp)
    //

    // observe the attention of the last n_last queries of each ubatch, in every layer that uses the
    // KV cache (0 turns it off); computed by extra graph ops, so it works with flash attention on or off
    LLAMA_API void llama_sift_set_observation(struct llama_context * ctx, int32_t n_last);

    // the last ubatch's observation for layer il: out[h*n_kv + j] is the attention of the observed
    // queries on KV cell j, averaged over the queries and over the query heads of KV head h
    // returns the number of values (n_head_kv*n_kv), 0 if that layer has none, or -1 on error;
    // writes at most n_max values
    LLAMA_API int32_t llama_sift_get_observation(
            struct llama_context * ctx,
                         int32_t   il,
                           float * out,
                         int32_t   n_max,
                         int32_t * n_kv,
                         int32_t * n_head_kv);

    // the position of sequence seq_id's token in each of the first n_max KV cells, or -1 where the
    // cell holds none of its tokens; returns the number of cells written
    LLAMA_API int32_t llama_sift_get_cell_positions(
            const struct llama_context * ctx,
                          llama_seq_id   seq_id,
                               int32_t * out,
                               int32_t   n_max);

    //
    // segmented (lazy) prefill (llama-sift-prefill.cpp)
    //

    // the prune points cut the layers into segments; every ubatch of the tokens still alive runs
    // through one segment before any runs through the next, so the last prompt tokens have seen
    // every alive token when the tokens are scored at the segment's end
    struct llama_sift_prefill_params {
        int32_t         n_prune;      // number of prune points (0: a plain prefill, segment by segment)
        const int32_t * prune_layers; // [n_prune] increasing: the kept tokens continue into this layer
        const float   * keep;         // [n_prune] fraction of the prompt still computed after each point
        int32_t         n_sink;       // the first n_sink prompt tokens are never pruned
        int32_t         n_recent;     // nor the last n_recent
        int32_t         obs_window;   // tokens are scored by the attention of the last obs_window ones
        bool            keep_masked;  // after the prefill, keep masking pruned tokens until llama_sift_revive
        int32_t         n_pool;       // each KV head's scores are max-pooled over n_pool positions (<= 1: none)
        int32_t         score_from;   // < 0: score with the prune point's previous layer only; else sum every layer from this one on
        int32_t         span_max;     // > 0: rank whole sentences (runs of at most span_max tokens) by their best token; 0: each token alone
    };

#define LLAMA_SIFT_MAX_LAYERS   512
#define LLAMA_SIFT_MAX_SEGMENTS 32

    struct llama_sift_prefill_stats {
        int32_t n_tokens;                               // prompt tokens
        int32_t n_layer;
        int32_t computed[LLAMA_SIFT_MAX_LAYERS];        // tokens computed at each layer
        int32_t n_segments;
        int32_t segment_begin[LLAMA_SIFT_MAX_SEGMENTS]; // first layer of each segment
        int32_t segment_tokens[LLAMA_SIFT_MAX_SEGMENTS];// tokens computed in each segment
        double  segment_ms[LLAMA_SIFT_MAX_SEGMENTS];    // wall time of each segment
        int32_t n_pruned;                               // tokens held in the aux cache
        int64_t aux_bytes;                              // bytes of the aux cache
        int32_t keys[LLAMA_SIFT_MAX_LAYERS];            // keys a computed token's attention spans at each layer, on average
    };

    // prefills tokens into seq_id after its last position; on success the last token's logits are
    // available as with llama_decode (llama_get_logits_ith(ctx, -1)); returns 0, or what llama_decode
    // returned for the failing ubatch, or -3 for bad parameters
    LLAMA_API int32_t llama_sift_prefill(
            struct llama_context * ctx,
                    llama_seq_id   seq_id,
               const llama_token * tokens,
                         int32_t   n_tokens,
    const struct llama_sift_prefill_params * params);

    LLAMA_API const struct llama_sift_prefill_stats * llama_sift_get_prefill_stats(const struct llama_context * ctx);

    // the tokens the last llama_sift_prefill pruned, until llama_sift_revive or llama_sift_reset:
    // each one's position and the first layer it was not computed in (the others went through every
    // layer); writes at most n_max of them and returns how many there are
    LLAMA_API int32_t llama_sift_get_pruned(const struct llama_context * ctx, llama_pos * pos, int32_t * first_skipped_layer, int32_t n_max);

    // completes the pruned tokens of the last llama_sift_prefill from the aux cache: segment by
    // segment, each runs through the layers it skipped, starting from its hidden state where it was
    // pruned, so no layer is computed twice; afterwards every cell is valid in every layer
    // returns the number of tokens completed, or a negative llama_decode error
    LLAMA_API int32_t llama_sift_revive(struct llama_context * ctx, llama_seq_id seq_id, double * ms);

    // forgets the last lazy prefill: its masks and its aux cache (call before reusing the cells)
    LLAMA_API void llama_sift_reset(struct llama_context * ctx);

    // progress of the running llama_sift_prefill in token-layers (tokens computed times the layers
    // they went through); safe to call from another thread while it runs
    LLAMA_API void llama_sift_get_progress(const struct llama_context * ctx, int64_t * done, int64_t * total);

    // asks the running llama_sift_prefill to stop before its next ubatch; it then returns -4
    // (thread-safe; the next llama_sift_prefill clears the request)
    LLAMA_API void llama_sift_cancel(struct llama_context * ctx);

    //
    // KV budgets (llama-sift-kv-budget.cpp)
    //

    // contexts created from now on (llama_init_from_model) give layers trimmed_layers[0..n_trimmed) a cache of
    // their own holding only the first n_sink positions and the last n_window ones (SimLayerKV), as
    // a ring that keeps working while generating; the other layers keep every token.
    // Only architectures whose graph builder supports it (llama) use it; it applies to every context
    // created until it is cleared (n_trimmed == 0).
    LLAMA_API void llama_sift_set_next_context_layout(
              const int32_t * trimmed_layers,
                    int32_t   n_trimmed,
                    int32_t   n_sink,
                    int32_t   n_window);

    // Per-cell readings of layer il's cache (stream 0), per KV head: out[h*n_cells + j]. Each sets
    // *n_cells and *n_head_kv and returns the number of values (-1 if the layer has no such cache);
    // it reads the cache only when out holds n_max >= that many, so a caller sizes its buffer first
    // at no cost.

    // the L1 norm of each cell's value vector (VATP's value term)
    LLAMA_API int32_t llama_sift_get_value_norms(
            struct llama_context * ctx,
                         int32_t   il,
                           float * out,
                         int32_t   n_max,
                         int32_t * n_cells,
                         int32_t * n_head_kv);

    // the cosine of each cell's key to the mean unit key of the layer's used cells (0 for empty
    // cells; KeyDiff), in the cache of the full layers only
    LLAMA_API int32_t llama_sift_get_key_similarity(
            struct llama_context * ctx,
                         int32_t   il,
                           float * out,
                         int32_t   n_max,
                         int32_t * n_cells,
                         int32_t * n_head_kv);

    // bytes the backends allocated for the context's memory (the KV cache) and its compute buffers,
    // summed over buffer types, as llama_get_memory_breakdown reports them
    LLAMA_API void llama_sift_get_memory_bytes(
            const struct llama_context * ctx,
                              uint64_t * bytes_kv,
                              uint64_t * bytes_compute);

    // one buffer type's share of llama_get_memory_breakdown: where the weights, the context's
    // memory (the KV cache) and its compute buffers live, device by device
    struct llama_sift_memory_entry {
        char     buffer_type[64]; // ggml's name for it: "CPU", "Vulkan0", "Vulkan_Host", "CUDA0", …
        char     device[64];      // the device it belongs to ("" when ggml names none)
        bool     is_host;         // host memory (RAM), even when a GPU backend owns the type
        uint64_t model;
        uint64_t context;
        uint64_t compute;
    };

    // fills out[0 .. n_max) and returns how many buffer types there are
    LLAMA_API int32_t llama_sift_get_memory_by_buffer(
            const struct llama_context * ctx,
            struct llama_sift_memory_entry * out,
                                 int32_t   n_max);

#ifdef __cplusplus
}
#endif
