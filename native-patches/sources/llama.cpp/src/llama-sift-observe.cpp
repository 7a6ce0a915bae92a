// Sift inside llama.cpp: attention observation, the scores every KV policy ranks tokens by.
//
// When on (llama_sift_set_observation), build_attn adds a few graph ops per layer that uses the KV
// cache: softmax(q_obs K^T) of the ubatch's last n queries with the layer's own mask, averaged over
// those queries and over the query heads of each KV head. The ops are plain ggml (view, permute,
// mul_mat, soft_max_ext, sum_rows, scale), so they run wherever attention runs, with flash
// attention on or off. Results are copied to the host after each ubatch; the last ubatch sees every
// key, so its scores are exact for the prompt's last tokens. Off by default, and part of the
// graph-reuse key (cparams.sift_obs_w).
//
// Hooks (native-patches/llama.cpp): llama-graph (build_attn calls build_sift_observe, the graph
// result keeps t_sift_obs), llama-context (decode calls sift_extract_observation), llama-cparams.

#include "llama-sift.h"

#include "llama-context.h"
#include "llama-graph.h"
#include "llama-kv-cache.h"
#include "llama-kv-cache-iswa.h"

#include <algorithm>
#include <vector>

ggml_tensor * llm_graph_context::build_sift_observe(
        ggml_tensor * q_cur,
        ggml_tensor * k,
        ggml_tensor * kq_mask,
        float kq_scale) const {
    // one attention stream (unified cache, or a single sequence) is all Sift observes
    if (k->ne[3] != 1 || kq_mask->ne[3] != 1) {
        return nullptr;
    }

    const int64_t n_tokens  = q_cur->ne[2];
    const int64_t n_head    = q_cur->ne[1];
    const int64_t n_head_kv = k->ne[1];
    const int64_t n_kv      = k->ne[2];
    const int64_t n_obs     = std::min<int64_t>(cparams.sift_obs_w, n_tokens);
    const int64_t n_group   = n_head/n_head_kv;

    // the last n_obs query rows, and the rows of the mask they use
    ggml_tensor * q = ggml_view_3d(ctx0, q_cur, q_cur->ne[0], n_head, n_obs,
            q_cur->nb[1], q_cur->nb[2], (n_tokens - n_obs)*q_cur->nb[2]);
    ggml_tensor * mask = ggml_view_2d(ctx0, kq_mask, n_kv, n_obs,
            kq_mask->nb[1], (n_tokens - n_obs)*kq_mask->nb[1]);

    q = ggml_permute(ctx0, q, 0, 2, 1, 3);                               // [d, n_obs, n_head]
    ggml_tensor * kp = ggml_permute(ctx0, k, 0, 2, 1, 3);                // [d, n_kv, n_head_kv]

    ggml_tensor * kq = ggml_mul_mat(ctx0, kp, q);                        // [n_kv, n_obs, n_head]
    ggml_prec_set_acc(kq, GGML_PREC_F32);

    if (hparams.attn_soft_cap) {
        kq = ggml_scale(ctx0, kq, 1.0f / hparams.f_attn_logit_softcapping);
        kq = ggml_tanh (ctx0, kq);
        kq = ggml_scale(ctx0, kq, hparams.f_attn_logit_softcapping);
    }

    kq = ggml_soft_max_ext(ctx0, kq, mask, kq_scale, hparams.f_max_alibi_bias);

    // sum over the observed queries, then over the query heads that share a KV head
    kq = ggml_cont(ctx0, ggml_permute(ctx0, kq, 1, 0, 2, 3));           // [n_obs, n_kv, n_head]
    kq = ggml_sum_rows(ctx0, kq);                                        // [1, n_kv, n_head]
    kq = ggml_reshape_3d(ctx0, kq, n_kv, n_group, n_head_kv);
    kq = ggml_cont(ctx0, ggml_permute(ctx0, kq, 1, 0, 2, 3));           // [n_group, n_kv, n_head_kv]
    kq = ggml_sum_rows(ctx0, kq);                                        // [1, n_kv, n_head_kv]
    kq = ggml_scale(ctx0, kq, 1.0f/(float) (n_obs*n_group));
    kq = ggml_reshape_2d(ctx0, kq, n_kv, n_head_kv);

    // nothing consumes it inside the graph, so it must be added explicitly
    ggml_build_forward_expand(gf, kq);

    return kq;
}

