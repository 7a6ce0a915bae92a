// Sift inside llama.cpp: the KV cache's side of a segmented (lazy) prefill.
//
// - Re-entry: the segments after the first run tokens whose cells already exist; find_slot returns
//   those cells (sift_find_existing) and apply_ubatch leaves them as they are.
// - Gathered keys: after a prune point, each remaining segment attends only to the cells of the
//   tokens it computes (and the sequence's earlier turns): build_attn gathers those rows of K and V
//   with ggml_get_rows (V through a transposed copy when it is stored transposed, without flash
//   attention) and uses a host-built causal mask over them, so attention costs scale with the kept
//   tokens, not the whole prompt. In a sliding-window layer only the keys inside the first query's
//   window are gathered.
// - Causal key ranges: a re-entered ubatch attends only to the cells up to its last position
//   (sift_limit_n_kv, padded to 256 like get_n_kv), the n_kv a stock prefill has for it, so
//   attention stays triangular instead of square.
// - Holes: with revival off, decoding hides a pruned token only from the layers it holds no K/V in;
//   the attention input builds one extra mask per layer where holes begin (sift_mask_holes).
// - Segment output: a segment that stops before the last layer hands back the residual stream.
//
// Hooks (native-patches/llama.cpp): llama-kv-cache (find_slot, apply_ubatch, set_input_kq_mask,
// the context's n_kv), llama-graph (the gather and hole-mask inputs, build_attn), llama-batch
// (re-entered positions), and each model's layer loop (src/models/*.cpp).

#include "llama-sift.h"

#include "llama-graph.h"
#include "llama-impl.h"
#include "llama-kv-cache.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

bool llm_graph_context::build_sift_segment_output(ggml_tensor * inp, ggml_tensor * inp_out_ids) const {
    if (sift_il_end() >= n_layer) {
        return false;
    }

    // the residual stream after the segment's last layer, before any norm; every token is an
    // output here, so the row selection is the identity, and it keeps the out_ids input in use
    if (inp_out_ids) {
        inp = ggml_get_rows(ctx0, inp, inp_out_ids);
    }
    res->t_embd = inp;
    ggml_build_forward_expand(gf, inp);

    return true;
}

llama_kv_cache::slot_info llama_kv_cache::sift_find_existing(const llama_ubatch & ubatch) const {
    uint32_t n_tokens = ubatch.n_tokens;
    uint32_t n_seqs   = 1;

    if (n_stream > 1) {
        GGML_ASSERT(n_tokens % ubatch.n_seqs_unq == 0);

        n_seqs   = ubatch.n_seqs_unq;
        n_tokens = n_tokens / n_seqs;
    }

    slot_info res = {
        /*.s0   =*/ LLAMA_MAX_SEQ,
        /*.s1   =*/ 0,
        /*.strm =*/ { },
        /*.idxs =*/ { },
    };

    res.resize(n_seqs);

    for (uint32_t s = 0; s < n_seqs; ++s) {
        const auto seq_id = ubatch.seq_id_unq[s];
        const auto & cells = v_cells[seq_to_stream[seq_id]];

        res.s0 = std::min<uint32_t>(res.s0, seq_to_stream[seq_id]);
        res.s1 = std::max<uint32_t>(res.s1, seq_to_stream[seq_id]);
        res.strm[s] = seq_to_stream[seq_id];

        // the cell that holds each of the sequence's positions
        std::unordered_map<llama_pos, uint32_t> cell_of;
        for (uint32_t i = 0; i < cells.size(); ++i) {
            if (!cells.is_empty(i) && cells.seq_has(i, seq_id)) {
                cell_of[cells.pos_get(i)] = i;
            }
        }

        res.idxs[s].reserve(n_tokens);
        for (uint32_t ii = 0; ii < n_tokens; ++ii) {
            const auto it = cell_of.find(ubatch.pos[s*n_tokens + ii]);
            if (it == cell_of.end()) {
                // a re-entered token must already be in the cache
                return { };
            }
            res.idxs[s].push_back(it->second);
        }
    }

    return res;
}

void llm_graph_input_sift_gather::set_input(const llama_ubatch * ubatch) {
    mctx->sift_set_gather_input(idx, mask, ubatch);
}

std::pair<size_t, size_t> llama_kv_cache::sift_gather_range(llama_pos p_min, llama_pos p_max) const {
    const auto & pos = sift_gather_pos;
    const size_t last = std::upper_bound(pos.begin(), pos.end(), p_max) - pos.begin();
    size_t first = 0;
    // a window hides from every later query what it hides from the first one, so the cells it hides
    // form a prefix; sinks are never hidden, so a cache that keeps them keeps the whole prefix
    if (swa_type != LLAMA_SWA_TYPE_NONE && hparams.sift_n_sink == 0) {
        first = std::partition_point(pos.begin(), pos.begin() + last, [&](llama_pos p) {
            return llama_hparams::is_masked_swa(n_swa, swa_type, p, p_min);
        }) - pos.begin();
    }
    return {first, last};
}

