//! Slice-level kernels of the long convolution: direct (time domain) and real FFT,
//! row-parallel over `batch × channel` rows on scoped threads.
//!
//! All rows have the same length `len`. A "row" of the first operand is one
//! `(batch, channel)` signal; the second operand is either one row per channel
//! (the filter, shared over the batch) or one row per first-operand row.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, FftNum, RealFftPlanner, RealToComplex};

use crate::simd::vectorized;

/// Which product a kernel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Causal convolution: `y[t] = Σ_{s≤t} b[s]·a[t−s]`.
    Conv,
    /// Cross-correlation (the adjoint): `y[s] = Σ_j a[j+s]·b[j]`, `j+s < len`.
    Xcorr,
}

/// Floats the kernels run on (f32 for inference, f64 for gradient checks).
pub trait ConvFloat: FftNum + Default {
    /// Cached forward and inverse real FFT plans of size `n`.
    fn plans(n: usize) -> FftPlans<Self>;
}

/// A forward and an inverse real FFT plan of one size.
pub type FftPlans<T> = (Arc<dyn RealToComplex<T>>, Arc<dyn ComplexToReal<T>>);

fn cached_plans<T: FftNum>(
    cache: &'static OnceLock<Mutex<(RealFftPlanner<T>, HashMap<usize, FftPlans<T>>)>>,
    n: usize,
) -> FftPlans<T> {
    let cell = cache.get_or_init(|| Mutex::new((RealFftPlanner::new(), HashMap::new())));
    // A poisoned lock only means another thread panicked while planning; the map is still valid.
    let mut guard = cell.lock().unwrap_or_else(|e| e.into_inner());
    let (planner, map) = &mut *guard;
    map.entry(n)
        .or_insert_with(|| (planner.plan_fft_forward(n), planner.plan_fft_inverse(n)))
        .clone()
}

impl ConvFloat for f32 {
    fn plans(n: usize) -> FftPlans<f32> {
        static CACHE: OnceLock<Mutex<(RealFftPlanner<f32>, HashMap<usize, FftPlans<f32>>)>> =
            OnceLock::new();
        cached_plans(&CACHE, n)
    }
}

impl ConvFloat for f64 {
    fn plans(n: usize) -> FftPlans<f64> {
        static CACHE: OnceLock<Mutex<(RealFftPlanner<f64>, HashMap<usize, FftPlans<f64>>)>> =
            OnceLock::new();
        cached_plans(&CACHE, n)
    }
}

/// FFT size used for rows of length `len`: a power of two `>= 2·len − 1`, so that the
/// circular product equals the linear one (no wrap-around).
pub fn fft_size(len: usize) -> usize {
    (2 * len).saturating_sub(1).max(2).next_power_of_two()
}

/// Runs `f(row, out_row)` over all rows of `out` (rows of `width` elements) on up to
/// `threads` threads (the calling one and scoped ones), each with its own scratch state
/// made by `init`. Each thread's loop runs under [`vectorized`], so `f`, inlined there,
/// is compiled for the CPU's widest vector instructions.
pub fn par_rows<O: Send, S>(
    out: &mut [O],
    width: usize,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(usize, &mut [O], &mut S) + Sync,
) {
    if width == 0 {
        return;
    }
    let rows = out.len() / width;
    let threads = threads.clamp(1, rows.max(1));
    let per_thread = rows.div_ceil(threads);
    let run = |first: usize, chunk: &mut [O]| {
        vectorized(|| {
            let mut scratch = init();
            for (i, row) in chunk.chunks_mut(width).enumerate() {
                f(first + i, row, &mut scratch);
            }
        })
    };
    if threads == 1 {
        run(0, out);
        return;
    }
    std::thread::scope(|scope| {
        let mut chunks = out.chunks_mut(per_thread * width);
        let own = chunks.next();
        for (t, chunk) in chunks.enumerate() {
            let run = &run;
            scope.spawn(move || run((t + 1) * per_thread, chunk));
        }
        if let Some(chunk) = own {
            run(0, chunk);
        }
    });
}

/// Direct causal convolution of one row: `y[t] = Σ_{s≤t} b[s]·a[t−s]`.
pub fn conv_direct<T: FftNum>(a: &[T], b: &[T], y: &mut [T]) {
    let len = y.len();
    y.fill(T::zero());
    for (s, &bs) in b.iter().enumerate().take(len) {
        for (yt, &at) in y[s..].iter_mut().zip(&a[..len - s]) {
            *yt = *yt + bs * at;
        }
    }
}

