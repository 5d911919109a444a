//! The Caduceus network (`CaduceusForMaskedLM`): embeddings, Mamba blocks around
//! [`BiMamba`] mixers, the final norm and the masked-LM head, with the reverse-complement
//! parameter-sharing (RCPS, Caduceus-PS) variants of each, key names as the reference's.
//!
//! RCPS hidden states have `2 * d_model` channels: the first half reads the sequence, the
//! second half is the same computation on the reverse complement, stored flipped along
//! the sequence and the channels (`F`), so that `F(h(x)) = h(rc(x))`. How the pieces
//! follow the reference:
//! * embedding: `[E[x], F(E[rc(x)])]`, i.e. per token `[E[x_t], flip_c(E[comp(x_t)])]`;
//! * mixer (`RCPSWrapper`): `[m(h1), F(m(F(h2)))]` with one set of parameters;
//! * add + norm (`RCPSAddNormWrapper`, and the final norm): `h = x + residual`, then
//!   `[norm(h1), F(norm(F(h2)))]`; a norm acts per token, so `F(norm(F(v)))` is the norm
//!   with its weight (and bias) reversed, which is how it is computed here;
//! * blocks with `fused_add_norm` (`RCPSMambaBlock`'s Triton path, the published
//!   checkpoints') normalise the halves the other way round: the block passes
//!   `[norm(h2), F(norm(F(h1)))]` to the mixer and keeps `[h2, h1]` as the residual. This
//!   is what the reference computes (and still RC-equivariant), so it is reproduced; the
//!   final norm has no such swap;
//! * LM head (`RCPSLMHead`, weight tied to the embedding): `h1 W^T + flip_c(h2) W[comp]^T`,
//!   computed as one product with `[W, flip_c(W[comp])]`.
//!
//! Norms run in float32 and, with `residual_in_fp32`, the residual stream is float32, as
//! the reference keeps it; the scan always runs in float32.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::CaduceusConfig;
use super::mamba::{BiMamba, flip};
use crate::ModelError;

/// Reverses the channels (the last dimension).
fn flip_c(x: &Tensor) -> candle_core::Result<Tensor> {
    flip(x, x.rank() - 1)
}

/// `F`: reverses the sequence and the channels of `[B, L, C]`.
fn flip_lc(x: &Tensor) -> candle_core::Result<Tensor> {
    flip_c(&flip(x, 1)?)
}

/// The two channel halves of `[B, L, 2D]`.
fn halves(x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let c = x.dim(D::Minus1)? / 2;
    Ok((x.narrow(D::Minus1, 0, c)?.contiguous()?, x.narrow(D::Minus1, c, c)?.contiguous()?))
}

/// An RMSNorm (`weight` only) or a LayerNorm (`weight`, `bias`), in float32.
#[derive(Debug, Clone)]
struct Norm {
    weight: Tensor,
    bias: Option<Tensor>,
    eps: f64,
}

impl Norm {
    fn new(cfg: &CaduceusConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        let weight = vb.get_with_hints_dtype(d, "weight", Default::default(), DType::F32)?;
        let bias = if cfg.rms_norm { None } else { Some(vb.get_with_hints_dtype(d, "bias", Default::default(), DType::F32)?) };
        Ok(Self { weight, bias, eps: cfg.norm_epsilon })
    }

    /// The norm `v -> flip_c(norm(flip_c(v)))`: weight and bias reversed.
    fn flipped(&self) -> candle_core::Result<Self> {
        Ok(Self { weight: flip_c(&self.weight)?, bias: self.bias.as_ref().map(flip_c).transpose()?, eps: self.eps })
    }

    /// Normalises the last dimension of `x` in float32, returning `dtype`.
    fn forward(&self, x: &Tensor, dtype: DType) -> candle_core::Result<Tensor> {
        let x = x.to_dtype(DType::F32)?.contiguous()?;
        let y = match &self.bias {
            None => candle_nn::ops::rms_norm(&x, &self.weight, self.eps as f32)?,
            Some(b) => candle_nn::ops::layer_norm(&x, &self.weight, b, self.eps as f32)?,
        };
        y.to_dtype(dtype)
    }
}

/// A norm of full-width states (plain), or of RCPS halves (the norm and its flipped twin).
#[derive(Debug, Clone)]
struct AddNorm {
    norm: Norm,
    /// `F(norm(F(.)))`, for RCPS.
    flipped: Option<Norm>,
}

