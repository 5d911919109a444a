//! glibc malloc settings for model work. Model layers allocate and free tensors
//! of many megabytes per operation; with glibc's default mmap threshold each one
//! is a fresh `mmap` whose pages the kernel zeroes on first touch, which cost a
//! third of the training step time in a profile (`omicsdb train`: 3.9 → 5.9
//! windows/s). Serving such blocks from the heap, and keeping up to 1 GiB of
//! freed heap instead of returning it at once, removes that churn.

/// Raises the mmap threshold to 256 MiB and the trim threshold to 1 GiB
/// (glibc only; elsewhere nothing to do).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // From glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes allocator parameters; it is called first
        // thing in main, before any other thread exists.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 256 << 20);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}
