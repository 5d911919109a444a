//! The causal long convolution of the Hyena operator as one candle op.
//!
//! `y[b, c, t] = Σ_{s=0..t} k[c, s] · u[b, c, t − s]` for `u: [B, D, L]` (channels first)
//! and a per-channel filter `k: [D, L]`. This is the reference's
//! `irfft(rfft(u, 2L) · rfft(k, 2L) / 2L, norm="forward")[..., :L]` (ARCHITECTURE.md §6)
//! computed exactly: directly in the time domain for short `L` (at most
//! [`DIRECT_MAX_LEN`]) and with a zero-padded real FFT (power of two `>= 2L − 1`)
//! otherwise, parallel over the `B·D` rows on up to `candle_core::utils::get_num_threads()`
//! threads (the `RAYON_NUM_THREADS` setting candle's matmul uses too).
//!
//! The reference's skip term `+ Dbias[c] · u[b, c, t]` is a convolution with a delta at
//! tap 0, so the model adds `Dbias` to `k[:, 0]` ([`fold_skip`]) and runs one op.
//!
//! The op has a backward pass (both gradients, as cross-correlations), so models can be
//! trained through it with candle autograd. Supported dtypes: f32 and f64.

pub mod kernels;

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};

use kernels::{ConvFloat, Kind, Second, SpectrumCache, fft_size, rowwise, spectra};

/// Longest `L` run by the direct time-domain convolution under [`ConvMethod::Auto`].
pub const DIRECT_MAX_LEN: usize = 128;

/// How the op computes the convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvMethod {
    /// Direct for `L <= DIRECT_MAX_LEN`, FFT above.
    #[default]
    Auto,
    /// Always the direct O(L²) time-domain sum.
    Direct,
    /// Always the zero-padded real FFT.
    Fft,
}

impl ConvMethod {
    fn use_fft(self, len: usize) -> bool {
        match self {
            ConvMethod::Auto => len > DIRECT_MAX_LEN,
            ConvMethod::Direct => false,
            ConvMethod::Fft => true,
        }
    }
}

/// The long convolution op (`u: [B, D, L]`, `k: [D, L]` → `[B, D, L]`).
#[derive(Debug, Clone, Default)]
pub struct LongConv {
    /// Direct or FFT.
    pub method: ConvMethod,
    /// Threads for the row loop; `None` uses [`crate::threads::kernel_threads`].
    pub threads: Option<usize>,
    /// Spectra of a filter that does not change between calls (inference only: the
    /// cache is keyed by FFT size, not by the filter's values).
    pub filter_spectra: Option<Arc<SpectrumCache>>,
}

/// Causal long convolution of `u: [B, D, L]` with `k: [D, L]` (autograd-capable).
pub fn long_conv(u: &Tensor, k: &Tensor) -> candle_core::Result<Tensor> {
    LongConv::default().apply(u, k)
}

/// Adds the per-channel skip term to tap 0 of the filter: `k: [D, L]`, `bias: [D]`.
/// `long_conv(u, fold_skip(k, bias))` equals `long_conv(u, k) + bias[c] · u`.
pub fn fold_skip(k: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    let len = k.dim(1)?;
    let tap0 = (k.narrow(1, 0, 1)? + bias.unsqueeze(1)?)?;
    if len == 1 {
        return Ok(tap0);
    }
    Tensor::cat(&[&tap0, &k.narrow(1, 1, len - 1)?], 1)
}

impl LongConv {
    /// Runs the op on `u: [B, D, L]` and `k: [D, L]` (made contiguous first).
    pub fn apply(&self, u: &Tensor, k: &Tensor) -> candle_core::Result<Tensor> {
        // apply_op2 records the op for autograd only when an input tracks gradients.
        u.contiguous()?.apply_op2(&k.contiguous()?, self.clone())
    }

    fn threads(&self) -> usize {
        self.threads.unwrap_or_else(crate::threads::kernel_threads).max(1)
    }

    fn run<T: ConvFloat>(&self, u: &[T], k: &[T], d: usize, l: usize) -> Vec<T> {
        let use_fft = self.method.use_fft(l);
        let threads = self.threads();
        match (&self.filter_spectra, use_fft) {
            (Some(cache), true) => {
                let n = fft_size(l);
                let cached = cache.get_or_compute::<T>(n, || spectra(k, l, n, threads));
                rowwise(Kind::Conv, u, Second::PerChannelSpectra(&cached.1), d, l, true, threads)
            }
            _ => rowwise(Kind::Conv, u, Second::PerChannel(k), d, l, use_fft, threads),
        }
    }
}

/// Contiguous slice of a storage, or an error naming the argument.
fn slice<'a, T: candle_core::WithDType>(
    s: &'a [T],
    layout: &Layout,
    what: &str,
) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&s[start..end]),
        None => candle_core::bail!("long_conv: {what} must be contiguous"),
    }
}

