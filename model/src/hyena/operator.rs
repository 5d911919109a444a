//! The order-2 Hyena operator (`mixer`): in-projection, causal short convolution, gating,
//! long convolution with the implicit filter, out-projection.

use candle_core::Tensor;
use candle_nn::{Linear, VarBuilder, linear};

use super::filter::HyenaFilter;
use super::fused::GateIn;
use super::train_ops;
use crate::Config;
use crate::long_conv::{LongConv, compute_dtype};

/// Intermediate tensors of one operator call (the fixtures' `debug.*` tensors).
#[derive(Debug)]
pub struct MixerTrace {
    /// `in_proj` output, `[B, L, 3D]`.
    pub in_proj_out: Tensor,
    /// Causal short-conv output (the reference's untrimmed output, first `L`), `[B, L, 3D]`.
    pub short_conv_out: Tensor,
    /// `v ⊙ x1`, channels first, `[B, D, L]`: the long convolution's input.
    pub fftconv_in: Tensor,
    /// `k ∗ (v ⊙ x1) + Dbias ⊙ (v ⊙ x1)`, `[B, D, L]`.
    pub fftconv_out: Tensor,
    /// Operator output after `out_proj`, `[B, L, D]`.
    pub out: Tensor,
}

/// `mixer`: the Hyena operator of one block.
#[derive(Debug)]
pub struct HyenaOperator {
    pub(crate) in_proj: Linear,
    pub(crate) out_proj: Linear,
    /// Taps, short-conv bias and in_proj bias as `[K + 2, 3D]` for the fused kernels.
    pub(crate) fused_params: Tensor,
    /// Short-filter taps as `[K, 3D]` (row `K−1` multiplies the current step).
    short_taps: Tensor,
    short_bias: Tensor,
    /// `filter_fn`: the implicit long filter and the skip term.
    pub filter_fn: HyenaFilter,
    d_model: usize,
}

impl HyenaOperator {
    /// Reads `mixer.*` (`vb` at `...layers.{l}.mixer`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        let kw = cfg.short_filter_order;
        let w = vb.get((3 * d, 1, kw), "short_filter.weight")?.squeeze(1)?.t()?.contiguous()?;
        let in_proj = linear(d, 3 * d, vb.pp("in_proj"))?;
        let out_proj = linear(d, d, vb.pp("out_proj"))?;
        let short_bias = vb.get(3 * d, "short_filter.bias")?;
        let in_bias = in_proj.bias().cloned().unwrap_or(short_bias.zeros_like()?);
        let fused_params = Tensor::cat(&[w.clone(), short_bias.unsqueeze(0)?, in_bias.unsqueeze(0)?], 0)?
            .to_dtype(candle_core::DType::F32)?
            .contiguous()?;
        Ok(Self {
            in_proj,
            out_proj,
            fused_params,
            short_taps: w.clone(),
            short_bias,
            filter_fn: HyenaFilter::new(cfg, vb.pp("filter_fn"))?,
            d_model: d,
        })
    }

    /// Causal depthwise conv on channels-last `p: [B, L, C]`:
    /// `s[t] = bias + Σ_j w_j · p[t − (K−1) + j]` (PyTorch `Conv1d(padding=K−1)`, first `L` outputs).
    fn short_conv(&self, p: &Tensor) -> candle_core::Result<Tensor> {
        if train_ops::is_cpu_f32(&[p, &self.short_taps, &self.short_bias]) {
            return train_ops::short_conv(p, &self.short_taps, &self.short_bias);
        }
        let (_, len, _) = p.dims3()?;
        let kw = self.short_taps.dim(0)?;
        let padded = p.pad_with_zeros(1, kw - 1, 0)?;
        let mut s = p.broadcast_mul(&self.short_taps.get(kw - 1)?)?.broadcast_add(&self.short_bias)?;
        for j in 0..kw - 1 {
            s = (s + padded.narrow(1, j, len)?.broadcast_mul(&self.short_taps.get(j)?)?)?;
        }
        Ok(s)
    }

    /// Runs the operator on `u: [B, L, D]` (LN1 output) and keeps the intermediates.
    /// `train` recomputes the filter through autograd instead of using the cache.
    pub fn forward_trace(&self, u: &Tensor, train: bool) -> candle_core::Result<MixerTrace> {
        let (_, len, _) = u.dims3()?;
        let d = self.d_model;
        let in_proj_out = train_ops::linear(&self.in_proj, u)?;
        let short_conv_out = self.short_conv(&in_proj_out)?;
        let x0 = short_conv_out.narrow(2, 0, d)?;
        let x1 = short_conv_out.narrow(2, d, d)?;
        let v = short_conv_out.narrow(2, 2 * d, d)?;
        let dtype = u.dtype();
        let fftconv_in = (v * x1)?.transpose(1, 2)?.to_dtype(compute_dtype(dtype))?.contiguous()?;
        let fftconv_out = if train {
            let k = self.filter_fn.conv_filter(len)?.to_dtype(fftconv_in.dtype())?;
            LongConv::default().apply(&fftconv_in, &k)?
        } else {
            let cached = self.filter_fn.cached(len)?;
            let k = cached.k.to_dtype(fftconv_in.dtype())?;
            // The compute dtype is fixed per model, so the cached spectra always match it.
            let op = LongConv { filter_spectra: Some(cached.spectra.clone()), ..LongConv::default() };
            op.apply(&fftconv_in, &k)?
        };
        let z = (fftconv_out.to_dtype(dtype)?.transpose(1, 2)? * x0)?;
        let out = train_ops::linear(&self.out_proj, &z)?;
        Ok(MixerTrace { in_proj_out, short_conv_out, fftconv_in, fftconv_out, out })
    }

    /// CPU f32: `k ∗ (v ⊙ x1)` with the cached filter, channels first `[B, D, L]`, from the
    /// bias-free projection `p: [B, L, 3D]`.
    pub(crate) fn conv_of_projection(&self, p: &Tensor) -> candle_core::Result<Tensor> {
        let (_, len, _) = p.dims3()?;
        let vx = p.apply_op2_no_bwd(&self.fused_params, &GateIn)?;
        let cached = self.filter_fn.cached(len)?;
        let op = LongConv { filter_spectra: Some(cached.spectra.clone()), ..LongConv::default() };
        op.apply(&vx, &cached.k)
    }
}
