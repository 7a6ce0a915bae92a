// Sift inside llama.cpp: KV budgets whose savings are physical (SimLayerKV, VATP).
//
// - llama_sift_set_next_context_layout: the next context gives the listed (SimLayerKV-trimmed) layers a cache of
//   their own that keeps the first n_sink positions and a window of recent ones, as a ring
//   (llama_kv_cache_iswa with Sift's copy of the hparams: those layers marked SWA, n_swa = window,
//   and sift_n_sink positions never masked by the window, nor purged when it wraps). The llama
//   builder picks the iSWA attention input when its hparams say so; other architectures ignore it.
// - llama_sift_get_value_norms: the L1 norm of each cell's value vector per KV head (VATP's value
//   term), read from the cache (f32/f16/bf16/quantized, either V layout).
// - llama_sift_get_key_similarity: the cosine of each cell's key to the mean unit key of the
//   layer's used cells, per KV head (KeyDiff's score: the least similar keys are the most
//   distinct); read from the cache, so it needs no attention and works with flash attention.
//
// Hooks (native-patches/llama.cpp): llama-context (takes the layout when it creates its memory),
// llama-hparams (sift_n_sink), llama-kv-cache (sinks are never masked or purged), the iSWA cache's
// constructor (splits layers by the hparams it is given) and models/llama.cpp (the iSWA input).

#include "llama-sift.h"

#include "llama-context.h"
#include "llama-impl.h"
#include "llama-kv-cache.h"
#include "llama-kv-cache-iswa.h"
#include "llama-model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace {

struct sift_layout {
    std::vector<int32_t> trimmed_layers;
    int32_t n_sink   = 0;
    int32_t n_window = 0;
};

std::mutex  sift_layout_mutex;
sift_layout sift_layout_next;

} // namespace

void llama_sift_set_next_context_layout(const int32_t * trimmed_layers, int32_t n_trimmed, int32_t n_sink, int32_t n_window) {
    std::lock_guard<std::mutex> lock(sift_layout_mutex);
    sift_layout_next = {};
    if (trimmed_layers != nullptr && n_trimmed > 0) {
        sift_layout_next.trimmed_layers.assign(trimmed_layers, trimmed_layers + n_trimmed);
        sift_layout_next.n_sink   = std::max(n_sink, 0);
        sift_layout_next.n_window = std::max(n_window, 1);
    }
}

std::unique_ptr<llama_hparams> llama_sift_take_layout(const llama_model & model) {
    // copied, not taken: a binding may retry a failed context creation, and each try needs it
    sift_layout layout;
    {
        std::lock_guard<std::mutex> lock(sift_layout_mutex);
        layout = sift_layout_next;
    }
    if (layout.trimmed_layers.empty()) {
        return nullptr;
    }
    // the builder must pick the windowed cache per layer (llama and qwen2 do, patch 0005), and the
    // model must not have its own SWA
    const bool builder_has_window = model.arch == LLM_ARCH_LLAMA || model.arch == LLM_ARCH_QWEN2;
    if (!builder_has_window || model.hparams.swa_type != LLAMA_SWA_TYPE_NONE) {
        LLAMA_LOG_WARN("%s: trimmed-layer layout not supported for this architecture, ignored\n", __func__);
        return nullptr;
    }

    auto hparams = std::make_unique<llama_hparams>(model.hparams);
    hparams->swa_type    = LLAMA_SWA_TYPE_STANDARD;
    hparams->n_swa       = (uint32_t) layout.n_window;
    hparams->sift_n_sink = (uint32_t) layout.n_sink;
    bool any = false;
    for (const int32_t il : layout.trimmed_layers) {
        if (il >= 0 && (uint32_t) il < hparams->n_layer()) {
            hparams->is_swa_impl[il] = 1;
            any = true;
        }
    }
    return any ? std::move(hparams) : nullptr;
}

