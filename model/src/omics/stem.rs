//! A convolutional stem in front of the Hyena backbone, as in Enformer and Basset: a
//! `Conv1d` over the one-hot DNA of the input (motif detectors), GELU, and max pooling
//! over bins of `pool` bases. The backbone then runs over `⌈L / pool⌉` bin positions
//! instead of `L` tokens, so its long convolutions and MLPs cost `pool` times less, and
//! the first layer sees a whole transcription-factor motif (`kernel` bases, both strands
//! learnable) instead of HyenaDNA's three-token short filter.
//!
//! The convolution has `channels` filters (many motif detectors are cheap here: the
//! input has four channels), and a linear projection maps the pooled filters to the
//! backbone width `D`.
//!
//! Checkpoint keys (PyTorch layouts): `stem.conv.weight` `[C, 4, kernel]` over the
//! channels A, C, G, T, `stem.conv.bias` `[C]`, `stem.proj.weight` `[D, C]` and
//! `stem.proj.bias` `[D]`. `N` and padding are all-zero columns. The backbone's token
//! embedding is not used by a model with a stem.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::gelu::gelu;

/// Token ids of A, C, G, T in the HyenaDNA character tokenizer.
const BASE_IDS: std::ops::RangeInclusive<u32> = 7..=10;

/// Shape of a [`ConvStem`] (the `"stem"` object of an omics model's spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StemSpec {
    /// Convolution width in bases (odd; centred on each base).
    pub kernel: usize,
    /// Bases per backbone position (max-pooling bin).
    pub pool: usize,
    /// Convolution filters (motif detectors).
    pub channels: usize,
}

impl StemSpec {
    /// Backbone positions for an input of `input_len` bases: `⌈input_len / pool⌉`.
    pub fn trunk_len(&self, input_len: usize) -> usize {
        input_len.div_ceil(self.pool.max(1))
    }
}

/// The stem's weights (see the module docs).
#[derive(Debug, Clone)]
pub struct ConvStem {
    /// `[C, 4, kernel]`.
    weight: Tensor,
    /// `[C]`.
    bias: Tensor,
    /// `[D, C]`.
    proj_weight: Tensor,
    /// `[D]`.
    proj_bias: Tensor,
    spec: StemSpec,
}

impl ConvStem {
    /// Wraps the weights (`conv` = (`[C, 4, kernel]`, `[C]`), `proj` = (`[D, C]`,
    /// `[D]`)); checks their shapes against `spec`.
    pub fn new(conv: (Tensor, Tensor), proj: (Tensor, Tensor), spec: StemSpec) -> candle_core::Result<Self> {
        let (weight, bias) = conv;
        let (proj_weight, proj_bias) = proj;
        let c = spec.channels;
        let d = proj_bias.dims1()?;
        if weight.dims() != [c, 4, spec.kernel] || bias.dims() != [c] || proj_weight.dims() != [d, c] || spec.pool == 0 {
            candle_core::bail!(
                "stem: expected conv weight [{c}, 4, {}], conv bias [{c}], proj weight [D, {c}] and pool > 0, got {:?}, {:?}, {:?} (pool {})",
                spec.kernel,
                weight.dims(),
                bias.dims(),
                proj_weight.dims(),
                spec.pool
            );
        }
        Ok(Self { weight, bias, proj_weight, proj_bias, spec })
    }

    /// The shape.
    pub fn spec(&self) -> StemSpec {
        self.spec
    }

    /// Output width (the backbone width it feeds).
    pub fn out_dim(&self) -> usize {
        self.proj_bias.dims()[0]
    }

    /// `[B · L', kernel · 4]` im2col matrix of the one-hot input for ids `[B, L]`, with
    /// `L' = trunk_len · pool` (zero columns past the end): row `(b, i)`, column
    /// `4k + base` is 1 when base `i + k − kernel/2` of row `b` is `base`.
    fn unfold(&self, ids: &Tensor) -> candle_core::Result<(Tensor, usize, usize)> {
        let (b, len) = ids.dims2()?;
        let rows = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        let k = self.spec.kernel;
        let half = k / 2;
        let padded = self.spec.trunk_len(len) * self.spec.pool;
        let width = 4 * k;
        let mut cols = vec![0f32; b * padded * width];
        for (r, row) in rows.iter().enumerate() {
            for (p, &id) in row.iter().enumerate() {
                if !BASE_IDS.contains(&id) {
                    continue;
                }
                let base = (id - BASE_IDS.start()) as usize;
                // Base p sits at offset k' = p − i + half of output position i.
                let lo = (p + 1).saturating_sub(k - half);
                let hi = (p + half).min(padded - 1);
                for i in lo..=hi {
                    let off = p + half - i;
                    cols[(r * padded + i) * width + 4 * off + base] = 1.0;
                }
            }
        }
        Ok((Tensor::from_vec(cols, (b * padded, width), ids.device())?, b, padded))
    }

