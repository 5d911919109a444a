//! glibc malloc settings for model work, called first thing by the `omicsdb` binary
//! and the model benchmarks. Model layers allocate and free tensors
//! of many megabytes per operation; with glibc's default mmap threshold each one
//! is a fresh `mmap` whose pages the kernel zeroes on first touch, which cost a
//! third of the training step time in a profile (`omicsdb train`: 3.9 → 5.9
//! windows/s). Serving such blocks from the heap, and keeping up to 1 GiB of
//! freed heap instead of returning it at once, removes that churn.

/// Raises the mmap threshold to 32 MiB (glibc's largest allowed value on 64-bit:
/// larger ones are refused and leave the default of 128 KiB) and the trim threshold
/// to 1 GiB (glibc only; elsewhere nothing to do). Returns whether glibc took both.
///
/// Measured on the HyenaDNA tiny-1k forward (bench_hyena, 1 thread): 37 k → 48 k
/// tokens/s; with the refused 256 MiB value only the trim threshold applied (44 k).
pub fn tune() -> bool {
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
        unsafe { mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
