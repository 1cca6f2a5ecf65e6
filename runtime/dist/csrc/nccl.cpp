// ProcessGroupNCCL, compiled into libtorch_cuda: built only when the libtorch that torch-sys
// links has CUDA and the CUDA and NCCL headers are present (build.rs). Its collectives are
// c10d.cpp's, written against c10d::Backend; a Gloo group beside it carries the control
// traffic (see WeftGroup).
//
// Hangs: NCCL's timeout is enforced by c10d's watchdog thread, which aborts the communicator
// and ends the process (TORCH_NCCL_ASYNC_ERROR_HANDLING's default) rather than failing the
// call as Gloo does; the launcher then stops the other ranks.

#include "shim.hpp"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <c10/cuda/CUDAFunctions.h>

#include <chrono>
#include <stdexcept>

namespace weft {

WeftGroup* nccl_group(const char* host, int port, int rank, int world, int host_store,
                      int64_t timeout_ms, const char* prefix, int device) {
  if (c10::cuda::device_count() <= device) {
    throw std::runtime_error("NCCL rank " + std::to_string(rank) + " needs CUDA device " +
                             std::to_string(device) + " and this machine has " +
                             std::to_string(c10::cuda::device_count()));
  }
  // This rank's tensors live on its device, which becomes the current one.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
  auto store = connect_store(host, port, world, host_store, timeout_ms, prefix);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = std::chrono::milliseconds(timeout_ms);
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
      c10::make_intrusive<c10d::PrefixStore>("nccl/", store), rank, world, options);
  // Barriers and the first communicator use this device instead of guessing one from the rank.
  group->setBoundDeviceId(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device)));
  auto control = gloo_group(c10::make_intrusive<c10d::PrefixStore>("control/", store), rank,
                            world, timeout_ms);
  return new WeftGroup{store, group, control};
}

}  // namespace weft
