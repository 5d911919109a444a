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

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};
use serde::{Deserialize, Serialize};

use super::gelu::gelu;

/// Token ids of A, C, G, T in the HyenaDNA character tokenizer.
const BASE_IDS: std::ops::RangeInclusive<u32> = 7..=10;

/// The stem's nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StemActivation {
    /// GELU of every convolution output, then max pooling (the first stems; what a spec
    /// without `"activation"` means).
    #[default]
    Gelu,
    /// Max pooling, then ReLU (the same as ReLU then max pooling, since ReLU is
    /// monotonic): one fused pass forward and a sparse one backward
    /// ([`ConvPoolRelu`]), several times faster to train than the GELU stem.
    Relu,
}

/// Shape of a [`ConvStem`] (the `"stem"` object of an omics model's spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StemSpec {
    /// Convolution width in bases (odd; centred on each base).
    pub kernel: usize,
    /// Bases per backbone position (max-pooling bin).
    pub pool: usize,
    /// Convolution filters (motif detectors).
    pub channels: usize,
    /// Nonlinearity (`"gelu"` when absent).
    #[serde(default)]
    pub activation: StemActivation,
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
        let pool = self.spec.pool;
        let bins = padded / pool;
        let pooled = match self.spec.activation {
            StemActivation::Gelu => {
                let act = gelu(&cols.matmul(&w)?.broadcast_add(&self.bias)?)?;
                act.reshape((b * bins, pool, c))?.max(1)?
            }
            StemActivation::Relu => {
                let ids = ids.to_dtype(DType::U32)?.flatten_all()?.to_vec1::<u32>()?;
                let input_len = ids.len() / b.max(1);
                let op = ConvPoolRelu { cols, ids, len: padded, input_len, spec: self.spec, argmax: Default::default() };
                w.apply_op2(&self.bias.contiguous()?, op)?
            }
        };
        let out = crate::hyena::train_ops::add_bias(&pooled.matmul(&self.proj_weight.t()?)?, &self.proj_bias)?;
        out.reshape((b, bins, self.out_dim()))
    }
}

/// Convolution (as `cols · w`), bias, max pooling over `pool` positions and ReLU in one
/// custom op over `(w [4K, C], bias [C])` → `[B · bins, C]`. The backward pass only
/// touches each pooled output's winning position: with one-hot input, its gradient
/// adds `grad` to the `K` weights of the bases under the filter there, so neither the
/// dense `[B · L, C]` gradient nor the `[B · L, 4K]` input gradient that autograd
/// would build through a matmul is ever formed.
struct ConvPoolRelu {
    /// `[B · padded, 4K]` im2col of the one-hot input ([`ConvStem::unfold`]).
    cols: Tensor,
    /// Token ids `[B · input_len]`.
    ids: Vec<u32>,
    /// Positions per row after padding (`bins · pool`).
    len: usize,
    /// Tokens per row of `ids`.
    input_len: usize,
    spec: StemSpec,
    /// Per pooled output, the winning position within its bin, or `u32::MAX` where
    /// ReLU clipped it (no gradient); filled by the forward pass.
    argmax: std::sync::Mutex<Vec<u32>>,
}

/// The values of a contiguous f32 tensor storage.
fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(data), Some((a, b))) => Ok(&data[a..b]),
        _ => candle_core::bail!("stem: {what} must be a contiguous f32 tensor"),
    }
}

