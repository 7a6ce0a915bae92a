// Sift's JavaScript bindings: each function of llama-sift.h (Sift inside llama.cpp) as a function
// of node-llama-cpp's addon, taking that addon's context and model objects. The build copies this
// file into node-llama-cpp's addon/ from the Sift repository's native-patches/sources/addon; the
// addon's CMake picks up every addon/*.cpp, and native-patches/addon/0001-sift-addon-hooks.patch
// registers the functions. src-main/engine/siftNative.ts is the typed door on the TypeScript side.

#include <string>
#include <algorithm>
#include <vector>

#include "llama.h"
#include "llama-sift.h"

#include "AddonContext.h"
#include "AddonModel.h"
#include "AddonSift.h"

Napi::Value siftBuildId(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), llama_sift_build_id());
}

// the loaded context passed as the first argument, or nullptr with a JavaScript exception pending
static AddonContext* loadedContextArg(const Napi::CallbackInfo& info, const char * fn) {
    if (info.Length() < 1 || !info[0].IsObject()) {
        Napi::TypeError::New(info.Env(), std::string(fn) + " expects a context").ThrowAsJavaScriptException();
        return nullptr;
    }

    AddonContext* context = Napi::ObjectWrap<AddonContext>::Unwrap(info[0].As<Napi::Object>());
    if (context == nullptr || context->disposed || !context->contextLoaded || context->ctx == nullptr) {
        Napi::Error::New(info.Env(), "Context is not loaded").ThrowAsJavaScriptException();
        return nullptr;
    }

    return context;
}

Napi::Value siftKvLayerStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftKvLayerStats");
    if (context == nullptr) {
        return env.Undefined();
    }

    const int32_t n_layers = llama_sift_get_kv_layer_stats(context->ctx, nullptr, 0);
    if (n_layers < 0) {
        return Napi::Array::New(env, 0);
    }

    std::vector<llama_sift_kv_layer_stats> stats(n_layers);
    llama_sift_get_kv_layer_stats(context->ctx, stats.data(), n_layers);

    Napi::Array result = Napi::Array::New(env, stats.size());
    for (size_t i = 0; i < stats.size(); i++) {
        Napi::Object entry = Napi::Object::New(env);
        entry.Set("layer", Napi::Number::New(env, stats[i].il));
        entry.Set("cells", Napi::Number::New(env, stats[i].n_cells));
        entry.Set("used", Napi::Number::New(env, stats[i].n_used));
        entry.Set("bytesK", Napi::Number::New(env, (double) stats[i].bytes_k));
        entry.Set("bytesV", Napi::Number::New(env, (double) stats[i].bytes_v));
        entry.Set("sink", Napi::Number::New(env, stats[i].n_sink));
        entry.Set("window", Napi::Number::New(env, stats[i].n_window));
        result.Set(i, entry);
    }

    return result;
}

Napi::Value siftSetObservation(const Napi::CallbackInfo& info) {
    AddonContext* context = loadedContextArg(info, "siftSetObservation");
    if (context == nullptr) {
        return info.Env().Undefined();
    }

    const int32_t n_last = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    llama_sift_set_observation(context->ctx, n_last);

    return info.Env().Undefined();
}

Napi::Value siftGetObservation(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftGetObservation");
    if (context == nullptr) {
        return env.Undefined();
    }

    const int32_t il = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;

    int32_t n_kv = 0;
    int32_t n_head_kv = 0;
    const int32_t n = llama_sift_get_observation(context->ctx, il, nullptr, 0, &n_kv, &n_head_kv);
    if (n <= 0) {
        return env.Null();
    }

    Napi::Float32Array scores = Napi::Float32Array::New(env, n);
    llama_sift_get_observation(context->ctx, il, scores.Data(), n, nullptr, nullptr);

    Napi::Object result = Napi::Object::New(env);
    result.Set("nKv", Napi::Number::New(env, n_kv));
    result.Set("nHeadKv", Napi::Number::New(env, n_head_kv));
    result.Set("scores", scores);
    return result;
}

Napi::Value siftGetCellPositions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftGetCellPositions");
    if (context == nullptr) {
        return env.Undefined();
    }

    const int32_t seq_id  = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    const int32_t n_cells = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;

    Napi::Int32Array positions = Napi::Int32Array::New(env, std::max<int32_t>(n_cells, 0));
    const int32_t n = llama_sift_get_cell_positions(context->ctx, seq_id, positions.Data(), n_cells);

    return positions.Get("subarray").As<Napi::Function>().Call(positions, {Napi::Number::New(env, 0), Napi::Number::New(env, n)});
}

