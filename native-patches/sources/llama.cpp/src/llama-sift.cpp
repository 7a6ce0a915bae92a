// Sift inside llama.cpp: the build marker, what a context's memory holds (KV cells and bytes per
// layer, bytes per buffer type and device), and the helpers Sift's other files share.
//
// The build marker is the one symbol a stock build lacks, so a process can tell which of the two
// same-named libraries it loaded. SIFT_BUILD_ID reaches this file only (src/CMakeLists.txt), so a
// new build id recompiles nothing else. Layer statistics are read from the cache's own tensors,
// not estimated; the memory breakdown is llama_get_memory_breakdown's, buffer type by buffer type.

#include "llama-sift.h"
#include "llama-sift-impl.h"

#include "llama-context.h"
#include "llama-kv-cache.h"
#include "llama-kv-cache-iswa.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#ifndef SIFT_BUILD_ID
#define SIFT_BUILD_ID "dev"
#endif

const char * llama_sift_build_id(void) {
    return "sift-patched:" SIFT_BUILD_ID;
}

int32_t llama_sift_get_kv_layer_stats(
        const llama_context * ctx,
        llama_sift_kv_layer_stats * out,
        int32_t n_max) {
    std::vector<llama_sift_kv_layer_stats> stats;

    const llama_memory_i * mem = ctx->get_memory();
    if (const auto * kv = dynamic_cast<const llama_kv_cache *>(mem)) {
        kv->sift_layer_stats(stats);
    } else if (const auto * iswa = dynamic_cast<const llama_kv_cache_iswa *>(mem)) {
        iswa->get_base()->sift_layer_stats(stats);
        iswa->get_swa ()->sift_layer_stats(stats);
    } else {
        return -1;
    }

    std::sort(stats.begin(), stats.end(), [](const auto & a, const auto & b) { return a.il < b.il; });

    const int32_t n = std::min<int32_t>((int32_t) stats.size(), std::max<int32_t>(n_max, 0));
    if (out != nullptr) {
        std::copy(stats.begin(), stats.begin() + n, out);
    }

    return (int32_t) stats.size();
}

void llama_kv_cache::sift_layer_stats(std::vector<llama_sift_kv_layer_stats> & out) const {
    uint32_t n_used = 0;
    for (const auto & cells : v_cells) {
        n_used += cells.get_used();
    }

    for (const auto & layer : layers) {
        llama_sift_kv_layer_stats s = {};
        s.il      = (int32_t) layer.il;
        s.n_cells = get_size()*n_stream;
        s.n_used  = n_used;
        s.bytes_k = ggml_nbytes(layer.k);
        s.bytes_v = layer.v ? ggml_nbytes(layer.v) : 0;
        s.n_sink   = swa_type != LLAMA_SWA_TYPE_NONE ? hparams.sift_n_sink : 0;
        s.n_window = swa_type != LLAMA_SWA_TYPE_NONE ? n_swa : 0;
        out.push_back(s);
    }
}

void llama_sift_get_memory_bytes(const llama_context * ctx, uint64_t * bytes_kv, uint64_t * bytes_compute) {
    uint64_t kv = 0;
    uint64_t compute = 0;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(ctx)) {
        kv      += mb.context;
        compute += mb.compute;
    }
    *bytes_kv      = kv;
    *bytes_compute = compute;
}

int32_t llama_sift_get_memory_by_buffer(const llama_context * ctx, llama_sift_memory_entry * out, int32_t n_max) {
    int32_t n = 0;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(ctx)) {
        if (out != nullptr && n < n_max) {
            llama_sift_memory_entry & e = out[n];
            ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
            snprintf(e.buffer_type, sizeof(e.buffer_type), "%s", ggml_backend_buft_name(buft));
            snprintf(e.device, sizeof(e.device), "%s", dev != nullptr ? ggml_backend_dev_name(dev) : "");
            e.is_host = ggml_backend_buft_is_host(buft);
            e.model   = mb.model;
            e.context = mb.context;
            e.compute = mb.compute;
        }
        n++;
    }
    return n;
}

//
// helpers shared by Sift's files (llama-sift-impl.h)
//

std::vector<llama_kv_cache *> sift_kv_caches(llama_memory_i * mem) {
    if (auto * kv = dynamic_cast<llama_kv_cache *>(mem)) {
        return { kv };
    }
    if (auto * iswa = dynamic_cast<llama_kv_cache_iswa *>(mem)) {
        return { iswa->get_base(), iswa->get_swa() };
    }
    return { };
}

size_t sift_layer_cache(const std::vector<llama_kv_cache *> & caches, int32_t il) {
    for (size_t c = 0; c < caches.size(); ++c) {
        if (caches[c]->sift_has_layer(il)) {
            return c;
        }
    }
    return 0;
}

std::vector<int32_t> sift_cell_positions(const llama_kv_cache * kv, llama_seq_id seq_id) {
    const llama_kv_cells & cells = kv->get_cells(seq_id);
    std::vector<int32_t> out(cells.size(), -1);
    for (uint32_t i = 0; i < cells.size(); ++i) {
        if (!cells.is_empty(i) && cells.seq_has(i, seq_id)) {
            out[i] = (int32_t) cells.pos_get(i);
        }
    }
    return out;
}
