// What the shim's translation units share: the group handle, the store every backend meets
// at, and the rule that no C++ exception crosses `extern "C"` (each entry point returns NULL
// or a malloc'd message that the caller frees with weft_dist_free).
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

// A store and the process groups formed through it. Gloo and NCCL are both `c10d::Backend`s,
// so every collective is written once for both. `control` carries the small CPU tensors
// (stop flags, digests, which parameters were used): the group itself for Gloo, a Gloo group
// beside NCCL, so that agreeing on a stop never waits for the GPU.
struct WeftGroup {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> group;
  c10::intrusive_ptr<c10d::Backend> control;
};

namespace weft {

inline char* message(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, text.c_str(), text.size() + 1);
  }
  return out;
}

// Runs `body`, turning whatever it throws into a message.
template <typename F>
char* guarded(F&& body) {
  try {
    body();
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  } catch (...) {
    return message("unknown C++ exception in c10d");
  }
}

// Joins (or, when `host_store` is set, also serves) the TCPStore at host:port; weft's keys
// live under `prefix`. Defined in c10d.cpp.
c10::intrusive_ptr<c10d::Store> connect_store(const char* host, int port, int world,
                                              int host_store, int64_t timeout_ms,
                                              const char* prefix);

// A Gloo group of `world` ranks at `store`, collectives bounded by `timeout_ms`. Defined in
// c10d.cpp.
c10::intrusive_ptr<c10d::Backend> gloo_group(const c10::intrusive_ptr<c10d::Store>& store,
                                             int rank, int world, int64_t timeout_ms);

// An NCCL group on CUDA device `device`, with its Gloo control group, at the store (see
// weft::connect_store); throws on failure. Defined in nccl.cpp, which is compiled (and
// WEFT_WITH_NCCL defined) only when libtorch has CUDA and the headers are present.
WeftGroup* nccl_group(const char* host, int port, int rank, int world, int host_store,
                      int64_t timeout_ms, const char* prefix, int device);

}  // namespace weft
