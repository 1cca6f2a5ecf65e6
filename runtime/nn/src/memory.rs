//! Peak device memory, as MMCV logs it (`memory` in log lines, from
//! `torch.cuda.max_memory_allocated`), through `csrc/memory.cpp`: tch's C API has no
//! allocator statistics.
#![allow(
    unsafe_code,
    reason = "FFI into the C++ shim over libtorch's allocator statistics"
)]

use std::ffi::c_int;

use tch::Device;

unsafe extern "C" {
    fn weft_device_peak_bytes(device_type: c_int, device_index: c_int) -> i64;
}

/// Peak bytes allocated on a CUDA device by libtorch's caching allocator; `None` on the CPU
/// or where the statistics are unavailable.
pub fn peak_bytes(device: Device) -> Option<u64> {
    let Device::Cuda(index) = device else {
        return None;
    };
    // c10::DeviceType::CUDA is 1.
    // SAFETY: the shim catches every C++ exception and only reads allocator counters.
    let bytes = unsafe { weft_device_peak_bytes(1, index as c_int) };
    u64::try_from(bytes).ok()
}
