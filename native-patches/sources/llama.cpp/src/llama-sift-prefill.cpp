// Sift inside llama.cpp: segmented (lazy) prefill, LazyLLM's progressive token pruning.
//
// The prune points cut the layers into segments; every ubatch of the tokens still alive runs
// through one segment before any runs through the next, so at a segment's end the last prompt
// tokens have attended to every alive token and the observation (llama-sift-observe.cpp) scores
// them exactly, whatever the ubatch size. The top tokens (plus sinks and the last tokens) continue
// (llama-sift-prune-score.cpp); the others' hidden states go to an aux cache, from which
// llama-sift-revive.cpp can complete them. One host round trip per prune point.
//
// cparams sift_layer_begin/end make the graph builder run one segment; cparams sift_reenter and the
// cache's masked and gathered cells (llama-sift-segment-kv.cpp) keep a token from being attended in
// a layer it was not computed in. All of it is off unless llama_sift_prefill runs, and restored when
// it ends (sift_prefill_scope). Progress is counted in token-layers (the schedule fixes every
// segment's token count, so the total is known at the start); llama_sift_cancel stops the prefill
// inside the ubatch in flight (sift_abort_scope). Both are atomics, safe from another thread.
//
// Hooks (native-patches/llama.cpp): llama-context (the members this file uses), llama-cparams.

#include "llama-sift.h"
#include "llama-sift-impl.h"

#include "llama-context.h"
#include "llama-impl.h"
#include "llama-model.h"
#include "llama-kv-cache.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

static bool sift_abort_requested(void * data) {
    return static_cast<const llama_context *>(data)->sift_cancelled.load();
}

sift_abort_scope::sift_abort_scope(llama_context & ctx, bool caller_has_callback)
    : ctx(ctx), installed(!caller_has_callback) {
    if (installed) {
        ctx.set_abort_callback(sift_abort_requested, &ctx);
    }
}

sift_abort_scope::~sift_abort_scope() {
    if (installed) {
        ctx.set_abort_callback(nullptr, nullptr);
    }
}

int32_t llama_context::sift_run_segment(
        llama_seq_id seq_id, int32_t begin, int32_t end, bool reenter,
        const std::vector<llama_pos> & pos, const llama_token * tokens, const std::vector<float> & in,
        llama_pos logits_pos, std::vector<float> * out, std::vector<double> * keys_spanned) {
    const auto caches = sift_kv_caches(memory.get());
    const int32_t n_layer = (int32_t) model.hparams.n_layer();
    const int64_t n_embd  = model.hparams.n_embd;
    const bool    last    = end >= n_layer;
    const int32_t n       = (int32_t) pos.size();
    const int32_t n_chunk = (int32_t) std::min(cparams.n_batch, cparams.n_ubatch);

    cparams.sift_layer_begin = begin;
    cparams.sift_layer_end   = last ? 0 : end;
    cparams.sift_reenter     = reenter;
    for (auto * kv : caches) {
        kv->sift_set_reenter(reenter);
    }

    if (out) {
        out->assign(last ? 0 : (size_t) n*n_embd, 0.0f);
    }

    for (int32_t c = 0; c < n; c += n_chunk) {
        const int32_t n_c = std::min(n_chunk, n - c);

        if (sift_cancelled.load()) {
            return -4;
        }

        llama_batch batch = llama_batch_init(n_c, tokens ? 0 : (int32_t) n_embd, 1);
        batch.n_tokens = n_c;
        for (int32_t i = 0; i < n_c; ++i) {
            if (tokens) {
                batch.token[i] = tokens[c + i];
            } else {
                std::copy_n(in.data() + (size_t) (c + i)*n_embd, n_embd, batch.embd + (size_t) i*n_embd);
            }
            batch.pos[i]       = pos[c + i];
            batch.n_seq_id[i]  = 1;
            batch.seq_id[i][0] = seq_id;
            batch.logits[i]    = !last ? 1 : pos[c + i] == logits_pos;
        }

        const int ret = decode(batch);
        llama_batch_free(batch);
        if (ret != 0) {
            // 2: the graph stopped part-way, which sift_abort_scope's callback asks when cancelled
            return ret == 2 && sift_cancelled.load() ? -4 : ret;
        }

        sift_progress_done += (int64_t) n_c*(std::min(end, n_layer) - begin);
        if (keys_spanned) {
            keys_spanned->resize(caches.size(), 0.0);
            const llama_pos p_min = *std::min_element(pos.begin() + c, pos.begin() + c + n_c);
            const llama_pos p_max = *std::max_element(pos.begin() + c, pos.begin() + c + n_c);
            for (size_t k = 0; k < caches.size(); ++k) {
                (*keys_spanned)[k] += (double) n_c*caches[k]->sift_n_keys(seq_id, p_min, p_max);
            }
        }

        if (!last && out) {
            synchronize();
            std::copy_n(get_embeddings(), (size_t) n_c*n_embd, out->data() + (size_t) c*n_embd);
        }
    }

    return 0;
}