void llama_kv_cache::sift_set_gather_input(ggml_tensor * idx, ggml_tensor * mask, const llama_ubatch * ubatch) const {
    GGML_ASSERT(ggml_backend_buffer_is_host(idx->buffer) && ggml_backend_buffer_is_host(mask->buffer));

    const int64_t n_sel    = idx->ne[0];
    const int64_t n_tokens = ubatch->n_tokens;
    const auto [first, last] = sift_gather_range(
            *std::min_element(ubatch->pos, ubatch->pos + n_tokens), *std::max_element(ubatch->pos, ubatch->pos + n_tokens));
    // the cells in range; the padding repeats the first one, masked
    const int64_t n_vis = (int64_t) (last - first);
    GGML_ASSERT(n_vis > 0 && n_vis <= n_sel);
    GGML_ASSERT(mask->ne[0] == n_sel && mask->ne[1] == n_tokens);
    sift_gather_last = {first, last};

    const uint32_t * sel = sift_gather_cells.data() + first;
    std::copy(sel, sel + n_vis, (int32_t *) idx->data);
    std::fill((int32_t *) idx->data + n_vis, (int32_t *) idx->data + n_sel, (int32_t) sel[0]);

    // causal over the gathered cells, and windowed in a sliding-window cache, like
    // set_input_kq_mask over all of them (no ALiBi: segmented prefill runs on architectures without
    // it); a segment's ubatch holds one sequence, whose stream the gathered cells are in
    const auto & cells = v_cells[seq_to_stream[ubatch->seq_id[0][0]]];
    for (int64_t i = 0; i < n_tokens; ++i) {
        const llama_pos    p = ubatch->pos[i];
        const llama_seq_id s = ubatch->seq_id[i][0];
        for (int64_t j = 0; j < n_sel; ++j) {
            const uint32_t  c  = sel[std::min(j, n_vis - 1)];
            const llama_pos pc = cells.pos_get(c);
            const bool visible = j < n_vis && !cells.is_empty(c) && cells.seq_has(c, s) && pc <= p &&
                !(pc >= (llama_pos) hparams.sift_n_sink && llama_hparams::is_masked_swa(n_swa, swa_type, pc, p));
            const float value = visible ? 0.0f : -INFINITY;
            if (mask->type == GGML_TYPE_F16) {
                ((ggml_fp16_t *) mask->data)[i*n_sel + j] = ggml_fp32_to_fp16(value);
            } else {
                ((float *) mask->data)[i*n_sel + j] = value;
            }
        }
    }
}

uint32_t llama_kv_cache::sift_cells_upto(llama_seq_id seq_id, llama_pos p_max) const {
    const auto & cells = v_cells[seq_to_stream[seq_id]];
    uint32_t n_cells = 0;
    for (uint32_t i = 0; i < cells.size(); ++i) {
        if (!cells.is_empty(i) && cells.pos_get(i) <= p_max) {
            n_cells = i + 1;
        }
    }
    const uint32_t n_pad_cur = std::max(n_pad, 256u);
    return std::min(cells.size(), std::max(n_pad_cur, GGML_PAD(n_cells, n_pad_cur)));
}

uint32_t llama_kv_cache::sift_n_keys(llama_seq_id seq_id, llama_pos p_min, llama_pos p_max) const {
    if (sift_gather_cells.empty()) {
        return sift_cells_upto(seq_id, p_max);
    }
    const auto [first, last] = sift_gather_range(p_min, p_max);
    return GGML_PAD((uint32_t) (last - first), std::max(n_pad, 256u));
}

uint32_t llama_kv_cache::sift_limit_n_kv(uint32_t n_kv, const llama_ubatch & ubatch) const {
    if (!sift_reenter || ubatch.n_seqs_unq != 1) {
        return n_kv;
    }
    // gathered cells are among these, so the layer's K/V views still hold every one of them
    return std::min(n_kv, sift_cells_upto(ubatch.seq_id_unq[0], *std::max_element(ubatch.pos, ubatch.pos + ubatch.n_tokens)));
}