impl AddNorm {
    fn new(cfg: &CaduceusConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let norm = Norm::new(cfg, vb)?;
        let flipped = if cfg.rcps { Some(norm.flipped()?) } else { None };
        Ok(Self { norm, flipped })
    }

    /// `norm(h)`, or for RCPS `[norm(h1), F(norm(F(h2)))]` (with `swap`: of `[h2, h1]`).
    fn forward(&self, h: &Tensor, swap: bool, dtype: DType) -> candle_core::Result<Tensor> {
        let Some(flipped) = &self.flipped else { return self.norm.forward(h, dtype) };
        let (a, b) = halves(h)?;
        let (a, b) = if swap { (b, a) } else { (a, b) };
        Tensor::cat(&[self.norm.forward(&a, dtype)?, flipped.forward(&b, dtype)?], D::Minus1)
    }
}

/// `layers.{i}`: add + norm, then the mixer (`Block`, or `RCPSMambaBlock`).
#[derive(Debug, Clone)]
struct Block {
    norm: AddNorm,
    mixer: BiMamba,
    rcps: bool,
    /// RCPS with `fused_add_norm`: the halves swapped (module docs).
    swap: bool,
    residual_dtype: Option<DType>,
}

impl Block {
    fn new(cfg: &CaduceusConfig, vb: VarBuilder) -> Result<Self, ModelError> {
        let (norm_vb, mixer_vb) = match (cfg.rcps, cfg.fused_add_norm) {
            (true, false) => (vb.pp("norm.submodule"), vb.pp("mixer.submodule")),
            (true, true) => (vb.pp("norm"), vb.pp("mixer.submodule")),
            (false, _) => (vb.pp("norm"), vb.pp("mixer")),
        };
        Ok(Self {
            norm: AddNorm::new(cfg, norm_vb)?,
            mixer: BiMamba::new(cfg, mixer_vb)?,
            rcps: cfg.rcps,
            swap: cfg.rcps && cfg.fused_add_norm,
            residual_dtype: cfg.residual_in_fp32.then_some(DType::F32),
        })
    }

    /// `(hidden, residual) -> (mixer output, new residual)`.
    fn forward(&self, hidden: &Tensor, residual: Option<&Tensor>) -> candle_core::Result<(Tensor, Tensor)> {
        let dtype = hidden.dtype();
        let h = add_residual(hidden, residual)?;
        let normed = self.norm.forward(&h, self.swap, dtype)?;
        let mut residual = if self.swap {
            let (a, b) = halves(&h)?;
            Tensor::cat(&[b, a], D::Minus1)?
        } else {
            h
        };
        if let Some(t) = self.residual_dtype {
            residual = residual.to_dtype(t)?;
        }
        let out = if self.rcps {
            let (a, b) = halves(&normed)?;
            let rc = flip_lc(&self.mixer.forward(&flip_lc(&b)?)?)?;
            Tensor::cat(&[self.mixer.forward(&a)?, rc], D::Minus1)?
        } else {
            self.mixer.forward(&normed)?
        };
        Ok((out, residual))
    }
}

/// `hidden + residual` in the residual's dtype (`hidden` alone for the first block).
fn add_residual(hidden: &Tensor, residual: Option<&Tensor>) -> candle_core::Result<Tensor> {
    match residual {
        Some(r) => hidden.to_dtype(r.dtype())? + r,
        None => Ok(hidden.clone()),
    }
}

/// A Caduceus network with its masked-LM head when the checkpoint has one.
#[derive(Debug, Clone)]
pub struct Caduceus {
    cfg: CaduceusConfig,
    /// The embedding table, `[V, 2 * d_model]` for RCPS (module docs).
    embedding: Embedding,
    layers: Vec<Block>,
    norm_f: AddNorm,
    /// `[V, width]` LM head weight, for RCPS `[W, flip_c(W[comp])]`.
    head: Option<Tensor>,
    device: Device,
}

