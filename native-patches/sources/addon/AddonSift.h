#pragma once

#include "napi.h"

// Sift's bindings for llama-sift.h, implemented in AddonSift.cpp.

// siftBuildId(): string — the patched llama.cpp's build marker
Napi::Value siftBuildId(const Napi::CallbackInfo& info);

// siftKvLayerStats(context: AddonContext): {layer, cells, used, bytesK, bytesV}[]
// read between evaluations: a decode running on a worker thread mutates the cache
Napi::Value siftKvLayerStats(const Napi::CallbackInfo& info);

// siftSetObservation(context, nLast): observe the last nLast queries of each ubatch (0: off)
Napi::Value siftSetObservation(const Napi::CallbackInfo& info);

// siftGetObservation(context, layer): {nKv, nHeadKv, scores: Float32Array [nHeadKv * nKv]} or null
Napi::Value siftGetObservation(const Napi::CallbackInfo& info);

// siftGetCellPositions(context, seqId, nCells): Int32Array, the position held in each cell or -1
Napi::Value siftGetCellPositions(const Napi::CallbackInfo& info);

// siftPrefill(context, seqId, tokens: Uint32Array, {pruneLayers, keep, nSink, nRecent, obsWindow}):
// Promise<stats> — a segmented (lazy) prefill on a worker thread; the last token's logits follow it
Napi::Value siftPrefill(const Napi::CallbackInfo& info);

// siftGetLastLogits(context): Float32Array of the last evaluated token's logits
// siftRevive(context, seqId): Promise<{revived, ms}> — completes the last lazy prefill's pruned tokens
Napi::Value siftRevive(const Napi::CallbackInfo& info);

// siftGetProgress(context): {done, total} of the running lazy prefill, in token-layers
Napi::Value siftGetProgress(const Napi::CallbackInfo& info);

// siftCancel(context): stops the running lazy prefill before its next ubatch
Napi::Value siftCancel(const Napi::CallbackInfo& info);

// siftReset(context): forgets the last lazy prefill's masks and aux cache
Napi::Value siftReset(const Napi::CallbackInfo& info);

Napi::Value siftGetLastLogits(const Napi::CallbackInfo& info);

// siftSetNextContextLayout(trimmedLayers: Int32Array, nSink, nWindow): the next context created gives
// those layers a sink + window cache (an empty array clears it)
Napi::Value siftSetNextContextLayout(const Napi::CallbackInfo& info);

// siftGetValueNorms(context, layer): {nCells, nHeadKv, norms: Float32Array [nHeadKv * nCells]} or null
Napi::Value siftGetValueNorms(const Napi::CallbackInfo& info);

// siftGetKeySimilarity(context, layer): {nCells, nHeadKv, similarity: Float32Array [nHeadKv * nCells]}
// or null: each cell's key cosine to the mean unit key of the used cells, in the full layers' cache
Napi::Value siftGetKeySimilarity(const Napi::CallbackInfo& info);

// siftMemoryBytes(context): {kv, compute} bytes from llama_get_memory_breakdown
Napi::Value siftMemoryBytes(const Napi::CallbackInfo& info);

// siftMemoryByBuffer(context): [{bufferType, device, isHost, model, context, compute}] bytes per
// buffer type, from llama_get_memory_breakdown
Napi::Value siftMemoryByBuffer(const Napi::CallbackInfo& info);
