// weft's door to PyTorch's c10d: the TCPStore rendezvous, a PrefixStore for weft's keys, and
// ProcessGroupGloo, all compiled into libtorch_cpu (no second Gloo is linked), plus the
// collectives every backend shares (nccl.cpp adds ProcessGroupNCCL when libtorch has CUDA).
// Collectives run on the process group's own threads (Gloo) or streams (NCCL); each entry
// point starts them and waits, so the Rust side sees plain blocking calls. For NCCL, waiting
// orders the current CUDA stream after the collective without blocking the host.

#include "shim.hpp"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <c10/util/Logging.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Waits for every started collective; the first failure is rethrown after all have ended,
// so no work is left running on tensors the caller is about to reuse.
void wait_all(std::vector<c10::intrusive_ptr<c10d::Work>>& works) {
  std::exception_ptr first;
  for (auto& work : works) {
    try {
      work->wait();
    } catch (...) {
      if (!first) {
        first = std::current_exception();
      }
    }
  }
  if (first) {
    std::rethrow_exception(first);
  }
}

}  // namespace

namespace weft {

c10::intrusive_ptr<c10d::Store> connect_store(const char* host, int port, int world,
                                              int host_store, int64_t timeout_ms,
                                              const char* prefix) {
  // c10d logs every retry and failure to stderr with a C++ backtrace; weft reports the
  // failure once, in its own words. TORCH_CPP_LOG_LEVEL still lets a user see them.
  if (std::getenv("TORCH_CPP_LOG_LEVEL") == nullptr) {
    FLAGS_caffe2_log_level = 3;
  }
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = host_store != 0;
  opts.numWorkers = static_cast<std::size_t>(world);
  // Every rank counts itself in (as Python's TCPStore does); the server then waits for all.
  opts.waitWorkers = true;
  opts.timeout = std::chrono::milliseconds(timeout_ms);
  auto tcp = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
  return c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), tcp);
}

c10::intrusive_ptr<c10d::Backend> gloo_group(const c10::intrusive_ptr<c10d::Store>& store,
                                             int rank, int world, int64_t timeout_ms) {
  auto options =
      c10d::ProcessGroupGloo::Options::create_default(std::chrono::milliseconds(timeout_ms));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
}

}  // namespace weft

extern "C" {

void weft_dist_free(char* text) { std::free(text); }

// Forms a group of `world` ranks at the store (see weft::connect_store): Gloo when
// `nccl_device` is negative, else NCCL on that CUDA device. `timeout_ms` bounds the rendezvous
// and every later collective.
char* weft_dist_connect(const char* host, int port, int rank, int world, int host_store,
                        int64_t timeout_ms, const char* prefix, int nccl_device,
                        WeftGroup** out) {
  return weft::guarded([&] {
    if (nccl_device >= 0) {
#ifdef WEFT_WITH_NCCL
      *out = weft::nccl_group(host, port, rank, world, host_store, timeout_ms, prefix,
                              nccl_device);
      return;
#else
      throw std::runtime_error("this build of weft has no NCCL");
#endif
    }
    auto store = weft::connect_store(host, port, world, host_store, timeout_ms, prefix);
    auto group = weft::gloo_group(store, rank, world, timeout_ms);
    *out = new WeftGroup{store, group, group};
  });
}

void weft_dist_close(WeftGroup* group) { delete group; }

// `op`: 0 sum, 1 max, 2 min. Every tensor is reduced in place, each as its own collective,
// all in flight together; on the control group when `control` is set.
char* weft_dist_allreduce(WeftGroup* g, at::Tensor** tensors, size_t n, int op, int control) {
  return weft::guarded([&] {
    c10d::AllreduceOptions opts;
    opts.reduceOp = op == 1   ? c10d::ReduceOp(c10d::ReduceOp::MAX)
                    : op == 2 ? c10d::ReduceOp(c10d::ReduceOp::MIN)
                              : c10d::ReduceOp(c10d::ReduceOp::SUM);
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::vector<at::Tensor> one{*tensors[i]};
      works.push_back((control != 0 ? g->control : g->group)->allreduce(one, opts));
    }
    wait_all(works);
  });
}

// Every tensor takes rank `root`'s values.
char* weft_dist_broadcast(WeftGroup* g, at::Tensor** tensors, size_t n, int root) {
  return weft::guarded([&] {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::vector<at::Tensor> one{*tensors[i]};
      works.push_back(g->group->broadcast(one, opts));
    }
    wait_all(works);
  });
}

// `outputs[r]` receives rank r's `input` (all ranks pass the same shape); on the control
// group when `control` is set.
char* weft_dist_allgather(WeftGroup* g, at::Tensor* input, at::Tensor** outputs, size_t n,
                          int control) {
  return weft::guarded([&] {
    std::vector<std::vector<at::Tensor>> out(1);
    for (size_t i = 0; i < n; ++i) {
      out[0].push_back(*outputs[i]);
    }
    std::vector<at::Tensor> in{*input};
    auto work = (control != 0 ? g->control : g->group)->allgather(out, in);
    work->wait();
  });
}

char* weft_dist_barrier(WeftGroup* g) {
  return weft::guarded([&] { g->group->barrier()->wait(); });
}

}  // extern "C"