llama_memory_i * llama_sift_create_memory(
        const llama_model & model, const llama_hparams & hparams,
        const llama_memory_params & params, const llama_cparams & cparams) {
    return new llama_kv_cache_iswa(
            model, hparams,
            params.type_k,
            params.type_v,
            !cparams.flash_attn,
            cparams.offload_kqv,
            params.swa_full,
            cparams.kv_unified,
            cparams.n_ctx_seq,
            cparams.n_seq_max,
            cparams.n_ubatch,
            1,
            nullptr,
            nullptr,
            nullptr,
            nullptr);
}

namespace {

// the first n_rows rows of a cache tensor as f32, converted from its type; empty when ggml has no
// conversion for it
std::vector<float> sift_rows_as_f32(const ggml_tensor * t, int64_t n_rows) {
    const int64_t n_values = t->ne[0]*n_rows;
    const size_t  nbytes   = ggml_row_size(t->type, t->ne[0])*n_rows;
    std::vector<float> vals(n_values);
    if (t->type == GGML_TYPE_F32) {
        ggml_backend_tensor_get(t, vals.data(), 0, nbytes);
        return vals;
    }
    const auto * traits = ggml_get_type_traits(t->type);
    if (traits->to_float == nullptr) {
        return {};
    }
    std::vector<uint8_t> raw(nbytes);
    ggml_backend_tensor_get(t, raw.data(), 0, nbytes);
    traits->to_float(raw.data(), vals.data(), n_values);
    return vals;
}

// the caches a reading may find layer il in: the plain cache, or an iSWA cache's full layers and,
// when with_window, its windowed (trimmed) layers
std::vector<const llama_kv_cache *> sift_caches(const llama_memory_i * mem, bool with_window) {
    if (const auto * kv = dynamic_cast<const llama_kv_cache *>(mem)) {
        return { kv };
    }
    if (const auto * iswa = dynamic_cast<const llama_kv_cache_iswa *>(mem)) {
        if (with_window) {
            return { iswa->get_base(), iswa->get_swa() };
        }
        return { iswa->get_base() };
    }
    return {};
}

// the C API's contract for a per-cell reading: the shape always, the values only into a buffer
// large enough for them, so a caller sizes its buffer first without the cache being read twice
template <typename Read>
int32_t sift_read_cells(const llama_memory_i * mem, bool with_window, float * out, int32_t n_max,
        int32_t * n_cells, int32_t * n_head_kv, Read read) {
    for (const llama_kv_cache * kv : sift_caches(mem, with_window)) {
        int32_t cells = 0;
        int32_t heads = 0;
        if (!read(kv, nullptr, cells, heads)) {
            continue;
        }
        *n_cells   = cells;
        *n_head_kv = heads;
        const int32_t n = cells*heads;
        if (out != nullptr && n_max >= n && !read(kv, out, cells, heads)) {
            return -1;
        }
        return n;
    }
    return -1;
}

} // namespace

int32_t llama_sift_get_value_norms(
        llama_context * ctx,
        int32_t il,
        float * out,
        int32_t n_max,
        int32_t * n_cells,
        int32_t * n_head_kv) {
    // a trimmed layer keeps its values in the window cache: both caches are searched
    return sift_read_cells(ctx->get_memory(), true, out, n_max, n_cells, n_head_kv,
            [il](const llama_kv_cache * kv, float * dst, int32_t & cells, int32_t & heads) {
                return kv->sift_value_norms(il, dst, cells, heads);
            });
}

int32_t llama_sift_get_key_similarity(
        llama_context * ctx,
        int32_t il,
        float * out,
        int32_t n_max,
        int32_t * n_cells,
        int32_t * n_head_kv) {
    // the full layers' cache only: a trimmed layer's window cache has cells of its own
    return sift_read_cells(ctx->get_memory(), false, out, n_max, n_cells, n_head_kv,
            [il](const llama_kv_cache * kv, float * dst, int32_t & cells, int32_t & heads) {
                return kv->sift_key_similarity(il, dst, cells, heads);
            });
}