impl CustomOp2 for ConvPoolRelu {
    fn name(&self) -> &'static str {
        "stem-conv-pool-relu"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (k4, c) = l1.shape().dims2()?;
        let w = Tensor::from_slice(contiguous_f32(s1, l1, "weight")?, (k4, c), &candle_core::Device::Cpu)?;
        let bias = contiguous_f32(s2, l2, "bias")?;
        let z = self.cols.matmul(&w)?.flatten_all()?.to_vec1::<f32>()?;
        let pool = self.spec.pool;
        let rows = z.len() / c / pool;
        let mut out = vec![0f32; rows * c];
        let mut arg = vec![u32::MAX; rows * c];
        for r in 0..rows {
            let block = &z[r * pool * c..(r + 1) * pool * c];
            for ch in 0..c {
                let (mut best, mut at) = (f32::NEG_INFINITY, 0u32);
                for p in 0..pool {
                    let v = block[p * c + ch];
                    if v > best {
                        best = v;
                        at = p as u32;
                    }
                }
                let v = best + bias[ch];
                if v > 0.0 {
                    out[r * c + ch] = v;
                    arg[r * c + ch] = at;
                }
            }
        }
        *self.argmax.lock().unwrap_or_else(|e| e.into_inner()) = arg;
        Ok((CpuStorage::F32(out), Shape::from((rows, c))))
    }

    fn bwd(&self, w: &Tensor, _bias: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (k4, c) = w.dims2()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let arg = self.argmax.lock().unwrap_or_else(|e| e.into_inner());
        let (k, half, pool) = (self.spec.kernel, self.spec.kernel / 2, self.spec.pool);
        let bins = self.len / pool;
        let mut gw = vec![0f32; k4 * c];
        let mut gb = vec![0f32; c];
        for (i, (&gv, &at)) in g.iter().zip(arg.iter()).enumerate() {
            if at == u32::MAX || gv == 0.0 {
                continue;
            }
            let (r, ch) = (i / c, i % c);
            let (row, bin) = (r / bins, r % bins);
            let centre = bin * pool + at as usize;
            gb[ch] += gv;
            let ids = &self.ids[row * self.input_len..(row + 1) * self.input_len];
            for off in 0..k {
                let Some(p) = (centre + off).checked_sub(half) else { continue };
                if let Some(&id) = ids.get(p) {
                    if BASE_IDS.contains(&id) {
                        gw[(4 * off + (id - BASE_IDS.start()) as usize) * c + ch] += gv;
                    }
                }
            }
        }
        let dev = w.device();
        Ok((Some(Tensor::from_vec(gw, (k4, c), dev)?), Some(Tensor::from_vec(gb, c, dev)?)))
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
        let spec = StemSpec { kernel: k, pool, channels: d, activation: StemActivation::Gelu };
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

    /// The fused ReLU stem gives the values and the weight gradients of the plain
    /// formula through autograd: ReLU(cols · w + b), then max pooling.
    #[test]
    fn fused_relu_matches_autograd_of_the_plain_formula() {
        let dev = Device::Cpu;
        let (c, k, pool) = (3usize, 5usize, 4usize);
        // Irregular weights, so no two positions of a bin tie in the max.
        let w0: Vec<f32> = (0..c * 4 * k).map(|i| (i as f32 * 1.37 + 0.3).sin()).collect();
        // Two rows of 12 (whole bins: padding positions would tie in the max, and autograd
        // gives a tie's gradient to every tied position).
        let ids: Vec<u32> = (0..24).map(|i| [7, 8, 9, 10, 11, 7, 9, 10, 8][(i * 5 + i / 3) % 9]).collect();
        let ids = Tensor::from_vec(ids, (2, 12), &dev).unwrap();
        let eye = || (Tensor::eye(c, DType::F32, &dev).unwrap(), Tensor::zeros(c, DType::F32, &dev).unwrap());
        let weights: Vec<f32> = (0..2 * 3 * c).map(|i| (i as f32 * 0.37).sin()).collect();
        let weights = Tensor::from_vec(weights, (2, 3, c), &dev).unwrap();
        let run = |fused: bool| {
            let w = Var::from_vec(w0.clone(), (c, 4, k), &dev).unwrap();
            let b = Var::from_vec(vec![0.1f32, -0.2, 0.05], c, &dev).unwrap();
            let spec = StemSpec { kernel: k, pool, channels: c, activation: StemActivation::Relu };
            let stem = ConvStem::new((w.as_tensor().clone(), b.as_tensor().clone()), eye(), spec).unwrap();
            let out = if fused {
                stem.forward(&ids).unwrap()
            } else {
                let (cols, bsz, padded) = stem.unfold(&ids).unwrap();
                let wm = w.as_tensor().permute((2, 1, 0)).unwrap().contiguous().unwrap().reshape((4 * k, c)).unwrap();
                let act = cols.matmul(&wm).unwrap().broadcast_add(b.as_tensor()).unwrap().relu().unwrap();
                act.reshape((bsz * padded / pool, pool, c)).unwrap().max(1).unwrap().reshape((bsz, padded / pool, c)).unwrap()
            };
            let grads = (&out * &weights).unwrap().sum_all().unwrap().backward().unwrap();
            let gw = grads.get(w.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let gb = grads.get(b.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
            (out.flatten_all().unwrap().to_vec1::<f32>().unwrap(), gw, gb)
        };
        let (fused, plain) = (run(true), run(false));
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&fused.0, &plain.0), "values {:?} vs {:?}", fused.0, plain.0);
        assert!(close(&fused.1, &plain.1), "weight grads {:?} vs {:?}", fused.1, plain.1);
        assert!(close(&fused.2, &plain.2), "bias grads {:?} vs {:?}", fused.2, plain.2);
        assert!(fused.1.iter().any(|&g| g != 0.0));
    }

    /// Gradients reach the stem weights.
    #[test]
    fn gradients_reach_the_weights() {
        let dev = Device::Cpu;
        let w = Var::from_vec((0..2 * 4 * 3).map(|i| i as f32 / 24.0 - 0.5).collect(), (2, 4, 3), &dev).unwrap();
        let b = Var::from_vec(vec![0.0f32, 0.1], 2, &dev).unwrap();
        let proj = (Tensor::ones((3, 2), DType::F32, &dev).unwrap(), Tensor::zeros(3, DType::F32, &dev).unwrap());
        let stem = ConvStem::new((w.as_tensor().clone(), b.as_tensor().clone()), proj, StemSpec { kernel: 3, pool: 2, channels: 2, activation: StemActivation::Gelu }).unwrap();
        let ids = Tensor::from_vec(vec![7u32, 8, 9, 10, 7, 9], (1, 6), &dev).unwrap();
        let loss = stem.forward(&ids).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let gw = grads.get(w.as_tensor()).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(gw > 0.0);
        assert!(grads.get(b.as_tensor()).is_some());
    }
}
