// Sift inside llama.cpp: which tokens a lazy prefill keeps at a prune point.
//
// A token's score is each KV head's attention from the last prompt tokens (llama_sift_prefill sums
// it over the scored layers), max-pooled over n_pool positions per head before the heads are summed
// (SnapKV's clustering step), so a span the last tokens attend to unevenly, such as a number spelled
// digit by digit, is kept or pruned whole; the unpooled score breaks the ties pooling makes.
// n_pool <= 1 is LazyLLM's rule (docs/design/LAZY_PREFILL.md).
//
// With sentence spans, a sentence is ranked by its best alive token: the question's words are often
// what the last tokens attend to in a fact's sentence, while the answer (a date's last digits) sits
// further along it than any pooling kernel reaches.

#include "llama-sift-impl.h"

#include "llama.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

std::vector<uint8_t> sift_select_kept(
        const std::vector<float>   & acc,
                         int32_t     n_head_kv,
                         int32_t     n_tokens,
        const std::vector<int32_t> & alive,
        const std::vector<uint8_t> & forced,
                         int32_t     n_keep_target,
                         int32_t     n_pool,
        const std::vector<int32_t> & spans) {
    const int32_t n_alive = (int32_t) alive.size();

    std::vector<float> score(n_tokens, 0.0f);
    std::vector<float> raw(n_tokens, 0.0f);
    {
        const int32_t half = std::max(n_pool, 1)/2;
        for (int32_t h = 0; h < n_head_kv; ++h) {
            const float * head_score = acc.data() + (size_t) h*n_tokens;
            for (int32_t i = 0; i < n_tokens; ++i) {
                float best = head_score[i];
                for (int32_t d = std::max(0, i - half); d <= std::min(n_tokens - 1, i + half); ++d) {
                    best = std::max(best, head_score[d]);
                }
                score[i] += best;
                raw[i]   += head_score[i];
            }
        }
    }

    // a span's rank: its best alive token's (a token alone when there are no spans)
    std::vector<float> rank_score = score;
    if (!spans.empty()) {
        std::vector<float> best(spans.back() + 1, 0.0f);
        for (const int32_t a : alive) {
            best[spans[a]] = std::max(best[spans[a]], score[a]);
        }
        for (const int32_t a : alive) {
            rank_score[a] = best[spans[a]];
        }
    }

    std::vector<int32_t> order(n_alive);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        const int32_t ia = alive[a];
        const int32_t ib = alive[b];
        if (forced[ia] != forced[ib]) {
            return forced[ia] > forced[ib];
        }
        if (rank_score[ia] != rank_score[ib]) {
            return rank_score[ia] > rank_score[ib];
        }
        if (score[ia] != score[ib]) {
            return score[ia] > score[ib];
        }
        return raw[ia] > raw[ib];
    });

    int32_t n_forced = 0;
    for (const int32_t a : alive) {
        n_forced += forced[a];
    }
    const int32_t n_keep = std::min(n_alive, std::max(n_keep_target, n_forced));

    std::vector<uint8_t> kept(n_alive, 0);
    for (int32_t r = 0; r < n_keep; ++r) {
        kept[order[r]] = 1;
    }

    return kept;
}

static bool sift_piece_ends_sentence(const std::string & piece) {
    if (piece.find('\n') != std::string::npos) {
        return true;
    }
    size_t end = piece.size();
    while (end > 0 && std::strchr("\"')] \t", piece[end - 1]) != nullptr) {
        --end;
    }
    return end > 0 && std::strchr(".!?", piece[end - 1]) != nullptr;
}

std::vector<int32_t> sift_sentence_spans(const llama_vocab & vocab, const llama_token * tokens, int32_t n_tokens, int32_t span_max) {
    std::vector<int32_t> spans(n_tokens, 0);
    int32_t id  = 0;
    int32_t len = 0;
    char buf[256];
    for (int32_t i = 0; i < n_tokens; ++i) {
        spans[i] = id;
        ++len;
        const int32_t n = llama_token_to_piece(&vocab, tokens[i], buf, sizeof(buf), 0, true);
        const std::string piece(buf, n > 0 ? (size_t) n : 0);
        if (len >= span_max || sift_piece_ends_sentence(piece)) {
            ++id;
            len = 0;
        }
    }
    return spans;
}