impl Caduceus {
    /// Builds the model at the state-dict root: a `CaduceusForMaskedLM` checkpoint (keys
    /// under `caduceus.backbone.`, the head under `lm_head.`) or a bare backbone (keys under
    /// `backbone.`). Tied tensors saved once (the LM head, the reverse Mamba's in and out
    /// projections) are taken from the tensor they are tied to.
    pub fn new(cfg: &CaduceusConfig, vb: VarBuilder) -> Result<Self, ModelError> {
        let emb_key = if cfg.rcps { "embeddings.word_embeddings.embedding.weight" } else { "embeddings.word_embeddings.weight" };
        let masked_lm = vb.contains_tensor(&format!("caduceus.backbone.{emb_key}"));
        let backbone = if masked_lm { vb.pp("caduceus.backbone") } else { vb.pp("backbone") };
        let (rows, d) = (cfg.padded_vocab(), cfg.d_model);
        let table = backbone.get((rows, d), emb_key)?;
        let comp = cfg.complement().map_err(|message| ModelError::Config { file: "config.json".into(), message })?;
        let comp = Tensor::from_vec(comp, rows, vb.device())?;
        // [W, flip_c(W[comp])]: the RCPS embedding table and head weight alike.
        let rc_table = |w: &Tensor| -> candle_core::Result<Tensor> { Tensor::cat(&[w, &flip_c(&w.index_select(&comp, 0)?)?], 1) };
        let embedding = if cfg.rcps { Embedding::new(rc_table(&table)?, 2 * d) } else { Embedding::new(table.clone(), d) };
        let layers = (0..cfg.n_layer).map(|i| Block::new(cfg, backbone.pp("layers").pp(i))).collect::<Result<Vec<_>, _>>()?;
        let norm_vb = if cfg.rcps && !cfg.fused_add_norm { backbone.pp("norm_f.submodule") } else { backbone.pp("norm_f") };
        let norm_f = AddNorm::new(cfg, norm_vb)?;
        let head_key = if cfg.rcps { "lm_head.lm_head.weight" } else { "lm_head.weight" };
        let weight = if vb.contains_tensor(head_key) {
            Some(vb.get((rows, d), head_key)?)
        } else if masked_lm && (cfg.rcps || cfg.tie_word_embeddings) {
            Some(table)
        } else {
            None
        };
        let head = match weight {
            Some(w) if cfg.rcps => Some(rc_table(&w)?),
            other => other,
        };
        Ok(Self { cfg: cfg.clone(), embedding, layers, norm_f, head, device: vb.device().clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &CaduceusConfig {
        &self.cfg
    }

    /// The device of the weights.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the checkpoint has the masked-LM head.
    pub fn has_lm_head(&self) -> bool {
        self.head.is_some()
    }

    fn check(&self, ids: &Tensor) -> Result<(), ModelError> {
        let ids = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        let vocab = self.cfg.padded_vocab();
        for (row, r) in ids.iter().enumerate() {
            if let Some((position, &id)) = r.iter().enumerate().find(|(_, id)| **id as usize >= vocab) {
                return Err(ModelError::InvalidTokenId { id: id as i64, row, position, vocab });
            }
        }
        if ids.first().is_none_or(|r| r.is_empty()) {
            return Err(ModelError::EmptyInput { what: "a batch without tokens".into() });
        }
        Ok(())
    }

    /// The reference's `output_hidden_states` (the input of every layer: the embeddings,
    /// then each layer's mixer output before the residual add), then the final hidden
    /// states: `n_layer + 1` tensors `[B, T, width]` of `ids: [B, T]`.
    pub fn forward_all(&self, ids: &Tensor) -> Result<Vec<Tensor>, ModelError> {
        self.check(ids)?;
        let mut hidden = self.embedding.forward(&ids.to_dtype(DType::U32)?)?;
        let dtype = hidden.dtype();
        let mut residual: Option<Tensor> = None;
        let mut out = Vec::with_capacity(self.layers.len() + 1);
        for layer in &self.layers {
            let (next, res) = layer.forward(&hidden, residual.as_ref())?;
            out.push(hidden);
            hidden = next;
            residual = Some(res);
        }
        let h = add_residual(&hidden, residual.as_ref())?;
        out.push(self.norm_f.forward(&h, false, dtype)?);
        Ok(out)
    }

    /// The final hidden states `[B, T, width]` (`width` = `2 * d_model` for RCPS).
    pub fn forward_hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.forward_all(ids)?.pop().expect("at least the final norm"))
    }

    /// Masked-LM logits (float32) of hidden states `[..., width]`.
    pub fn logits_from_hidden(&self, hidden: &Tensor) -> Result<Tensor, ModelError> {
        let w = self.head.as_ref().ok_or(ModelError::NotSupported { family: "caduceus", what: "masked-LM head (lm_head) in its checkpoint" })?;
        Ok(hidden.broadcast_matmul(&w.t()?)?.to_dtype(DType::F32)?)
    }

    /// Masked-LM logits `[B, T, V]` (float32).
    pub fn forward_logits(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        let hidden = self.forward_hidden(ids)?;
        self.logits_from_hidden(&hidden)
    }
}
