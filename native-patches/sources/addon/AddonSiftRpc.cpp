// Sift's worker and client ends of ggml's RPC backend: a `sift worker` process serves its devices
// with siftRpcServe, and the engine adds each worker the user listed with siftRpcAddWorker before
// loading a model, so llama.cpp splits layers and KV across them as it would across GPUs.

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "ggml-backend.h"
#include "ggml-rpc.h"

#include "AddonSiftRpc.h"

// one of the RPC backend's functions, found through its registry; nullptr with a JavaScript
// exception pending when the build has no RPC backend or the backend lacks it
template <typename Fn>
static Fn * rpcFunction(Napi::Env env, const char * name) {
    ggml_backend_reg_t reg = ggml_backend_reg_by_name("RPC");
    if (reg == nullptr) {
        Napi::Error::New(env, "this build has no RPC backend (build it with GGML_RPC=ON)").ThrowAsJavaScriptException();
        return nullptr;
    }
    auto fn = (Fn *) ggml_backend_reg_get_proc_address(reg, name);
    if (fn == nullptr) {
        Napi::Error::New(env, std::string("the RPC backend lacks ") + name).ThrowAsJavaScriptException();
    }
    return fn;
}

static bool endpointArg(const Napi::CallbackInfo& info, const char * fn, std::string & endpoint) {
    if (info.Length() < 1 || !info[0].IsString()) {
        Napi::TypeError::New(info.Env(), std::string(fn) + " expects an endpoint \"host:port\"").ThrowAsJavaScriptException();
        return false;
    }
    endpoint = info[0].As<Napi::String>().Utf8Value();
    return true;
}

Napi::Value siftRpcAddWorker(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string endpoint;
    if (!endpointArg(info, "siftRpcAddWorker", endpoint)) {
        return env.Undefined();
    }
    auto add_server = rpcFunction<decltype(ggml_backend_rpc_add_server)>(env, "ggml_backend_rpc_add_server");
    if (add_server == nullptr) {
        return env.Undefined();
    }

    // the same endpoint twice returns the registry already made; registering it again would list
    // its devices twice
    ggml_backend_reg_t reg = add_server(endpoint.c_str());
    if (reg == nullptr) {
        Napi::Error::New(env, "the worker at " + endpoint + " has no devices").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    bool registered = false;
    for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
        registered = registered || ggml_backend_reg_get(i) == reg;
    }
    if (!registered) {
        ggml_backend_register(reg);
    }

    Napi::Array devices = Napi::Array::New(env, ggml_backend_reg_dev_count(reg));
    for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); i++) {
        ggml_backend_dev_t dev = ggml_backend_reg_dev_get(reg, i);
        size_t free = 0;
        size_t total = 0;
        ggml_backend_dev_memory(dev, &free, &total);
        Napi::Object device = Napi::Object::New(env);
        device.Set("name", Napi::String::New(env, ggml_backend_dev_name(dev)));
        device.Set("free", Napi::Number::New(env, (double) free));
        device.Set("total", Napi::Number::New(env, (double) total));
        devices.Set(i, device);
    }
    return devices;
}

// what a worker serves, as llama.cpp's rpc-server chooses: its accelerators, else its CPU
static std::vector<ggml_backend_dev_t> servedDevices() {
    std::vector<ggml_backend_dev_t> devices;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        const enum ggml_backend_dev_type type = ggml_backend_dev_type(dev);
        const bool remote = std::string(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev))).rfind("RPC", 0) == 0;
        if (type != GGML_BACKEND_DEVICE_TYPE_CPU && type != GGML_BACKEND_DEVICE_TYPE_ACCEL && !remote) {
            devices.push_back(dev);
        }
    }
    if (devices.empty()) {
        ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
        if (cpu != nullptr) {
            devices.push_back(cpu);
        }
    }
    return devices;
}

Napi::Value siftRpcServe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string endpoint;
    if (!endpointArg(info, "siftRpcServe", endpoint)) {
        return env.Undefined();
    }
    if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsString()) {
        Napi::TypeError::New(env, "siftRpcServe(endpoint, threads, cacheDir)").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    const size_t threads = (size_t) std::max(1, info[1].As<Napi::Number>().Int32Value());
    const std::string cache_dir = info[2].As<Napi::String>().Utf8Value();

    auto start_server = rpcFunction<decltype(ggml_backend_rpc_start_server)>(env, "ggml_backend_rpc_start_server");
    if (start_server == nullptr) {
        return env.Undefined();
    }

    std::vector<ggml_backend_dev_t> devices = servedDevices();
    if (devices.empty()) {
        Napi::Error::New(env, "no device to serve").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    Napi::Array names = Napi::Array::New(env, devices.size());
    for (size_t i = 0; i < devices.size(); i++) {
        names.Set(i, Napi::String::New(env, ggml_backend_dev_name(devices[i])));
    }

    // the server loops accepting clients until the process ends: it gets a thread of its own
    std::thread([start_server, endpoint, threads, cache_dir, devices]() mutable {
        start_server(endpoint.c_str(), cache_dir.empty() ? nullptr : cache_dir.c_str(), threads, devices.size(), devices.data());
    }).detach();

    Napi::Object result = Napi::Object::New(env);
    result.Set("devices", names);
    return result;
}
