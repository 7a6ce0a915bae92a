#pragma once

#include "napi.h"

// Sift's bindings for ggml's RPC backend (ggml-rpc), implemented in AddonSiftRpc.cpp. The RPC
// backend may be a module loaded at run time (GGML_BACKEND_DL), so both go through its registry.

// siftRpcAddWorker(endpoint: "host:port"): {name, free, total}[] — registers a running worker's
// devices for the models loaded after it; returns each device's name and memory as the worker
// reports it. ggml aborts the process when the endpoint does not answer, so the caller checks that
// it does first.
Napi::Value siftRpcAddWorker(const Napi::CallbackInfo& info);

// siftRpcServe(endpoint: "host:port", threads: number, cacheDir: string): {devices: string[]} —
// serves this process's devices (its GPUs, else its CPU) to RPC clients on a background thread,
// one client at a time, for the life of the process
Napi::Value siftRpcServe(const Napi::CallbackInfo& info);
