// Peak device memory of libtorch's caching allocator (what MMCV logs as `memory`, from
// torch.cuda.max_memory_allocated), through the device-generic allocator interface, so no
// CUDA headers are needed to build it. Returns -1 where there is no such allocator.

#include <c10/core/CachingDeviceAllocator.h>
#include <cstdint>

extern "C" int64_t weft_device_peak_bytes(int device_type, int device_index) {
  try {
    auto* allocator = c10::getDeviceAllocator(static_cast<c10::DeviceType>(device_type));
    const auto stats = allocator->getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
        .peak;
  } catch (...) {
    return -1;
  }
}