class AddonSiftPrefillWorker : public Napi::AsyncWorker {
    public:
        AddonSiftPrefillWorker(const Napi::Env& env, AddonContext* context, llama_seq_id seqId, std::vector<llama_token> tokens,
                               std::vector<int32_t> pruneLayers, std::vector<float> keep, int32_t nSink, int32_t nRecent, int32_t obsWindow,
                               bool keepMasked, int32_t nPool, int32_t scoreFrom, int32_t spanMax)
            : Napi::AsyncWorker(env, "AddonSiftPrefillWorker"),
              context(context), seqId(seqId), tokens(std::move(tokens)), pruneLayers(std::move(pruneLayers)), keep(std::move(keep)),
              nSink(nSink), nRecent(nRecent), obsWindow(obsWindow), keepMasked(keepMasked), nPool(nPool), scoreFrom(scoreFrom), spanMax(spanMax), deferred(Napi::Promise::Deferred::New(env)) {
            context->Ref();
        }
        ~AddonSiftPrefillWorker() {
            context->Unref();
        }

        Napi::Promise GetPromise() {
            return deferred.Promise();
        }

    protected:
        void Execute() {
            const llama_sift_prefill_params params = {
                (int32_t) pruneLayers.size(), pruneLayers.data(), keep.data(), nSink, nRecent, obsWindow, keepMasked, nPool, scoreFrom, spanMax,
            };
            const int32_t r = llama_sift_prefill(context->ctx, seqId, tokens.data(), (int32_t) tokens.size(), &params);
            if (r == -3) {
                SetError("invalid lazy prefill schedule");
            } else if (r == -4) {
                SetError("lazy prefill cancelled");
            } else if (r == 1) {
                SetError("could not find a KV slot for the prompt (the context is too small)");
            } else if (r != 0) {
                SetError("lazy prefill failed");
            } else {
                llama_synchronize(context->ctx);
                stats = *llama_sift_get_prefill_stats(context->ctx);
                const int32_t n_pruned = llama_sift_get_pruned(context->ctx, nullptr, nullptr, 0);
                prunedPos.resize(n_pruned);
                prunedLayer.resize(n_pruned);
                llama_sift_get_pruned(context->ctx, prunedPos.data(), prunedLayer.data(), n_pruned);
            }
        }

        void OnOK() {
            Napi::Env env = Env();
            Napi::Object result = Napi::Object::New(env);
            Napi::Array computed = Napi::Array::New(env, stats.n_layer);
            Napi::Array keys = Napi::Array::New(env, stats.n_layer);
            for (int32_t il = 0; il < stats.n_layer; il++) {
                computed.Set(il, Napi::Number::New(env, stats.computed[il]));
                keys.Set(il, Napi::Number::New(env, stats.keys[il]));
            }
            Napi::Array segments = Napi::Array::New(env, stats.n_segments);
            for (int32_t s = 0; s < stats.n_segments; s++) {
                Napi::Object segment = Napi::Object::New(env);
                segment.Set("firstLayer", Napi::Number::New(env, stats.segment_begin[s]));
                segment.Set("tokens", Napi::Number::New(env, stats.segment_tokens[s]));
                segment.Set("ms", Napi::Number::New(env, stats.segment_ms[s]));
                segments.Set(s, segment);
            }
            result.Set("promptTokens", Napi::Number::New(env, stats.n_tokens));
            result.Set("computed", computed);
            result.Set("keys", keys);
            result.Set("segments", segments);
            result.Set("pruned", Napi::Number::New(env, stats.n_pruned));
            result.Set("auxBytes", Napi::Number::New(env, (double) stats.aux_bytes));
            // each pruned token's position and the first layer it skipped (the document heatmap)
            Napi::Int32Array positions = Napi::Int32Array::New(env, prunedPos.size());
            Napi::Int32Array layers = Napi::Int32Array::New(env, prunedLayer.size());
            for (size_t i = 0; i < prunedPos.size(); i++) {
                positions[i] = prunedPos[i];
                layers[i] = prunedLayer[i];
            }
            Napi::Object prunedAt = Napi::Object::New(env);
            prunedAt.Set("positions", positions);
            prunedAt.Set("layers", layers);
            result.Set("prunedAt", prunedAt);
            deferred.Resolve(result);
        }

        void OnError(const Napi::Error& err) {
            deferred.Reject(err.Value());
        }

    private:
        AddonContext* context;
        llama_seq_id seqId;
        std::vector<llama_token> tokens;
        std::vector<llama_pos> prunedPos;
        std::vector<int32_t> prunedLayer;
        std::vector<int32_t> pruneLayers;
        std::vector<float> keep;
        int32_t nSink;
        int32_t nRecent;
        int32_t obsWindow;
        bool keepMasked;
        int32_t nPool;
        int32_t scoreFrom;
        int32_t spanMax;
        llama_sift_prefill_stats stats = {};
        Napi::Promise::Deferred deferred;
};

