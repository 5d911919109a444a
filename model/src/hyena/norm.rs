//! LayerNorm for CPU f32 inference, vectorized, on the threads of
//! [`crate::threads::kernel_threads`] (candle's own op always runs on the rayon pool, even
//! inside a slice of [`crate::threads::split_batch`]).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Storage, Tensor};

use super::fused::f32_slice;
use crate::long_conv::kernels::par_rows;

/// `dst = (src − mean) / sqrt(var + eps) · alpha + beta` over one row, with the mean and
/// variance from one pass of sum and sum of squares in f32, as `candle_nn::ops::layer_norm`
/// computes them, but summed in 16 lanes (so it vectorizes) instead of one: the results
/// differ from candle's by f32 rounding only.
#[inline(always)]
pub(crate) fn layer_norm_row(src: &[f32], alpha: &[f32], beta: &[f32], eps: f32, dst: &mut [f32]) {
    const LANES: usize = 16;
    let (mut s, mut s2) = ([0f32; LANES], [0f32; LANES]);
    let chunks = src.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            s[l] += c[l];
            s2[l] += c[l] * c[l];
        }
    }
    let (mut sum, mut sum2) = (s.iter().sum::<f32>(), s2.iter().sum::<f32>());
    for &v in rest {
        sum += v;
        sum2 += v * v;
    }
    let n = src.len() as f32;
    let mean = sum / n;
    let var = sum2 / n - mean * mean;
    let inv_std = (var + eps).sqrt().recip();
    for ((d, &s), (&a, &b)) in dst.iter_mut().zip(src).zip(alpha.iter().zip(beta)) {
        *d = (s - mean) * inv_std * a + b;
    }
}

/// The slice of a CPU f32 tensor held by `held` (from `Tensor::storage_and_layout`).
pub(crate) fn held_f32<'a>(held: &'a (candle_core::StorageRef<'_>, &Layout), what: &str) -> candle_core::Result<&'a [f32]> {
    match &*held.0 {
        Storage::Cpu(s) => f32_slice(s, held.1, what),
        _ => candle_core::bail!("{what} must be on the CPU"),
    }
}

/// A LayerNorm over the last dimension with its weight, bias and epsilon: the op of
/// [`candle_nn::LayerNorm`] for CPU f32 inference.
#[derive(Debug, Clone)]
pub struct RowLayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl RowLayerNorm {
    /// The op of `norm` when it has a bias and subtracts the mean (HyenaDNA's norms);
    /// `None` otherwise.
    pub fn of(norm: &candle_nn::LayerNorm) -> Option<Self> {
        let bias = norm.bias()?.clone();
        Some(Self { weight: norm.weight().clone(), bias, eps: norm.eps() as f32 })
    }

    /// Weight, bias and epsilon, read by a caller that fuses the norm into its own op.
    pub(crate) fn parts(&self) -> (&Tensor, &Tensor, f32) {
        (&self.weight, &self.bias, self.eps)
    }

    /// Whether the op applies to `x`: CPU f32 input and weights.
    pub fn applies(&self, x: &Tensor) -> bool {
        [x, &self.weight, &self.bias].iter().all(|t| t.device().is_cpu() && t.dtype() == candle_core::DType::F32)
    }
}

impl CustomOp1 for RowLayerNorm {
    fn name(&self) -> &'static str {
        "hyena_layer_norm"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "layer norm: input")?;
        let (w, b) = (self.weight.storage_and_layout(), self.bias.storage_and_layout());
        let (alpha, beta) = (held_f32(&w, "layer norm: weight")?, held_f32(&b, "layer norm: bias")?);
        let width = alpha.len();
        if width == 0 || beta.len() != width || l.shape().dims().last() != Some(&width) {
            candle_core::bail!("layer norm of width {width} over {:?}", l.shape());
        }
        let mut out = vec![0f32; x.len()];
        let eps = self.eps;
        par_rows(&mut out, width, crate::threads::kernel_threads(), || (), |i, row, _| {
            layer_norm_row(&x[i * width..(i + 1) * width], alpha, beta, eps, row)
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}