/// Direct cross-correlation of one row: `y[s] = Σ_j a[j+s]·b[j]`.
pub fn xcorr_direct<T: FftNum>(a: &[T], b: &[T], y: &mut [T]) {
    let len = y.len();
    y.fill(T::zero());
    for (j, &bj) in b.iter().enumerate().take(len) {
        for (ys, &aj) in y[..len - j].iter_mut().zip(&a[j..]) {
            *ys = *ys + bj * aj;
        }
    }
}

struct FftScratch<T> {
    time: Vec<T>,
    spec: Vec<Complex<T>>,
    spec_b: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

fn fft_scratch<T: ConvFloat>(plans: &FftPlans<T>) -> FftScratch<T> {
    let (fwd, inv) = plans;
    let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
    FftScratch {
        time: fwd.make_input_vec(),
        spec: fwd.make_output_vec(),
        spec_b: fwd.make_output_vec(),
        scratch: vec![Complex::default(); scratch_len],
    }
}

/// Zero-padded forward real FFT of `x` into `spec` (lengths fixed by the plan).
fn rfft_padded<T: ConvFloat>(
    fwd: &Arc<dyn RealToComplex<T>>,
    x: &[T],
    time: &mut [T],
    spec: &mut [Complex<T>],
    scratch: &mut [Complex<T>],
) {
    time[..x.len()].copy_from_slice(x);
    time[x.len()..].fill(T::zero());
    // Lengths come from the same plan, so this cannot fail.
    fwd.process_with_scratch(time, spec, scratch).expect("rfft buffer lengths match the plan");
}

/// Spectra of `rows` rows of `b` (each `len` long) at FFT size `n`, row-major,
/// `n/2 + 1` bins per row, computed on `threads` threads.
pub fn spectra<T: ConvFloat>(b: &[T], len: usize, n: usize, threads: usize) -> Vec<Complex<T>> {
    let plans = T::plans(n);
    let bins = n / 2 + 1;
    let rows = if len == 0 { 0 } else { b.len() / len };
    let mut out = vec![Complex::default(); rows * bins];
    par_rows(&mut out, bins, threads, || fft_scratch(&plans), |r, spec, s| {
        rfft_padded(&plans.0, &b[r * len..(r + 1) * len], &mut s.time, spec, &mut s.scratch);
    });
    out
}

/// The second operand of a row-wise product.
pub enum Second<'a, T> {
    /// One row per channel (row `r` uses channel `r % channels`), time domain.
    PerChannel(&'a [T]),
    /// One row per channel, already transformed by [`spectra`] at size [`fft_size`].
    PerChannelSpectra(&'a [Complex<T>]),
    /// One row per first-operand row.
    PerRow(&'a [T]),
}

/// Computes `kind` row by row: `out[r] = kind(a[r], second[r])`; rows of length `len`,
/// `channels` channels (the fastest-varying row index after the length).
/// `use_fft` picks the FFT path, else the direct one.
#[allow(clippy::too_many_arguments)]
pub fn rowwise<T: ConvFloat>(
    kind: Kind,
    a: &[T],
    second: Second<'_, T>,
    channels: usize,
    len: usize,
    use_fft: bool,
    threads: usize,
) -> Vec<T> {
    let mut out = vec![T::zero(); a.len()];
    if len == 0 || a.is_empty() {
        return out;
    }
    if !use_fft {
        let b_row = |r: usize| -> &[T] {
            match &second {
                Second::PerChannel(b) => &b[(r % channels) * len..(r % channels + 1) * len],
                Second::PerRow(b) => &b[r * len..(r + 1) * len],
                Second::PerChannelSpectra(_) => unreachable!("spectra are only passed with use_fft"),
            }
        };
        par_rows(&mut out, len, threads, || (), |r, y, _| {
            let a_row = &a[r * len..(r + 1) * len];
            match kind {
                Kind::Conv => conv_direct(a_row, b_row(r), y),
                Kind::Xcorr => xcorr_direct(a_row, b_row(r), y),
            }
        });
        return out;
    }
    let n = fft_size(len);
    let bins = n / 2 + 1;
    let plans = T::plans(n);
    let owned;
    let shared: Option<&[Complex<T>]> = match &second {
        Second::PerChannelSpectra(s) => Some(*s),
        Second::PerChannel(b) => {
            owned = spectra(b, len, n, threads);
            Some(owned.as_slice())
        }
        Second::PerRow(_) => None,
    };
    let scale = T::from_f64(1.0 / n as f64).unwrap_or_else(T::one);
    par_rows(&mut out, len, threads, || fft_scratch(&plans), |r, y, s| {
        let (fwd, inv) = &plans;
        rfft_padded(fwd, &a[r * len..(r + 1) * len], &mut s.time, &mut s.spec, &mut s.scratch);
        let b_spec: &[Complex<T>] = match (&second, shared) {
            (Second::PerRow(b), _) => {
                rfft_padded(fwd, &b[r * len..(r + 1) * len], &mut s.time, &mut s.spec_b, &mut s.scratch);
                &s.spec_b
            }
            (_, Some(sh)) => &sh[(r % channels) * bins..(r % channels + 1) * bins],
            (_, None) => unreachable!("per-channel operands always have spectra"),
        };
        match kind {
            Kind::Conv => s.spec.iter_mut().zip(b_spec).for_each(|(x, k)| *x = *x * *k * scale),
            Kind::Xcorr => s.spec.iter_mut().zip(b_spec).for_each(|(x, k)| *x = *x * k.conj() * scale),
        }
        // DC and Nyquist bins of real signals are real; clear rounding noise for the c2r check.
        s.spec[0].im = T::zero();
        if let Some(last) = s.spec.last_mut() {
            last.im = T::zero();
        }
        inv.process_with_scratch(&mut s.spec, &mut s.time, &mut s.scratch)
            .expect("irfft buffer lengths match the plan");
        y.copy_from_slice(&s.time[..len]);
    });
    out
}

/// A cache of filter spectra, for a filter that does not change between calls
/// (inference): holds the spectra of one filter at one FFT size.
#[derive(Default)]
pub struct SpectrumCache {
    slot: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
}

/// What a [`SpectrumCache`] holds: FFT size and the row-major spectra.
type Cached<T> = (usize, Vec<Complex<T>>);

impl std::fmt::Debug for SpectrumCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpectrumCache")
    }
}

impl SpectrumCache {
    /// The cached spectra for FFT size `n`, computing (and keeping) them on a miss.
    pub fn get_or_compute<T: ConvFloat>(
        &self,
        n: usize,
        compute: impl FnOnce() -> Vec<Complex<T>>,
    ) -> Arc<Cached<T>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(any) = slot.as_ref()
            && let Ok(hit) = Arc::clone(any).downcast::<Cached<T>>()
            && hit.0 == n
        {
            return hit;
        }
        let fresh = Arc::new((n, compute()));
        *slot = Some(fresh.clone() as Arc<dyn Any + Send + Sync>);
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_conv(a: &[f64], b: &[f64]) -> Vec<f64> {
        (0..a.len()).map(|t| (0..=t).map(|s| b[s] * a[t - s]).sum()).collect()
    }

