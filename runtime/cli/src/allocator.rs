//! glibc's allocator, told to keep freed memory for reuse.
//!
//! A training run allocates the same large buffers over and over: a video sample's frames
//! and floats (hundreds of KiB), each batch (MiBs), the decoder's buffers. glibc serves blocks
//! over 128 KiB with `mmap` and returns them with `munmap`, so every such buffer costs page
//! faults and the kernel zeroing its pages again: a third of a video data worker's time in
//! measurements (docs/benchmarks.md). Raising the thresholds keeps those blocks in the heap,
//! so the next sample reuses them. Memory stays bounded by the run's peak use.

/// Blocks below this come from the heap (glibc's default: 128 KiB, growing with use).
const MMAP_THRESHOLD: i32 = 64 << 20;
/// Free memory at the heap's top is returned to the system only beyond this.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// Applies the thresholds (once, at start-up, before threads allocate).
#[allow(
    unsafe_code,
    reason = "two libc calls at start-up, before any other thread exists"
)]
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads
    // start, and the values are within glibc's documented ranges.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