static std::vector<int32_t> int32Array(const Napi::Object & options, const char * key) {
    std::vector<int32_t> values;
    if (options.Has(key) && options.Get(key).IsArray()) {
        Napi::Array array = options.Get(key).As<Napi::Array>();
        for (uint32_t i = 0; i < array.Length(); i++) {
            values.push_back(array.Get(i).As<Napi::Number>().Int32Value());
        }
    }
    return values;
}

static int32_t int32Option(const Napi::Object & options, const char * key, int32_t fallback) {
    return options.Has(key) && options.Get(key).IsNumber() ? options.Get(key).As<Napi::Number>().Int32Value() : fallback;
}

Napi::Value siftPrefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftPrefill");
    if (context == nullptr) {
        return env.Undefined();
    }
    if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsObject()) {
        Napi::TypeError::New(env, "siftPrefill(context, seqId, tokens: Uint32Array, options)").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    Napi::Uint32Array tokenArray = info[2].As<Napi::Uint32Array>();
    std::vector<llama_token> tokens(tokenArray.ElementLength());
    for (size_t i = 0; i < tokens.size(); i++) {
        tokens[i] = (llama_token) tokenArray[i];
    }

    Napi::Object options = info[3].As<Napi::Object>();
    std::vector<int32_t> pruneLayers = int32Array(options, "pruneLayers");
    std::vector<float> keep;
    if (options.Has("keep") && options.Get("keep").IsArray()) {
        Napi::Array array = options.Get("keep").As<Napi::Array>();
        for (uint32_t i = 0; i < array.Length(); i++) {
            keep.push_back(array.Get(i).As<Napi::Number>().FloatValue());
        }
    }
    if (keep.size() != pruneLayers.size()) {
        Napi::TypeError::New(env, "siftPrefill: pruneLayers and keep must have the same length").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    auto* worker = new AddonSiftPrefillWorker(env, context, info[1].As<Napi::Number>().Int32Value(), std::move(tokens),
        std::move(pruneLayers), std::move(keep), int32Option(options, "nSink", 4), int32Option(options, "nRecent", 1),
        int32Option(options, "obsWindow", 1),
        options.Has("keepMasked") && options.Get("keepMasked").ToBoolean().Value(), int32Option(options, "pool", 1), int32Option(options, "scoreFrom", -1),
        int32Option(options, "span", 0));
    worker->Queue();
    return worker->GetPromise();
}

Napi::Value siftGetLastLogits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftGetLastLogits");
    if (context == nullptr) {
        return env.Undefined();
    }

    const int32_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(context->ctx)));
    const float * logits = llama_get_logits_ith(context->ctx, -1);
    if (logits == nullptr) {
        return env.Null();
    }

    Napi::Float32Array result = Napi::Float32Array::New(env, n_vocab);
    std::copy(logits, logits + n_vocab, result.Data());
    return result;
}

class AddonSiftReviveWorker : public Napi::AsyncWorker {
    public:
        AddonSiftReviveWorker(const Napi::Env& env, AddonContext* context, llama_seq_id seqId)
            : Napi::AsyncWorker(env, "AddonSiftReviveWorker"), context(context), seqId(seqId), deferred(Napi::Promise::Deferred::New(env)) {
            context->Ref();
        }
        ~AddonSiftReviveWorker() {
            context->Unref();
        }

        Napi::Promise GetPromise() {
            return deferred.Promise();
        }

    protected:
        void Execute() {
            revived = llama_sift_revive(context->ctx, seqId, &ms);
            if (revived < 0) {
                SetError("reviving the pruned tokens failed");
            } else {
                llama_synchronize(context->ctx);
            }
        }

        void OnOK() {
            Napi::Object result = Napi::Object::New(Env());
            result.Set("revived", Napi::Number::New(Env(), revived));
            result.Set("ms", Napi::Number::New(Env(), ms));
            deferred.Resolve(result);
        }

        void OnError(const Napi::Error& err) {
            deferred.Reject(err.Value());
        }

    private:
        AddonContext* context;
        llama_seq_id seqId;
        int32_t revived = 0;
        double ms = 0.0;
        Napi::Promise::Deferred deferred;
};

Napi::Value siftRevive(const Napi::CallbackInfo& info) {
    AddonContext* context = loadedContextArg(info, "siftRevive");
    if (context == nullptr) {
        return info.Env().Undefined();
    }

    const llama_seq_id seqId = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    auto* worker = new AddonSiftReviveWorker(info.Env(), context, seqId);
    worker->Queue();
    return worker->GetPromise();
}