void llama_context::sift_set_observation(uint32_t n_last) {
    cparams.sift_obs_w = n_last;
    sift_obs.clear();
    sift_obs_shape.clear();
}

void llama_context::sift_extract_observation(const llm_graph_result * res) {
    if (cparams.sift_obs_w == 0) {
        return;
    }

    sift_obs.resize(res->t_sift_obs.size());
    sift_obs_shape.resize(res->t_sift_obs.size());

    for (size_t il = 0; il < res->t_sift_obs.size(); ++il) {
        ggml_tensor * t = res->t_sift_obs[il];
        if (t == nullptr) {
            sift_obs[il].clear();
            sift_obs_shape[il] = {0, 0};
            continue;
        }

        sift_obs[il].resize(ggml_nelements(t));
        sift_obs_shape[il] = {(int32_t) t->ne[0], (int32_t) t->ne[1]};

        ggml_backend_t backend = ggml_backend_sched_get_tensor_backend(sched.get(), t);
        GGML_ASSERT(backend != nullptr);
        ggml_backend_tensor_get_async(backend, t, sift_obs[il].data(), 0, ggml_nbytes(t));
    }
}

const std::vector<float> & llama_context::sift_get_observation(int32_t il, int32_t & n_kv, int32_t & n_head_kv) {
    static const std::vector<float> none;

    synchronize();

    if (il < 0 || (size_t) il >= sift_obs.size()) {
        n_kv = n_head_kv = 0;
        return none;
    }

    n_kv      = sift_obs_shape[il].first;
    n_head_kv = sift_obs_shape[il].second;

    return sift_obs[il];
}

void llama_sift_set_observation(llama_context * ctx, int32_t n_last) {
    ctx->sift_set_observation((uint32_t) std::max<int32_t>(n_last, 0));
}

int32_t llama_sift_get_observation(
        llama_context * ctx,
        int32_t il,
        float * out,
        int32_t n_max,
        int32_t * n_kv,
        int32_t * n_head_kv) {
    int32_t nk = 0;
    int32_t nh = 0;
    const auto & obs = ctx->sift_get_observation(il, nk, nh);

    if (n_kv)      { *n_kv      = nk; }
    if (n_head_kv) { *n_head_kv = nh; }

    if (out != nullptr) {
        const size_t n = std::min<size_t>(obs.size(), (size_t) std::max<int32_t>(n_max, 0));
        std::copy(obs.begin(), obs.begin() + n, out);
    }

    return (int32_t) obs.size();
}

int32_t llama_sift_get_cell_positions(
        const llama_context * ctx,
        llama_seq_id seq_id,
        int32_t * out,
        int32_t n_max) {
    const llama_memory_i * mem = ctx->get_memory();

    const llama_kv_cache * kv = dynamic_cast<const llama_kv_cache *>(mem);
    if (kv == nullptr) {
        if (const auto * iswa = dynamic_cast<const llama_kv_cache_iswa *>(mem)) {
            kv = iswa->get_base();
        }
    }
    if (kv == nullptr || n_max <= 0) {
        return 0;
    }

    const llama_kv_cells & cells = kv->get_cells(seq_id);
    const int32_t n = std::min<int32_t>((int32_t) cells.size(), n_max);
    for (int32_t i = 0; i < n; ++i) {
        out[i] = cells.seq_has(i, seq_id) ? (int32_t) cells.pos_get(i) : -1;
    }

    return n;
}
