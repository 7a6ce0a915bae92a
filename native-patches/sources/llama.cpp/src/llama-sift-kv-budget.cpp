// Sift inside llama.cpp: KV budgets whose savings are physical (SimLayerKV, VATP).
//
// - llama_sift_set_next_context_layout: the next context gives the listed (lazy) layers a cache of
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
    std::vector<int32_t> lazy_layers;
    int32_t n_sink   = 0;
    int32_t n_window = 0;
};

std::mutex  sift_layout_mutex;
sift_layout sift_layout_next;

} // namespace

void llama_sift_set_next_context_layout(const int32_t * lazy_layers, int32_t n_lazy, int32_t n_sink, int32_t n_window) {
    std::lock_guard<std::mutex> lock(sift_layout_mutex);
    sift_layout_next = {};
    if (lazy_layers != nullptr && n_lazy > 0) {
        sift_layout_next.lazy_layers.assign(lazy_layers, lazy_layers + n_lazy);
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
    if (layout.lazy_layers.empty()) {
        return nullptr;
    }
    // the builder must pick the windowed cache per layer, and the model must not have its own SWA
    if (model.arch != LLM_ARCH_LLAMA || model.hparams.swa_type != LLAMA_SWA_TYPE_NONE) {
        LLAMA_LOG_WARN("%s: lazy-layer layout not supported for this architecture, ignored\n", __func__);
        return nullptr;
    }

    auto hparams = std::make_unique<llama_hparams>(model.hparams);
    hparams->swa_type    = LLAMA_SWA_TYPE_STANDARD;
    hparams->n_swa       = (uint32_t) layout.n_window;
    hparams->sift_n_sink = (uint32_t) layout.n_sink;
    bool any = false;
    for (const int32_t il : layout.lazy_layers) {
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

int32_t llama_sift_get_value_norms(
        llama_context * ctx,
        int32_t il,
        float * out,
        int32_t n_max,
        int32_t * n_cells,
        int32_t * n_head_kv) {
    const llama_memory_i * mem = ctx->get_memory();

    std::vector<const llama_kv_cache *> caches;
    if (const auto * kv = dynamic_cast<const llama_kv_cache *>(mem)) {
        caches = { kv };
    } else if (const auto * iswa = dynamic_cast<const llama_kv_cache_iswa *>(mem)) {
        caches = { iswa->get_base(), iswa->get_swa() };
    }

    std::vector<float> norms;
    int32_t n_head = 0;
    for (const auto * kv : caches) {
        if (kv->sift_value_norms(il, norms, n_head)) {
            *n_head_kv = n_head;
            *n_cells   = (int32_t) (norms.size()/std::max(n_head, 1));
            if (out != nullptr) {
                std::copy(norms.begin(), norms.begin() + std::min<size_t>(norms.size(), std::max(n_max, 0)), out);
            }
            return (int32_t) norms.size();
        }
    }

    return -1;
}

bool llama_kv_cache::sift_value_norms(int32_t il, std::vector<float> & out, int32_t & n_head_kv) const {
    const auto it = map_layer_ids.find(il);
    if (it == map_layer_ids.end() || layers[it->second].v == nullptr) {
        return false;
    }

    const ggml_tensor * v = layers[it->second].v;

    const int64_t kv_size  = get_size();
    const int64_t n_embd_v = v->ne[0];
    const int64_t n_head   = hparams.n_head_kv(il);
    const int64_t d_head   = hparams.n_embd_head_v(il);

    // stream 0 holds kv_size rows of n_embd_v values; transposed, kv_size columns
    const size_t nbytes = ggml_row_size(v->type, n_embd_v)*kv_size;
    std::vector<uint8_t> raw(nbytes);
    ggml_backend_tensor_get(v, raw.data(), 0, nbytes);

    std::vector<float> vals(n_embd_v*kv_size);
    const auto * traits = ggml_get_type_traits(v->type);
    if (v->type == GGML_TYPE_F32) {
        memcpy(vals.data(), raw.data(), nbytes);
    } else if (traits->to_float) {
        traits->to_float(raw.data(), vals.data(), (int64_t) vals.size());
    } else {
        return false;
    }

    n_head_kv = (int32_t) n_head;
    out.assign(n_head*kv_size, 0.0f);
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

bool llama_kv_cache::sift_key_similarity(int32_t il, std::vector<float> & out, int32_t & n_head_kv) const {
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

    // stream 0 holds kv_size rows of n_embd_k values, one row per cell
    const size_t nbytes = ggml_row_size(k->type, n_embd_k)*kv_size;
    std::vector<uint8_t> raw(nbytes);
    ggml_backend_tensor_get(k, raw.data(), 0, nbytes);

    std::vector<float> vals(n_embd_k*kv_size);
    const auto * traits = ggml_get_type_traits(k->type);
    if (k->type == GGML_TYPE_F32) {
        memcpy(vals.data(), raw.data(), nbytes);
    } else if (traits->to_float) {
        traits->to_float(raw.data(), vals.data(), (int64_t) vals.size());
    } else {
        return false;
    }

    const llama_kv_cells & cells = v_cells[0];

    n_head_kv = (int32_t) n_head;
    out.assign(n_head*kv_size, 0.0f);
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

int32_t llama_sift_get_key_similarity(
        llama_context * ctx,
        int32_t il,
        float * out,
        int32_t n_max,
        int32_t * n_cells,
        int32_t * n_head_kv) {
    // the full layers' cache only: a trimmed layer's window cache has cells of its own
    const llama_memory_i * mem = ctx->get_memory();
    const llama_kv_cache * kv = dynamic_cast<const llama_kv_cache *>(mem);
    if (kv == nullptr) {
        if (const auto * iswa = dynamic_cast<const llama_kv_cache_iswa *>(mem)) {
            kv = iswa->get_base();
        }
    }

    std::vector<float> sims;
    int32_t n_head = 0;
    if (kv == nullptr || !kv->sift_key_similarity(il, sims, n_head)) {
        return -1;
    }

    *n_head_kv = n_head;
    *n_cells   = (int32_t) (sims.size()/std::max(n_head, 1));
    if (out != nullptr) {
        std::copy(sims.begin(), sims.begin() + std::min<size_t>(sims.size(), std::max(n_max, 0)), out);
    }
    return (int32_t) sims.size();
}