    /// Bin features `[B, ⌈L / pool⌉, D]` for token ids `[B, L]`; differentiable in the
    /// weights.
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (cols, b, padded) = self.unfold(ids)?;
        let c = self.spec.channels;
        // [C, 4, K] -> [K, 4, C] -> [4K, C], matching the column order of `unfold`.
        let w = self.weight.permute((2, 1, 0))?.contiguous()?.reshape((4 * self.spec.kernel, c))?;
        let act = gelu(&cols.matmul(&w)?.broadcast_add(&self.bias)?)?;
        let pool = self.spec.pool;
        let bins = padded / pool;
        let pooled = act.reshape((b * bins, pool, c))?.max(1)?;
        let out = pooled.matmul(&self.proj_weight.t()?)?.broadcast_add(&self.proj_bias)?;
        out.reshape((b, bins, self.out_dim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The im2col matmul equals a direct convolution with zero padding, then max pooling.
    #[test]
    fn matches_a_direct_convolution() {
        let dev = Device::Cpu;
        let (d, k, pool) = (3usize, 5usize, 4usize);
        let w: Vec<f32> = (0..d * 4 * k).map(|i| ((i * 37 % 23) as f32 - 11.0) / 10.0).collect();
        let bias = vec![0.1f32, -0.2, 0.05];
        let spec = StemSpec { kernel: k, pool, channels: d };
        // An identity projection, so the output is the pooled convolution.
        let eye = Tensor::eye(d, DType::F32, &dev).unwrap();
        let stem = ConvStem::new(
            (Tensor::from_vec(w.clone(), (d, 4, k), &dev).unwrap(), Tensor::from_vec(bias.clone(), d, &dev).unwrap()),
            (eye, Tensor::zeros(d, DType::F32, &dev).unwrap()),
            spec,
        )
        .unwrap();
        let ids: Vec<u32> = vec![7, 8, 9, 10, 11, 7, 7, 9, 10, 8]; // ACGTNAAGTC, L = 10
        let out = stem.forward(&Tensor::from_vec(ids.clone(), (1, 10), &dev).unwrap()).unwrap();
        assert_eq!(out.dims(), &[1, 3, d]); // ⌈10 / 4⌉ bins
        let out = out.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        let gelu = |v: f32| 0.5 * v * (1.0 + (0.797_884_6 * v * (1.0 + 0.044715 * v * v)).tanh());
        for c in 0..d {
            let conv: Vec<f32> = (0..12)
                .map(|i| {
                    let mut s = bias[c];
                    for o in 0..k {
                        let p = i as i64 + o as i64 - (k / 2) as i64;
                        if (0..10).contains(&p) && (7..=10).contains(&ids[p as usize]) {
                            s += w[(c * 4 + (ids[p as usize] - 7) as usize) * k + o];
                        }
                    }
                    gelu(s)
                })
                .collect();
            for bin in 0..3 {
                let want = conv[bin * pool..(bin + 1) * pool].iter().cloned().fold(f32::MIN, f32::max);
                assert!((out[bin][c] - want).abs() < 1e-5, "bin {bin} ch {c}: {} vs {want}", out[bin][c]);
            }
        }
    }

    /// Gradients reach the stem weights.
    #[test]
    fn gradients_reach_the_weights() {
        let dev = Device::Cpu;
        let w = Var::from_vec((0..2 * 4 * 3).map(|i| i as f32 / 24.0 - 0.5).collect(), (2, 4, 3), &dev).unwrap();
        let b = Var::from_vec(vec![0.0f32, 0.1], 2, &dev).unwrap();
        let proj = (Tensor::ones((3, 2), DType::F32, &dev).unwrap(), Tensor::zeros(3, DType::F32, &dev).unwrap());
        let stem = ConvStem::new((w.as_tensor().clone(), b.as_tensor().clone()), proj, StemSpec { kernel: 3, pool: 2, channels: 2 }).unwrap();
        let ids = Tensor::from_vec(vec![7u32, 8, 9, 10, 7, 9], (1, 6), &dev).unwrap();
        let loss = stem.forward(&ids).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let gw = grads.get(w.as_tensor()).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(gw > 0.0);
        assert!(grads.get(b.as_tensor()).is_some());
    }
}