Napi::Value siftReset(const Napi::CallbackInfo& info) {
    AddonContext* context = loadedContextArg(info, "siftReset");
    if (context != nullptr) {
        llama_sift_reset(context->ctx);
    }
    return info.Env().Undefined();
}

Napi::Value siftGetProgress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftGetProgress");
    if (context == nullptr) {
        return env.Undefined();
    }

    int64_t done = 0;
    int64_t total = 0;
    llama_sift_get_progress(context->ctx, &done, &total);

    Napi::Object result = Napi::Object::New(env);
    result.Set("done", Napi::Number::New(env, (double) done));
    result.Set("total", Napi::Number::New(env, (double) total));
    return result;
}

Napi::Value siftCancel(const Napi::CallbackInfo& info) {
    AddonContext* context = loadedContextArg(info, "siftCancel");
    if (context != nullptr) {
        llama_sift_cancel(context->ctx);
    }
    return info.Env().Undefined();
}

Napi::Value siftSetNextContextLayout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
        Napi::TypeError::New(env, "siftSetNextContextLayout expects (Int32Array, nSink, nWindow)").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    Napi::Int32Array layers = info[0].As<Napi::Int32Array>();
    llama_sift_set_next_context_layout(layers.Data(), (int32_t) layers.ElementLength(),
            info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value());
    return env.Undefined();
}

// a per-cell reading of one layer ({ nCells, nHeadKv, <key>: Float32Array }), or null when the
// layer has none; the first call only sizes the array, so the cache is read once
using SiftCellReading = int32_t (*)(llama_context *, int32_t, float *, int32_t, int32_t *, int32_t *);

static Napi::Value siftReadCells(const Napi::CallbackInfo& info, const char* name, const char* key, SiftCellReading read) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, name);
    if (context == nullptr) {
        return env.Undefined();
    }

    const int32_t il = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;

    int32_t n_cells = 0;
    int32_t n_head_kv = 0;
    const int32_t n = read(context->ctx, il, nullptr, 0, &n_cells, &n_head_kv);
    if (n <= 0) {
        return env.Null();
    }

    Napi::Float32Array values = Napi::Float32Array::New(env, n);
    if (read(context->ctx, il, values.Data(), n, &n_cells, &n_head_kv) != n) {
        return env.Null();
    }

    Napi::Object result = Napi::Object::New(env);
    result.Set("nCells", Napi::Number::New(env, n_cells));
    result.Set("nHeadKv", Napi::Number::New(env, n_head_kv));
    result.Set(key, values);
    return result;
}

Napi::Value siftGetValueNorms(const Napi::CallbackInfo& info) {
    return siftReadCells(info, "siftGetValueNorms", "norms", llama_sift_get_value_norms);
}

Napi::Value siftGetKeySimilarity(const Napi::CallbackInfo& info) {
    return siftReadCells(info, "siftGetKeySimilarity", "similarity", llama_sift_get_key_similarity);
}

Napi::Value siftMemoryBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftMemoryBytes");
    if (context == nullptr) {
        return env.Undefined();
    }

    uint64_t bytes_kv = 0;
    uint64_t bytes_compute = 0;
    llama_sift_get_memory_bytes(context->ctx, &bytes_kv, &bytes_compute);

    Napi::Object result = Napi::Object::New(env);
    result.Set("kv", Napi::Number::New(env, (double) bytes_kv));
    result.Set("compute", Napi::Number::New(env, (double) bytes_compute));
    return result;
}

Napi::Value siftMemoryByBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();

    AddonContext* context = loadedContextArg(info, "siftMemoryByBuffer");
    if (context == nullptr) {
        return env.Undefined();
    }

    const int32_t n = llama_sift_get_memory_by_buffer(context->ctx, nullptr, 0);
    std::vector<llama_sift_memory_entry> entries(std::max(n, 0));
    llama_sift_get_memory_by_buffer(context->ctx, entries.data(), (int32_t) entries.size());

    Napi::Array result = Napi::Array::New(env, entries.size());
    for (size_t i = 0; i < entries.size(); i++) {
        Napi::Object entry = Napi::Object::New(env);
        entry.Set("bufferType", Napi::String::New(env, entries[i].buffer_type));
        entry.Set("device", Napi::String::New(env, entries[i].device));
        entry.Set("isHost", Napi::Boolean::New(env, entries[i].is_host));
        entry.Set("model", Napi::Number::New(env, (double) entries[i].model));
        entry.Set("context", Napi::Number::New(env, (double) entries[i].context));
        entry.Set("compute", Napi::Number::New(env, (double) entries[i].compute));
        result.Set(i, entry);
    }
    return result;
}
