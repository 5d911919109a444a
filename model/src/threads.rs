//! How many threads the CPU inference kernels use, and data parallelism over a batch.
//!
//! By default a kernel (the fused Hyena ops, their gemm calls and the long convolution)
//! splits its own work over `candle_core::utils::get_num_threads()` threads, the
//! `RAYON_NUM_THREADS` setting candle's matmul uses too. For a batch with at least one
//! sequence per thread, [`split_batch`] instead gives every thread a slice of the batch and
//! runs each slice's whole forward pass single-threaded on it: one synchronisation per
//! forward pass instead of one per kernel, and gemm on the small per-layer matrices
//! scales far better that way (measured in `benches/src/bin/bench_hyena.rs`).

use std::cell::Cell;

use crate::long_conv::kernels::par_rows;

thread_local! {
    /// Set while this thread runs one slice of a batch split by [`split_batch`].
    static SINGLE: Cell<bool> = const { Cell::new(false) };
}

/// Threads a CPU kernel may use on the calling thread: 1 inside [`split_batch`], else
/// candle's setting.
pub fn kernel_threads() -> usize {
    if SINGLE.with(Cell::get) { 1 } else { candle_core::utils::get_num_threads().max(1) }
}

/// Runs `f` over `batch` rows: on one thread as `f(0..batch)` when there are fewer rows
/// than threads (or only one thread), else as `f` on contiguous row ranges, one per
/// thread of [`par_rows`], each running single-threaded ([`kernel_threads`] is 1 there).
/// The results come back in row order.
pub fn split_batch<R: Send>(
    batch: usize,
    f: impl Fn(std::ops::Range<usize>) -> candle_core::Result<R> + Sync,
) -> candle_core::Result<Vec<R>> {
    let threads = kernel_threads();
    if threads == 1 || batch < threads {
        return Ok(vec![f(0..batch)?]);
    }
    let per = batch.div_ceil(threads);
    let mut parts: Vec<Option<candle_core::Result<R>>> = (0..batch.div_ceil(per)).map(|_| None).collect();
    let slices = parts.len();
    par_rows(&mut parts, 1, slices, || (), |i, part, _| {
        SINGLE.with(|c| c.set(true));
        part[0] = Some(f(i * per..((i + 1) * per).min(batch)));
        SINGLE.with(|c| c.set(false));
    });
    parts.into_iter().map(|p| p.expect("par_rows runs every slice")).collect()
}
