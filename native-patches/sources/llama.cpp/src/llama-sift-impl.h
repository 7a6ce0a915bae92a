#pragma once

// Sift inside llama.cpp: the C++ helpers Sift's own source files share (not part of the C API,
// which is llama-sift.h). Each llama-sift-*.cpp says at its top what it adds.

#include "llama-cparams.h"
#include "llama-kv-cache.h"

#include <cstdint>
#include <vector>

struct llama_context;
struct llama_vocab;
struct llama_memory_i;

// the plain caches a segmented prefill works on: the one cache, or an iSWA cache's full and
// sliding-window ones (empty for any other memory)
std::vector<llama_kv_cache *> sift_kv_caches(llama_memory_i * mem);

// which of the caches holds layer il
size_t sift_layer_cache(const std::vector<llama_kv_cache *> & caches, int32_t il);

// the position each of the cache's cells holds for the sequence, -1 for the others
std::vector<int32_t> sift_cell_positions(const llama_kv_cache * kv, llama_seq_id seq_id);

// at a prune point: which of the alive tokens (prompt indices) continue into the next segment (1)
// and which leave for the aux cache (0), from acc, each KV head's attention on every prompt token
// [n_head_kv][n_tokens]; forced tokens (sinks, the last ones) always continue; with spans (a span id
// per prompt token, else empty), a span is ranked by its best alive token (llama-sift-prune-score.cpp)
std::vector<uint8_t> sift_select_kept(
        const std::vector<float>   & acc,
                         int32_t     n_head_kv,
                         int32_t     n_tokens,
        const std::vector<int32_t> & alive,
        const std::vector<uint8_t> & forced,
                         int32_t     n_keep_target,
                         int32_t     n_pool,
        const std::vector<int32_t> & spans);

// the sentence of each of the n_tokens tokens, numbered from 0: a sentence ends after a token whose
// text ends it (. ! ? before closing quotes or brackets, or a line break), or after span_max tokens
std::vector<int32_t> sift_sentence_spans(const llama_vocab & vocab, const llama_token * tokens, int32_t n_tokens, int32_t span_max);

// Stop (llama_sift_cancel) within the ubatch in flight, not after it: while a segmented prefill or a
// revival runs, the context's abort callback, which ggml's CPU backend polls between graph nodes,
// reads the cancel flag. A callback the caller set is left alone (a stop then waits for the ubatch,
// as it does on backends that never poll one).
struct sift_abort_scope {
    llama_context & ctx;
    const bool installed;

    sift_abort_scope(llama_context & ctx, bool caller_has_callback);
    ~sift_abort_scope();
};

// a segmented prefill or a revival: restores the context's settings when the prefill ends, however it ends
struct sift_prefill_scope {
    llama_cparams & cparams;
    std::vector<llama_kv_cache *> caches;
    const llama_seq_id seq_id;
    const llama_cparams saved;
    bool keep_masked = false;

    sift_prefill_scope(llama_cparams & cparams, std::vector<llama_kv_cache *> caches, llama_seq_id seq_id)
        : cparams(cparams), caches(std::move(caches)), seq_id(seq_id), saved(cparams) {}

    ~sift_prefill_scope() {
        cparams.embeddings       = saved.embeddings;
        cparams.sift_obs_w       = saved.sift_obs_w;
        cparams.sift_layer_begin = saved.sift_layer_begin;
        cparams.sift_layer_end   = saved.sift_layer_end;
        cparams.sift_reenter     = saved.sift_reenter;
        cparams.sift_gather_n    = saved.sift_gather_n;
        for (auto * kv : caches) {
            kv->sift_set_reenter(false);
            kv->sift_gather_cells.clear();
            kv->sift_gather_pos.clear();
            if (!keep_masked) {
                kv->sift_masked.erase(seq_id);
                kv->sift_hole_from.erase(seq_id);
            }
        }
    }
};
