//! The C ABI of `csrc/c10d.cpp` and `csrc/nccl.cpp`: NULL for success, else a malloc'd message freed here.
#![allow(unsafe_code, reason = "FFI into the c10d shim")]

use std::ffi::{CStr, c_char, c_int};

use torch_sys::C_tensor;

use crate::DistError;

/// The shim's handle on a store and its process group.
#[repr(C)]
pub struct RawGroup {
    _opaque: [u8; 0],
}

/// The shim's handle on a `c10d::Reducer`.
#[repr(C)]
pub struct RawReducer {
    _opaque: [u8; 0],
}

unsafe extern "C" {
    pub fn weft_dist_free(text: *mut c_char);
    /// Gloo when `nccl_device` is negative, else NCCL on that CUDA device.
    #[allow(clippy::too_many_arguments, reason = "one C entry point, mirrored")]
    pub fn weft_dist_connect(
        host: *const c_char,
        port: c_int,
        rank: c_int,
        world: c_int,
        host_store: c_int,
        timeout_ms: i64,
        prefix: *const c_char,
        nccl_device: c_int,
        out: *mut *mut RawGroup,
    ) -> *mut c_char;
    pub fn weft_dist_close(group: *mut RawGroup);
    pub fn weft_dist_allreduce(
        group: *mut RawGroup,
        tensors: *const *mut C_tensor,
        n: usize,
        op: c_int,
        control: c_int,
    ) -> *mut c_char;
    pub fn weft_dist_broadcast(
        group: *mut RawGroup,
        tensors: *const *mut C_tensor,
        n: usize,
        root: c_int,
    ) -> *mut c_char;
    pub fn weft_dist_allgather(
        group: *mut RawGroup,
        input: *mut C_tensor,
        outputs: *const *mut C_tensor,
        n: usize,
        control: c_int,
    ) -> *mut c_char;
    pub fn weft_dist_barrier(group: *mut RawGroup) -> *mut c_char;
    pub fn weft_dist_reducer_new(
        group: *mut RawGroup,
        params: *const *mut C_tensor,
        n: usize,
        bucket_bytes: i64,
        find_unused: c_int,
        out: *mut *mut RawReducer,
    ) -> *mut c_char;
    pub fn weft_dist_reducer_prepare(
        reducer: *mut RawReducer,
        output: *mut C_tensor,
    ) -> *mut c_char;
    pub fn weft_dist_reducer_free(reducer: *mut RawReducer);
}

/// `Ok` for NULL; otherwise libtorch's message without the C++ backtrace, freed.
pub fn check(message: *mut c_char) -> Result<(), DistError> {
    if message.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null result is a NUL-terminated string malloc'd by the shim, freed once here.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above; the pointer is not used afterwards.
    unsafe { weft_dist_free(message) };
    let short: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Exception raised from"))
        .collect();
    Err(DistError::C10d(short.join("\n").trim().to_string()))
}