/// Checks `u: [B, D, L]`, `k: [D, L]`; returns `(D, L)`.
fn check_shapes(lu: &Layout, lk: &Layout, op: &str) -> candle_core::Result<(usize, usize)> {
    let (du, dk) = (lu.shape().dims(), lk.shape().dims());
    match (du, dk) {
        ([_, d, l], [dk0, lk0]) if d == dk0 && l == lk0 => Ok((*d, *l)),
        _ => candle_core::bail!("{op}: expected input [B, D, L] and filter [D, L], got {du:?} and {dk:?}"),
    }
}

impl CustomOp2 for LongConv {
    fn name(&self) -> &'static str {
        "long_conv"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (d, l) = check_shapes(l1, l2, "long_conv")?;
        let out = match (s1, s2) {
            (CpuStorage::F32(u), CpuStorage::F32(k)) => {
                CpuStorage::F32(self.run(slice(u, l1, "input")?, slice(k, l2, "filter")?, d, l))
            }
            (CpuStorage::F64(u), CpuStorage::F64(k)) => {
                CpuStorage::F64(self.run(slice(u, l1, "input")?, slice(k, l2, "filter")?, d, l))
            }
            _ => candle_core::bail!(
                "long_conv: input and filter must both be f32 or both f64, got {:?} and {:?}",
                s1.dtype(),
                s2.dtype()
            ),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        u: &Tensor,
        k: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let method = self.method;
        let threads = self.threads;
        let grad_u = grad.apply_op2_no_bwd(k, &GradInput { method, threads })?;
        let grad_k = grad.apply_op2_no_bwd(u, &GradFilter { method, threads })?;
        Ok((Some(grad_u), Some(grad_k)))
    }
}

/// `∂/∂u`: `gu[b, c, t] = Σ_{t'≥t} g[b, c, t'] · k[c, t' − t]`.
struct GradInput {
    method: ConvMethod,
    threads: Option<usize>,
}

/// `∂/∂k`: `gk[c, s] = Σ_b Σ_{t≥s} g[b, c, t] · u[b, c, t − s]`.
struct GradFilter {
    method: ConvMethod,
    threads: Option<usize>,
}

fn threads_of(t: Option<usize>) -> usize {
    t.unwrap_or_else(candle_core::utils::get_num_threads).max(1)
}

impl GradInput {
    fn run<T: ConvFloat>(&self, g: &[T], k: &[T], d: usize, l: usize) -> Vec<T> {
        let fft = self.method.use_fft(l);
        rowwise(Kind::Xcorr, g, Second::PerChannel(k), d, l, fft, threads_of(self.threads))
    }
}

impl GradFilter {
    fn run<T: ConvFloat>(&self, g: &[T], u: &[T], d: usize, l: usize) -> Vec<T> {
        let fft = self.method.use_fft(l);
        let per_row = rowwise(Kind::Xcorr, g, Second::PerRow(u), d, l, fft, threads_of(self.threads));
        let mut out = vec![T::zero(); d * l];
        for batch_row in per_row.chunks(d * l) {
            out.iter_mut().zip(batch_row).for_each(|(o, &x)| *o = *o + x);
        }
        out
    }
}

impl CustomOp2 for GradInput {
    fn name(&self) -> &'static str {
        "long_conv_grad_input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (d, l) = check_shapes(l1, l2, self.name())?;
        let out = match (s1, s2) {
            (CpuStorage::F32(g), CpuStorage::F32(k)) => {
                CpuStorage::F32(self.run(slice(g, l1, "grad")?, slice(k, l2, "filter")?, d, l))
            }
            (CpuStorage::F64(g), CpuStorage::F64(k)) => {
                CpuStorage::F64(self.run(slice(g, l1, "grad")?, slice(k, l2, "filter")?, d, l))
            }
            _ => candle_core::bail!("{}: dtype mismatch", self.name()),
        };
        Ok((out, l1.shape().clone()))
    }
}

impl CustomOp2 for GradFilter {
    fn name(&self) -> &'static str {
        "long_conv_grad_filter"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() || l1.shape().rank() != 3 {
            candle_core::bail!("{}: grad and input must both be [B, D, L]", self.name());
        }
        let (_, d, l) = l1.shape().dims3()?;
        let out = match (s1, s2) {
            (CpuStorage::F32(g), CpuStorage::F32(u)) => {
                CpuStorage::F32(self.run(slice(g, l1, "grad")?, slice(u, l2, "input")?, d, l))
            }
            (CpuStorage::F64(g), CpuStorage::F64(u)) => {
                CpuStorage::F64(self.run(slice(g, l1, "grad")?, slice(u, l2, "input")?, d, l))
            }
            _ => candle_core::bail!("{}: dtype mismatch", self.name()),
        };
        Ok((out, Shape::from((d, l))))
    }
}

/// The dtype the CPU path computes in for a model dtype (f64 stays, everything else f32).
pub fn compute_dtype(dtype: DType) -> DType {
    if dtype == DType::F64 { DType::F64 } else { DType::F32 }
}

#[cfg(test)]
mod tests;
