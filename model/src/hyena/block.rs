//! One pre-norm HyenaDNA block: `a = r + mixer(norm1(r)); r' = a + mlp(norm2(a))`.

use candle_core::Tensor;
use candle_nn::{LayerNorm, Linear, Module, VarBuilder, layer_norm, linear};

use super::block_fused::{BlockHead, BlockTail};
use super::norm::RowLayerNorm;
use super::operator::{HyenaOperator, MixerTrace};
use crate::Config;

/// `mlp`: `fc2(gelu_tanh(fc1(x)))`.
#[derive(Debug)]
pub struct Mlp {
    pub(crate) fc1: Linear,
    pub(crate) fc2: Linear,
}

impl Mlp {
    /// Reads `mlp.fc1`, `mlp.fc2`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let fc1 = linear(cfg.d_model, cfg.d_inner, vb.pp("fc1"))?;
        let fc2 = linear(cfg.d_inner, cfg.d_model, vb.pp("fc2"))?;
        Ok(Self { fc1, fc2 })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // candle's `gelu` is the tanh approximation, as the reference (`approximate="tanh"`).
        self.fc2.forward(&self.fc1.forward(x)?.gelu()?)
    }
}

/// Intermediates of one block (the fixtures' `debug.*` tensors).
#[derive(Debug)]
pub struct BlockTrace {
    /// `norm1` output = mixer input.
    pub ln1_out: Tensor,
    /// The mixer's intermediates.
    pub mixer: MixerTrace,
    /// `norm2` output = MLP input.
    pub ln2_out: Tensor,
    /// MLP output.
    pub mlp_out: Tensor,
    /// Residual stream after the block.
    pub out: Tensor,
}

/// `backbone.layers.{l}`.
#[derive(Debug)]
pub struct Block {
    pub(crate) norm1: LayerNorm,
    /// The Hyena operator.
    pub mixer: HyenaOperator,
    pub(crate) norm2: LayerNorm,
    pub(crate) mlp: Mlp,
    /// The row-local parts fused per tile for CPU f32 inference (when every linear and
    /// norm has its bias, as in HyenaDNA).
    fused: Option<(BlockHead, BlockTail)>,
}

impl Block {
    /// Reads `norm1`, `mixer`, `norm2`, `mlp` (`vb` at `...layers.{l}`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let eps = cfg.layer_norm_epsilon;
        let norm1 = layer_norm(cfg.d_model, eps, vb.pp("norm1"))?;
        let mixer = HyenaOperator::new(cfg, vb.pp("mixer"))?;
        let norm2 = layer_norm(cfg.d_model, eps, vb.pp("norm2"))?;
        let mlp = Mlp::new(cfg, vb.pp("mlp"))?;
        let fused = Self::fused_parts(&norm1, &mixer, &norm2, &mlp);
        Ok(Self { norm1, mixer, norm2, mlp, fused })
    }

    /// [`BlockHead`] and [`BlockTail`] for this block's weights, if they are all f32 with
    /// biases.
    fn fused_parts(norm1: &LayerNorm, mixer: &HyenaOperator, norm2: &LayerNorm, mlp: &Mlp) -> Option<(BlockHead, BlockTail)> {
        let tail = BlockTail {
            short: mixer.fused_params.clone(),
            out_w: mixer.out_proj.weight().clone(),
            out_b: mixer.out_proj.bias()?.clone(),
            norm: RowLayerNorm::of(norm2)?,
            fc1_w: mlp.fc1.weight().clone(),
            fc1_b: mlp.fc1.bias()?.clone(),
            fc2_w: mlp.fc2.weight().clone(),
            fc2_b: mlp.fc2.bias()?.clone(),
        };
        let head = BlockHead::new(RowLayerNorm::of(norm1)?, mixer.in_proj.weight().clone());
        let (n1w, n1b, _) = head.norm().parts();
        let (n2w, n2b, _) = tail.norm.parts();
        let all = [&tail.short, &tail.out_w, &tail.out_b, &tail.fc1_w, &tail.fc1_b, &tail.fc2_w, &tail.fc2_b, mixer.in_proj.weight(), n1w, n1b, n2w, n2b];
        all.iter().all(|t| t.dtype() == candle_core::DType::F32).then_some((head, tail))
    }

    /// Runs the block on the residual stream `r: [B, L, D]`, keeping the intermediates.
    pub fn forward_trace(&self, r: &Tensor, train: bool) -> candle_core::Result<BlockTrace> {
        let ln1_out = self.norm1.forward(r)?;
        let mixer = self.mixer.forward_trace(&ln1_out, train)?;
        let a = (r + &mixer.out)?;
        let ln2_out = self.norm2.forward(&a)?;
        let mlp_out = self.mlp.forward(&ln2_out)?;
        let out = (a + &mlp_out)?;
        Ok(BlockTrace { ln1_out, mixer, ln2_out, mlp_out, out })
    }

    /// The residual stream after the block (inference). On CPU in f32: [`BlockHead`], the
    /// short and long convolutions, then [`BlockTail`]; otherwise candle ops with the
    /// cached filter.
    pub fn forward(&self, r: &Tensor) -> candle_core::Result<Tensor> {
        if let Some((head, tail)) = &self.fused
            && r.device().is_cpu()
            && r.dtype() == candle_core::DType::F32
        {
            let r = r.contiguous()?;
            let p = r.apply_op1_no_bwd(head)?;
            let y = self.mixer.conv_of_projection(&p)?;
            return y.apply_op3_no_bwd(&p, &r, tail);
        }
        let a = (r + self.mixer.forward_trace(&self.norm1.forward(r)?, false)?.out)?;
        &a + self.mlp.forward(&self.norm2.forward(&a)?)?
    }
}

