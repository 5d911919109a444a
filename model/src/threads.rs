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
/// thread, each running single-threaded ([`kernel_threads`] is 1 there). The results come
/// back in row order.
pub fn split_batch<R: Send>(
    batch: usize,
    f: impl Fn(std::ops::Range<usize>) -> candle_core::Result<R> + Sync,
) -> candle_core::Result<Vec<R>> {
    let threads = kernel_threads();
    if threads == 1 || batch < threads {
        return Ok(vec![f(0..batch)?]);
    }
    let per = batch.div_ceil(threads);
    let ranges: Vec<_> = (0..batch).step_by(per).map(|a| a..(a + per).min(batch)).collect();
    let single = |r: std::ops::Range<usize>| {
        SINGLE.with(|c| c.set(true));
        let out = f(r);
        SINGLE.with(|c| c.set(false));
        out
    };
    std::thread::scope(|scope| {
        let (own, rest) = ranges.split_first().expect("batch > 0");
        let handles: Vec<_> = rest.iter().cloned().map(|r| scope.spawn(move || single(r))).collect();
        let mut out = vec![single(own.clone())?];
        for h in handles {
            out.push(h.join().map_err(|_| candle_core::Error::Msg("a forward-pass thread panicked".into()))??);
        }
        Ok(out)
    })
}