bool llama_kv_cache::sift_value_norms(int32_t il, float * out, int32_t & n_cells, int32_t & n_head_kv) const {
    const auto it = map_layer_ids.find(il);
    if (it == map_layer_ids.end() || layers[it->second].v == nullptr) {
        return false;
    }

    const ggml_tensor * v = layers[it->second].v;

    const int64_t kv_size  = get_size();
    const int64_t n_embd_v = v->ne[0];
    const int64_t n_head   = hparams.n_head_kv(il);
    const int64_t d_head   = hparams.n_embd_head_v(il);

    n_cells   = (int32_t) kv_size;
    n_head_kv = (int32_t) n_head;
    if (out == nullptr) {
        return true;
    }

    // stream 0 holds kv_size rows of n_embd_v values; transposed, kv_size columns
    const std::vector<float> vals = sift_rows_as_f32(v, kv_size);
    if (vals.empty()) {
        return false;
    }

    for (int64_t j = 0; j < kv_size; ++j) {
        for (int64_t h = 0; h < n_head; ++h) {
            float sum = 0.0f;
            for (int64_t d = 0; d < d_head; ++d) {
                const int64_t i = h*d_head + d;
                sum += fabsf(v_trans ? vals[i*kv_size + j] : vals[j*n_embd_v + i]);
            }
            out[h*kv_size + j] = sum;
        }
    }

    return true;
}

bool llama_kv_cache::sift_key_similarity(int32_t il, float * out, int32_t & n_cells, int32_t & n_head_kv) const {
    const auto it = map_layer_ids.find(il);
    if (it == map_layer_ids.end() || layers[it->second].k == nullptr) {
        return false;
    }

    const ggml_tensor * k = layers[it->second].k;

    const int64_t kv_size  = get_size();
    const int64_t n_embd_k = k->ne[0];
    const int64_t n_head   = hparams.n_head_kv(il);
    const int64_t d_head   = hparams.n_embd_head_k(il);
    if (n_head <= 0 || n_head*d_head > n_embd_k) {
        return false;
    }

    n_cells   = (int32_t) kv_size;
    n_head_kv = (int32_t) n_head;
    if (out == nullptr) {
        return true;
    }

    // stream 0 holds kv_size rows of n_embd_k values, one row per cell
    const std::vector<float> vals = sift_rows_as_f32(k, kv_size);
    if (vals.empty()) {
        return false;
    }

    const llama_kv_cells & cells = v_cells[0];

    std::fill(out, out + n_head*kv_size, 0.0f);
    std::vector<double> anchor(d_head);
    std::vector<float>  norm(kv_size);
    for (int64_t h = 0; h < n_head; ++h) {
        // the anchor: the mean of the used cells' unit keys
        std::fill(anchor.begin(), anchor.end(), 0.0);
        for (int64_t j = 0; j < kv_size; ++j) {
            if (cells.is_empty((uint32_t) j)) {
                continue;
            }
            const float * key = vals.data() + j*n_embd_k + h*d_head;
            double sq = 0.0;
            for (int64_t d = 0; d < d_head; ++d) {
                sq += (double) key[d]*key[d];
            }
            norm[j] = (float) std::sqrt(sq);
            if (norm[j] > 0.0f) {
                for (int64_t d = 0; d < d_head; ++d) {
                    anchor[d] += key[d]/norm[j];
                }
            }
        }
        double anchor_sq = 0.0;
        for (const double a : anchor) {
            anchor_sq += a*a;
        }
        const double anchor_norm = std::sqrt(anchor_sq);
        if (anchor_norm == 0.0) {
            continue;
        }
        for (int64_t j = 0; j < kv_size; ++j) {
            if (cells.is_empty((uint32_t) j) || norm[j] == 0.0f) {
                continue;
            }
            const float * key = vals.data() + j*n_embd_k + h*d_head;
            double dot = 0.0;
            for (int64_t d = 0; d < d_head; ++d) {
                dot += key[d]*anchor[d];
            }
            out[h*kv_size + j] = (float) (dot/(norm[j]*anchor_norm));
        }
    }

    return true;
}