int32_t llama_context::sift_prefill(
        llama_seq_id seq_id,
        const llama_token * tokens,
        int32_t n_tokens,
        const llama_sift_prefill_params & params) {
    const auto caches = sift_kv_caches(memory.get());
    const int32_t n_layer = (int32_t) model.hparams.n_layer();
    const int64_t n_embd  = model.hparams.n_embd;

    if (caches.empty() || n_tokens <= 0 || n_layer > LLAMA_SIFT_MAX_LAYERS || params.n_prune < 0) {
        LLAMA_LOG_ERROR("%s: segmented prefill needs a KV cache (plain or iSWA) and at most %d layers\n", __func__, LLAMA_SIFT_MAX_LAYERS);
        return -3;
    }
    // every segment re-enters every earlier token, so a sliding-window cache must still hold them all
    for (const auto * kv : caches) {
        if (kv->get_size() < caches[0]->get_size()) {
            LLAMA_LOG_ERROR("%s: segmented prefill needs a full-size sliding-window cache (swa_full)\n", __func__);
            return -3;
        }
    }
    llama_kv_cache * kv = caches[0];

    // segment boundaries [0, p_1, ..., p_k, n_layer] and the keep fraction at each inner boundary
    std::vector<int32_t> bounds = {0};
    std::vector<float>   keep   = {1.0f};
    for (int32_t i = 0; i < params.n_prune; ++i) {
        const int32_t il = params.prune_layers[i];
        if (il <= bounds.back() || il >= n_layer || !(params.keep[i] > 0.0f && params.keep[i] <= 1.0f)) {
            LLAMA_LOG_ERROR("%s: prune points must increase inside (0, %d) and keep fractions lie in (0, 1]\n", __func__, n_layer);
            return -3;
        }
        bounds.push_back(il);
        keep.push_back(params.keep[i]);
    }
    bounds.push_back(n_layer);
    const size_t n_segments = bounds.size() - 1;
    if (n_segments > LLAMA_SIFT_MAX_SEGMENTS) {
        return -3;
    }

    sift_prefill_scope scope(cparams, caches, seq_id);
    sift_abort_scope   abort_scope(*this, abort_callback != nullptr);
    scope.keep_masked = params.keep_masked;
    sift_bounds = bounds;

    // the schedule fixes how many tokens each segment computes, so the total work is known now
    {
        const int32_t n_forced = std::min(n_tokens, std::max(params.n_sink, 0) + std::max(params.n_recent, 1));
        int64_t total = 0;
        int32_t n_seg_tokens = n_tokens;
        for (size_t seg = 0; seg < n_segments; ++seg) {
            if (seg > 0) {
                const int32_t target = std::max<int32_t>(1, (int32_t) std::ceil(keep[seg]*n_tokens));
                n_seg_tokens = std::min(n_seg_tokens, std::max(target, n_forced));
            }
            total += (int64_t) n_seg_tokens*(bounds[seg + 1] - bounds[seg]);
        }
        sift_cancelled      = false;
        sift_progress_done  = 0;
        sift_progress_total = total;
    }

    sift_stats = {};
    sift_stats.n_tokens   = n_tokens;
    sift_stats.n_layer    = n_layer;
    sift_stats.n_segments = (int32_t) n_segments;
    sift_aux_hidden.clear();
    sift_aux_index.clear();

    const llama_pos p0 = kv->seq_pos_max(seq_id) + 1;

    // the first layer each cell of the sequence holds no K/V in, per cache (INT32_MAX: none)
    std::vector<std::vector<int32_t>> hole_from(caches.size());
    for (auto * c : caches) {
        c->sift_hole_from.erase(seq_id);
    }

    // the sentence each prompt token belongs to, when whole sentences are ranked (empty: tokens alone)
    const std::vector<int32_t> spans = params.span_max > 0 ? sift_sentence_spans(model.vocab, tokens, n_tokens, params.span_max) : std::vector<int32_t>();

    std::vector<int32_t> alive(n_tokens);            // prompt indices computed in this segment
    std::iota(alive.begin(), alive.end(), 0);
    std::vector<float> hidden;                       // [alive][n_embd], this segment's input
    std::vector<float> acc;                          // [n_head_kv][n_tokens] attention summed over scored layers
    int32_t n_head_kv = 0;
    std::vector<float> hidden_out;

    for (size_t seg = 0; seg < n_segments; ++seg) {
        const int64_t t_start_us = ggml_time_us();
        const bool last  = seg + 1 == n_segments;
        const int32_t n_alive = (int32_t) alive.size();
        std::vector<double> keys_spanned; // per cache: keys each computed row's attention spanned, summed

        cparams.embeddings       = last ? scope.saved.embeddings : true;
        cparams.sift_obs_w       = last ? scope.saved.sift_obs_w : (uint32_t) std::max(params.obs_window, 1);

        {
            std::vector<llama_pos> pos(n_alive);
            std::vector<llama_token> seg_tokens;
            for (int32_t a = 0; a < n_alive; ++a) {
                pos[a] = p0 + alive[a];
                if (seg == 0) {
                    seg_tokens.push_back(tokens[alive[a]]);
                }
            }
            const int ret = sift_run_segment(seq_id, bounds[seg], bounds[seg + 1], seg > 0, pos,
                    seg == 0 ? seg_tokens.data() : nullptr, hidden, p0 + n_tokens - 1, &hidden_out, &keys_spanned);
            if (ret != 0) {
                return ret;
            }
        }

        for (int32_t il = bounds[seg]; il < bounds[seg + 1]; ++il) {
            sift_stats.computed[il] = n_alive;
            sift_stats.keys[il]     = (int32_t) std::lround(keys_spanned[sift_layer_cache(caches, il)]/std::max(n_alive, 1));
        }
        sift_stats.segment_begin[seg]  = bounds[seg];
        sift_stats.segment_tokens[seg] = n_alive;

        if (!last) {
            // score the alive tokens by the attention the last prompt tokens paid them at the
            // segment's last layer, and keep the best of them (sinks and recent tokens always)
            const int32_t n_keep_target = std::max<int32_t>(1, (int32_t) std::ceil(keep[seg + 1]*n_tokens));

            std::vector<uint8_t> forced(n_tokens, 0);
            for (int32_t i = 0; i < n_tokens; ++i) {
                forced[i] = i < params.n_sink || i >= n_tokens - std::max(params.n_recent, 1);
            }

            // each KV head's attention from the last prompt tokens, summed over the scored layers:
            // the segment's last one (LazyLLM), or every layer from score_from on, across segments
            const int32_t end_il   = bounds[seg + 1];
            const int32_t first_il = params.score_from >= 0 ? std::min(std::max(params.score_from, bounds[seg]), end_il - 1) : end_il - 1;
            if (params.score_from < 0) {
                std::fill(acc.begin(), acc.end(), 0.0f);
            }
            {
                std::vector<std::vector<int32_t>> cell_pos;
                for (const auto * c : caches) {
                    cell_pos.push_back(sift_cell_positions(c, seq_id));
                }
                for (int32_t il = first_il; il < end_il; ++il) {
                    int32_t n_kv_obs = 0;
                    int32_t n_head_obs = 0;
                    const auto & obs = sift_get_observation(il, n_kv_obs, n_head_obs);
                    if (obs.empty()) {
                        continue;
                    }
                    n_head_kv = n_head_obs;
                    acc.resize((size_t) n_head_kv*n_tokens, 0.0f);
                    // the layer's cache; with gathered keys, observation j is about the j-th cell of
                    // the range the last ubatch gathered, and columns past it are padding with zero attention
                    const size_t ic = sift_layer_cache(caches, il);
                    const auto & gathered = caches[ic]->sift_gather_cells;
                    const auto [g_first, g_last] = caches[ic]->sift_gather_last;
                    const int32_t n_cols = gathered.empty() ? n_kv_obs : std::min(n_kv_obs, (int32_t) (g_last - g_first));
                    for (int32_t h = 0; h < n_head_kv; ++h) {
                        for (int32_t j = 0; j < n_cols; ++j) {
                            const uint32_t cell = gathered.empty() ? (uint32_t) j : gathered[g_first + j];
                            const int32_t idx = cell_pos[ic][cell] - p0;
                            if (idx >= 0 && idx < n_tokens) {
                                acc[(size_t) h*n_tokens + idx] += obs[(size_t) h*n_kv_obs + j];
                            }
                        }
                    }
                }
            }

            const std::vector<uint8_t> kept = sift_select_kept(acc, n_head_kv, n_tokens, alive, forced, n_keep_target, params.n_pool, spans);

            // the kept tokens carry their hidden state into the next segment; the others leave it
            // in the aux cache, so they can be completed later without recomputing a layer
            std::vector<int32_t> next_alive;
            hidden.clear();
            for (int32_t a = 0; a < n_alive; ++a) {
                const float * row = hidden_out.data() + (size_t) a*n_embd;
                if (kept[a]) {
                    next_alive.push_back(alive[a]);
                    hidden.insert(hidden.end(), row, row + n_embd);
                } else {
                    sift_aux_index.emplace_back(p0 + alive[a], bounds[seg + 1]);
                    sift_aux_hidden.insert(sift_aux_hidden.end(), row, row + n_embd);
                }
            }

            // cells of pruned tokens hold no K/V in the layers ahead: never attend them there
            if ((int32_t) next_alive.size() < n_alive) {
                std::vector<uint8_t> is_alive(n_tokens, 0);
                for (const int32_t a : next_alive) {
                    is_alive[a] = 1;
                }
                for (size_t ic = 0; ic < caches.size(); ++ic) {
                    auto * c = caches[ic];
                    const std::vector<int32_t> cell_pos = sift_cell_positions(c, seq_id);
                    const uint32_t n_cells = (uint32_t) cell_pos.size();
                    auto & masked = c->sift_masked[seq_id];
                    masked.assign(n_cells, 0);
                    hole_from[ic].resize(n_cells, INT32_MAX);
                    c->sift_gather_cells.clear();
                    for (uint32_t j = 0; j < n_cells; ++j) {
                        const int32_t idx = cell_pos[j] - p0;
                        masked[j] = cell_pos[j] >= 0 && idx >= 0 && idx < n_tokens && !is_alive[idx];
                        if (masked[j]) {
                            hole_from[ic][j] = std::min(hole_from[ic][j], bounds[seg + 1]);
                        }
                        // the next segments attend only to the sequence's cells that hold computed tokens
                        if (cell_pos[j] >= 0 && !masked[j]) {
                            c->sift_gather_cells.push_back(j);
                        }
                    }
                    // in position order, so each ubatch attends to a contiguous range of the list
                    std::stable_sort(c->sift_gather_cells.begin(), c->sift_gather_cells.end(), [&](uint32_t x, uint32_t y) {
                        return cell_pos[x] < cell_pos[y];
                    });
                    c->sift_gather_pos.clear();
                    for (const uint32_t j : c->sift_gather_cells) {
                        c->sift_gather_pos.push_back(cell_pos[j]);
                    }
                }
                cparams.sift_gather_n = (uint32_t) kv->sift_gather_cells.size();
            }

            alive.swap(next_alive);
        }

        sift_stats.segment_ms[seg] = (ggml_time_us() - t_start_us)/1000.0;
    }

    // revival off: decoding hides each pruned token only from the layers it was not computed in. A
    // plain cache's attention input gives every such layer its own mask; an iSWA cache keeps hiding
    // pruned tokens from every layer (sift_masked)
    if (params.keep_masked && caches.size() == 1 && !hole_from[0].empty()) {
        kv->sift_masked.erase(seq_id);
        kv->sift_hole_from[seq_id] = std::move(hole_from[0]);
    }

    sift_stats.n_pruned  = (int32_t) sift_aux_index.size();
    sift_stats.aux_bytes = (int64_t) (sift_aux_hidden.size()*sizeof(float));

    return 0;
}

