//! One Mamba layer (Gu & Dao 2023) as the reference's `mamba_simple.Mamba` runs it without
//! the fused CUDA path, and the bidirectional wrapper `BiMambaWrapper` of Caduceus.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::{CaduceusConfig, Strategy};
use super::scan::{ScanInputs, causal_conv_silu, selective_scan};

/// Reverses `x` along `dim`.
pub(crate) fn flip(x: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    let n = x.dim(dim)?;
    let idx = Tensor::from_vec((0..n as u32).rev().collect::<Vec<_>>(), n, x.device())?;
    x.contiguous()?.index_select(&idx, dim)
}

/// A linear layer stored as `{prefix}.weight` (+ `{prefix}.bias` when `bias`), or, when
/// the checkpoint lacks the weight, `tied` (a tensor it shares with another layer).
fn linear(vb: &VarBuilder, shape: (usize, usize), bias: bool, tied: Option<&Linear>) -> candle_core::Result<Linear> {
    match tied {
        Some(t) if !vb.contains_tensor("weight") => Ok(t.clone()),
        _ => {
            let w = vb.get(shape, "weight")?;
            let b = if bias { Some(vb.get(shape.0, "bias")?) } else { None };
            Ok(Linear::new(w, b))
        }
    }
}

/// `mamba_fwd` / `mamba_rev`: in_proj, causal depthwise conv, SiLU, x_proj, dt_proj, the
/// selective scan with `A = -exp(A_log)`, the `D` skip and the SiLU `z` gate, out_proj.
#[derive(Debug, Clone)]
pub struct Mamba {
    in_proj: Linear,
    conv_weight: Tensor,
    conv_bias: Option<Tensor>,
    x_proj: Linear,
    dt_proj_weight: Tensor,
    dt_proj_bias: Tensor,
    a: Tensor,
    d: Tensor,
    out_proj: Linear,
    d_inner: usize,
    dt_rank: usize,
    d_state: usize,
}

impl Mamba {
    /// Loads the layer at `vb` (keys as the reference's `Mamba`); `tied`: the layer whose
    /// in and out projections this one uses where the checkpoint saved them only once.
    pub fn new(cfg: &CaduceusConfig, vb: VarBuilder, tied: Option<&Mamba>) -> candle_core::Result<Self> {
        let ssm = cfg.ssm();
        let (dm, di, r, n) = (cfg.d_model, cfg.d_inner(), cfg.dt_rank(), ssm.d_state);
        let in_proj = linear(&vb.pp("in_proj"), (2 * di, dm), ssm.bias, tied.map(|t| &t.in_proj))?;
        let out_proj = linear(&vb.pp("out_proj"), (dm, di), ssm.bias, tied.map(|t| &t.out_proj))?;
        let conv_weight = vb.get((di, 1, ssm.d_conv), "conv1d.weight")?;
        let conv_bias = if ssm.conv_bias { Some(vb.get(di, "conv1d.bias")?) } else { None };
        let x_proj = Linear::new(vb.get((r + 2 * n, di), "x_proj.weight")?, None);
        let a_log = vb.get_with_hints_dtype((di, n), "A_log", Default::default(), DType::F32)?;
        Ok(Self {
            in_proj,
            conv_weight,
            conv_bias,
            x_proj,
            dt_proj_weight: vb.get((di, r), "dt_proj.weight")?,
            dt_proj_bias: vb.get_with_hints_dtype(di, "dt_proj.bias", Default::default(), DType::F32)?,
            a: a_log.exp()?.neg()?,
            d: vb.get_with_hints_dtype(di, "D", Default::default(), DType::F32)?,
            out_proj,
            d_inner: di,
            dt_rank: r,
            d_state: n,
        })
    }

    /// `[B, L, d_model] -> [B, L, d_model]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dtype = x.dtype();
        let xz = self.in_proj.forward(x)?;
        let u = xz.narrow(2, 0, self.d_inner)?;
        let z = xz.narrow(2, self.d_inner, self.d_inner)?;
        let u = causal_conv_silu(&u, &self.conv_weight, self.conv_bias.as_ref())?.to_dtype(dtype)?;
        let x_dbl = self.x_proj.forward(&u)?;
        let dt = x_dbl.narrow(2, 0, self.dt_rank)?.contiguous()?.broadcast_matmul(&self.dt_proj_weight.t()?)?;
        let b = x_dbl.narrow(2, self.dt_rank, self.d_state)?;
        let c = x_dbl.narrow(2, self.dt_rank + self.d_state, self.d_state)?;
        let y = selective_scan(&ScanInputs {
            u: &u,
            delta: &dt,
            a: &self.a,
            b: &b,
            c: &c,
            d: &self.d,
            z: &z,
            delta_bias: &self.dt_proj_bias,
        })?;
        self.out_proj.forward(&y.to_dtype(dtype)?)
    }
}

/// `BiMambaWrapper`: `mamba_fwd(x)`, combined (added or multiplied) with
/// `flip(mamba_rev(flip(x)))` along the sequence when bidirectional.
#[derive(Debug, Clone)]
pub struct BiMamba {
    fwd: Mamba,
    rev: Option<Mamba>,
    strategy: Strategy,
}

impl BiMamba {
    /// Loads `mamba_fwd` (and `mamba_rev`) at `vb`.
    pub fn new(cfg: &CaduceusConfig, vb: VarBuilder) -> Result<Self, crate::ModelError> {
        let fwd = Mamba::new(cfg, vb.pp("mamba_fwd"), None)?;
        let rev = if cfg.bidirectional {
            let tied = cfg.bidirectional_weight_tie.then_some(&fwd);
            Some(Mamba::new(cfg, vb.pp("mamba_rev"), tied)?)
        } else {
            None
        };
        Ok(Self { fwd, rev, strategy: cfg.strategy()? })
    }

    /// `[B, L, d_model] -> [B, L, d_model]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let out = self.fwd.forward(x)?;
        let Some(rev) = &self.rev else { return Ok(out) };
        let back = flip(&rev.forward(&flip(x, 1)?)?, 1)?;
        match self.strategy {
            Strategy::Add => out + back,
            Strategy::Multiply => out * back,
        }
    }
}
