//! The convention of `csrc/`'s entry points: NULL for success, else a malloc'd message that
//! the caller frees. One reader of it for the fused kernels and the TorchScript access.
#![allow(unsafe_code, reason = "reads and frees the C++ shim's error messages")]

use std::ffi::{CStr, c_char};

use tch::TchError;

unsafe extern "C" {
    fn weft_free(message: *mut c_char);
}

/// `Ok` for NULL; otherwise the message (libtorch's, without the C++ backtrace that follows
/// it), freed.
pub fn check(message: *mut c_char) -> Result<(), TchError> {
    if message.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null result is a NUL-terminated string malloc'd by the shim, freed once here.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above; the pointer is not used afterwards.
    unsafe { weft_free(message) };
    let short: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Exception raised from"))
        .collect();
    Err(TchError::Torch(short.join("\n")))
}