const llama_sift_prefill_stats & llama_context::sift_get_prefill_stats() const {
    return sift_stats;
}

int32_t llama_sift_prefill(
        llama_context * ctx,
        llama_seq_id seq_id,
        const llama_token * tokens,
        int32_t n_tokens,
        const llama_sift_prefill_params * params) {
    const llama_sift_prefill_params plain = {0, nullptr, nullptr, 0, 0, 1, false, 0, -1, 0}; // no prune points: nothing is scored
    return ctx->sift_prefill(seq_id, tokens, n_tokens, params ? *params : plain);
}

const llama_sift_prefill_stats * llama_sift_get_prefill_stats(const llama_context * ctx) {
    return &ctx->sift_get_prefill_stats();
}

const std::vector<std::pair<llama_pos, int32_t>> & llama_context::sift_get_pruned() const {
    return sift_aux_index;
}

int32_t llama_sift_get_pruned(const llama_context * ctx, llama_pos * pos, int32_t * first_skipped_layer, int32_t n_max) {
    const auto & index = ctx->sift_get_pruned();
    const int32_t n = (int32_t) index.size();
    for (int32_t i = 0; i < std::min(n, n_max); ++i) {
        if (pos)                 { pos[i]                 = index[i].first;  }
        if (first_skipped_layer) { first_skipped_layer[i] = index[i].second; }
    }
    return n;
}

void llama_context::sift_reset() {
    for (auto * kv : sift_kv_caches(memory.get())) {
        kv->sift_masked.clear();
        kv->sift_hole_from.clear();
    }
    sift_aux_index.clear();
    sift_aux_hidden.clear();
    sift_bounds.clear();
}

void llama_sift_reset(llama_context * ctx) {
    ctx->sift_reset();
}

void llama_sift_get_progress(const llama_context * ctx, int64_t * done, int64_t * total) {
    if (done)  { *done  = ctx->sift_progress_done.load(); }
    if (total) { *total = ctx->sift_progress_total.load(); }
}

void llama_sift_cancel(llama_context * ctx) {
    ctx->sift_cancelled = true;
}
