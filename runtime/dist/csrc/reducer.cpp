// DDP's gradient reducer, c10d::Reducer from libtorch_cpu, driven the way PyTorch's
// DistributedDataParallel (and MMCV's MMDistributedDataParallel) drive it: built once over the
// trainable parameters, it hooks each parameter's gradient accumulator; after
// `prepare_for_backward`, every bucket is all-reduced as soon as backward has produced its
// gradients (overlapping communication with the rest of backward), and when backward ends the
// averaged gradients are in `.grad`. A backward without `prepare_for_backward` (a micro-step of
// gradient accumulation, DDP's `no_sync`) only accumulates.

#include "shim.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

// DDP's first bucket is small so that the first allreduce starts early in backward
// (torch.distributed's _DEFAULT_FIRST_BUCKET_BYTES).
constexpr int64_t kFirstBucketBytes = 1024 * 1024;

struct WeftReducer {
  std::unique_ptr<c10d::Reducer> reducer;
  bool find_unused;
};

extern "C" {

// A reducer over `params` (trainable, in the model's order) for group `g`, buckets of at most
// `bucket_bytes`. As DDP: without `find_unused` the first iteration runs one bucket and records
// the order gradients arrive in, and the buckets are then rebuilt in that order
// (`weft_dist_reducer_prepare` rebuilds them once); with it, the buckets are fixed from the
// start, last parameters first.
char* weft_dist_reducer_new(WeftGroup* g, at::Tensor** params, size_t n, int64_t bucket_bytes,
                            int find_unused, WeftReducer** out) {
  return weft::guarded([&] {
    std::vector<at::Tensor> ps;
    ps.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      ps.push_back(*params[i]);
    }
    if (ps.empty()) {
      throw std::runtime_error("a data-parallel model needs at least one trainable parameter");
    }
    // The Reducer talks to a ProcessGroup, which routes each collective to the backend of the
    // tensors' device: weft's one backend, for the parameters' device.
    auto device = ps[0].device().type();
    auto type = g->group->getBackendName() == "nccl" ? c10d::ProcessGroup::BackendType::NCCL
                                                     : c10d::ProcessGroup::BackendType::GLOO;
    auto pg = c10::make_intrusive<c10d::ProcessGroup>(g->store, g->group->getRank(),
                                                      g->group->getSize());
    pg->setBackend(device, type, g->group);
    pg->setDefaultBackend(type);

    std::vector<size_t> limits;
    if (find_unused != 0) {
      limits = {static_cast<size_t>(kFirstBucketBytes), static_cast<size_t>(bucket_bytes)};
    } else {
      limits = {std::numeric_limits<size_t>::max()};
    }
    std::vector<bool> sparse(n, false);
    auto [buckets, per_bucket] = c10d::compute_bucket_assignment_by_size(ps, limits, sparse);
    std::reverse(buckets.begin(), buckets.end());
    std::vector<int64_t> caps(per_bucket.rbegin(), per_bucket.rend());
    auto reducer = std::make_unique<c10d::Reducer>(
        ps, std::move(buckets), pg, sparse, bucket_bytes, find_unused != 0,
        /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{},
        kFirstBucketBytes, /*skip_all_reduce_unused_params=*/false,
        /*use_python_reducer=*/false, std::move(caps));
    *out = new WeftReducer{std::move(reducer), find_unused != 0};
  });
}

// Arms the reducer for the next backward: its buckets are all-reduced as they fill. With
// `find_unused`, `output` (the loss) is searched for the parameters the step did not use.
char* weft_dist_reducer_prepare(WeftReducer* r, at::Tensor* output) {
  return weft::guarded([&] {
    if (!r->find_unused) {
      r->reducer->rebuild_buckets();
      r->reducer->prepare_for_backward({});
    } else {
      r->reducer->prepare_for_backward({*output});
    }
  });
}

void weft_dist_reducer_free(WeftReducer* r) {
  // The destructor removes the autograd hooks; it may throw, which must not leave here.
  try {
    delete r;
  } catch (...) {
  }
}

}  // extern "C"