    fn naive_xcorr(a: &[f64], b: &[f64]) -> Vec<f64> {
        let l = a.len();
        (0..l).map(|s| (0..l - s).map(|j| a[j + s] * b[j]).sum()).collect()
    }

    fn signal(len: usize, seed: u64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64 + 1.0) * 0.37 + seed as f64).sin()).collect()
    }

    #[test]
    fn direct_and_fft_match_the_definition() {
        for len in [1, 2, 3, 7, 64, 100] {
            let channels = 3;
            let a: Vec<f64> = signal(2 * channels * len, 1);
            let b: Vec<f64> = signal(channels * len, 2);
            let per_row: Vec<f64> = signal(2 * channels * len, 3);
            for use_fft in [false, true] {
                for threads in [1, 2] {
                    let conv = rowwise(Kind::Conv, &a, Second::PerChannel(&b), channels, len, use_fft, threads);
                    let xc = rowwise(Kind::Xcorr, &a, Second::PerRow(&per_row), channels, len, use_fft, threads);
                    for r in 0..2 * channels {
                        let c = r % channels;
                        let ar = &a[r * len..(r + 1) * len];
                        let want = naive_conv(ar, &b[c * len..(c + 1) * len]);
                        let want_x = naive_xcorr(ar, &per_row[r * len..(r + 1) * len]);
                        for t in 0..len {
                            assert!((conv[r * len + t] - want[t]).abs() < 1e-9, "conv len {len} fft {use_fft}");
                            assert!((xc[r * len + t] - want_x[t]).abs() < 1e-9, "xcorr len {len} fft {use_fft}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn cached_spectra_are_reused_and_refreshed_on_size_change() {
        let cache = SpectrumCache::default();
        let mut calls = 0;
        let a = cache.get_or_compute::<f32>(8, || {
            calls += 1;
            vec![Complex::new(1.0, 0.0); 5]
        });
        let b = cache.get_or_compute::<f32>(8, || unreachable!("must hit"));
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.get_or_compute::<f32>(16, || {
            calls += 1;
            vec![Complex::new(2.0, 0.0); 9]
        });
        assert_eq!((calls, c.0), (2, 16));
        assert_eq!(fft_size(1024), 2048);
        assert_eq!(fft_size(300), 1024);
        assert_eq!(fft_size(1), 2);
    }
}