void llm_graph_context::sift_gather_kv(
        ggml_tensor *& k,
        ggml_tensor *& v,
        ggml_tensor *& kq_mask,
        const llama_kv_cache_context * mctx_cur) const {
    if (k->ne[3] != 1) {
        return; // one attention stream only
    }

    auto *& gather = res->sift_gather[mctx_cur->sift_is_swa() ? 1 : 0];
    if (gather == nullptr) {
        // causal: only the gathered cells up to the ubatch's last position (and inside the window)
        const int64_t n_sel = mctx_cur->sift_n_keys(ubatch.seq_id[0][0],
                *std::min_element(ubatch.pos, ubatch.pos + ubatch.n_tokens), *std::max_element(ubatch.pos, ubatch.pos + ubatch.n_tokens));
        auto inp = std::make_unique<llm_graph_input_sift_gather>(mctx_cur);
        inp->idx  = ggml_new_tensor_1d(ctx0, GGML_TYPE_I32, n_sel);
        inp->mask = ggml_new_tensor_2d(ctx0, cparams.flash_attn ? GGML_TYPE_F16 : GGML_TYPE_F32, n_sel, n_tokens);
        ggml_set_input(inp->idx);
        ggml_set_input(inp->mask);
        gather = (llm_graph_input_sift_gather *) res->add_input(std::move(inp));
    }

    ggml_tensor * idx   = gather->idx;
    const int64_t n_sel = idx->ne[0];

    // K is stored one cell per row: gather the rows
    const int64_t d_k = k->ne[0];
    const int64_t h_k = k->ne[1];
    ggml_tensor * kg = ggml_get_rows(ctx0, ggml_view_2d(ctx0, k, d_k*h_k, k->ne[2], k->nb[2], 0), idx);

    // V is stored per cell too, or transposed (one row per dimension) without flash attention;
    // the transposed copy costs O(n_kv*d) per layer, small next to the attention it saves
    const bool v_trans = v->nb[1] > v->nb[2];
    const int64_t d_v = v_trans ? v->ne[2] : v->ne[0];
    const int64_t h_v = v->ne[1];
    ggml_tensor * v_rows = v_trans
        ? ggml_cont(ctx0, ggml_transpose(ctx0, ggml_view_2d(ctx0, v, v->ne[0], h_v*d_v, v->nb[2], 0)))
        : ggml_view_2d(ctx0, v, d_v*h_v, v->ne[2], v->nb[2], 0);
    ggml_tensor * vg = ggml_get_rows(ctx0, v_rows, idx);

    if (cparams.flash_attn) {
        kg = ggml_cast(ctx0, kg, GGML_TYPE_F16);
        vg = ggml_cast(ctx0, vg, GGML_TYPE_F16);
    }

    k = ggml_reshape_4d(ctx0, kg, d_k, h_k, n_sel, 1);
    v = ggml_reshape_4d(ctx0, vg, d_v, h_v, n_sel, 1);
    kq_mask = gather->mask;
}

std::vector<int32_t> llama_kv_cache::sift_hole_layers() const {
    std::vector<int32_t> out;
    for (const auto & [seq, from] : sift_hole_from) {
        for (const int32_t il : from) {
            if (il != INT32_MAX) {
                out.push_back(il);
            }
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void llama_kv_cache::sift_mask_holes(ggml_tensor * dst, const llama_ubatch * ubatch, int32_t il) const {
    GGML_ASSERT(ggml_backend_buffer_is_host(dst->buffer));
    // rows are the ubatch's tokens in order (stream after stream); columns the cells of the row's stream
    const int64_t n_kv   = dst->ne[0];
    const int64_t n_rows = dst->ne[1]*dst->ne[3];
    for (int64_t i = 0; i < n_rows && i < (int64_t) ubatch->n_tokens; ++i) {
        const auto it = sift_hole_from.find(ubatch->seq_id[i][0]);
        if (it == sift_hole_from.end()) {
            continue;
        }
        const int64_t n_cells = std::min<int64_t>(n_kv, (int64_t) it->second.size());
        for (int64_t j = 0; j < n_cells; ++j) {
            if (it->second[j] > il) {
                continue;
            }
            if (dst->type == GGML_TYPE_F16) {
                ((ggml_fp16_t *) dst->data)[i*n_kv + j] = ggml_fp32_to_fp16(-INFINITY);
            } else {
                ((float *) dst->data)[i*n_kv + j] = -INFINITY;
            }
        }
    }
}

ggml_tensor * llm_graph_input_attn_kv::sift_get_kq_mask(int il) const {
    ggml_tensor * mask = get_kq_mask();
    for (size_t i = 0; i < sift_hole_layers.size() && sift_hole_layers[i] <= il; ++i) {
        mask = sift_hole_masks[i];
    }
    return mask;
}

void llm_graph_input_attn_kv::sift_set_hole_masks(const llama_ubatch * ubatch) {
    for (size_t i = 0; i < sift_hole_masks.size(); ++i) {
        ggml_tensor * mask = sift_hole_masks[i];
        if (mask->buffer == nullptr) {
            continue; // not attended with (a gathered segment, or no layer from here on in this graph)
        }
        mctx->set_input_kq_mask(mask, ubatch, cparams.causal_attn);
        mctx->sift_mask_holes(mask, ubatch, sift_hole_layers[i]);
    }
}
