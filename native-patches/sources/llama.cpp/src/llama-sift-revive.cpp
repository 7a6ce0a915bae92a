// Sift inside llama.cpp: revival of the tokens a lazy prefill pruned, from its aux cache.
//
// After a lazy prefill, every pruned token runs through the layers it skipped, segment by segment,
// starting from its hidden state in the aux cache where it was pruned (or from the previous revival
// segment's output), in position order, so each token is computed at most once per layer and every
// earlier position is valid when it attends; no mask is needed. Afterwards every cell is valid in
// every layer, as after a full prefill.

#include "llama-sift.h"
#include "llama-sift-impl.h"

#include "llama-context.h"
#include "llama-impl.h"
#include "llama-model.h"

#include <algorithm>
#include <vector>

int32_t llama_context::sift_revive(llama_seq_id seq_id, double & ms) {
    const int64_t t_start_us = ggml_time_us();
    const auto caches = sift_kv_caches(memory.get());
    const int64_t n_embd = model.hparams.n_embd;

    if (caches.empty() || sift_aux_index.empty()) {
        ms = 0.0;
        return 0;
    }

    sift_prefill_scope scope(cparams, caches, seq_id);
    sift_abort_scope   abort_scope(*this, abort_callback != nullptr);
    // every earlier position is valid by the time a revived token attends to it: alive tokens were
    // computed by the prefill, pruned ones earlier in this pass (positions ascend); no mask needed
    for (auto * kv : caches) {
        kv->sift_masked.erase(seq_id);
        kv->sift_hole_from.erase(seq_id);
    }

    // hidden state of each pending token at the start of the next segment, by position
    std::vector<std::pair<llama_pos, int32_t>> order(sift_aux_index.size());
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = {sift_aux_index[i].first, (int32_t) i};
    }
    std::sort(order.begin(), order.end());

    std::vector<llama_pos> pending_pos;   // tokens computed up to the current segment, in position order
    std::vector<float>     pending_hidden;

    for (size_t seg = 1; seg + 1 < sift_bounds.size(); ++seg) {
        const int32_t begin = sift_bounds[seg];
        const int32_t end   = sift_bounds[seg + 1];
        const bool    last  = seg + 2 == sift_bounds.size();

        // tokens not computed in this segment: the ones carried from the previous revival segment,
        // and the ones pruned right at this segment's first layer, merged in position order
        std::vector<llama_pos> pos;
        std::vector<float>     in;
        size_t ic = 0;
        for (const auto & [p, idx] : order) {
            if (sift_aux_index[idx].second != begin) {
                continue;
            }
            while (ic < pending_pos.size() && pending_pos[ic] < p) {
                pos.push_back(pending_pos[ic]);
                in.insert(in.end(), pending_hidden.begin() + ic*n_embd, pending_hidden.begin() + (ic + 1)*n_embd);
                ++ic;
            }
            pos.push_back(p);
            in.insert(in.end(), sift_aux_hidden.begin() + (size_t) idx*n_embd, sift_aux_hidden.begin() + (size_t) (idx + 1)*n_embd);
        }
        for (; ic < pending_pos.size(); ++ic) {
            pos.push_back(pending_pos[ic]);
            in.insert(in.end(), pending_hidden.begin() + ic*n_embd, pending_hidden.begin() + (ic + 1)*n_embd);
        }

        cparams.embeddings = last ? scope.saved.embeddings : true;
        cparams.sift_obs_w = 0;

        std::vector<float> out;
        const int ret = sift_run_segment(seq_id, begin, end, true, pos, nullptr, in, -1, last ? nullptr : &out);
        if (ret != 0) {
            return ret;
        }

        pending_pos.swap(pos);
        pending_hidden.swap(out);
    }

    const int32_t n_revived = (int32_t) sift_aux_index.size();
    sift_aux_index.clear();
    sift_aux_hidden.clear();

    ms = (ggml_time_us() - t_start_us)/1000.0;
    return n_revived;
}

int32_t llama_sift_revive(llama_context * ctx, llama_seq_id seq_id, double * ms) {
    double t = 0.0;
    const int32_t r = ctx->sift_revive(seq_id, t);
    if (ms) {
        *ms = t;
    }
    return r;
}
