//! The HyenaDNA backbone with its causal LM head, and checkpoint loading.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, Module, VarBuilder, embedding, layer_norm};

use super::block::{Block, BlockTrace};
use crate::{Config, ModelError};

/// Weight files looked for in a checkpoint directory, in this order.
pub const WEIGHT_FILES: [&str; 3] = ["model.safetensors", "model.hf_dedup.safetensors", "pytorch_model.bin"];

/// Key prefixes of the backbone: HF port (`HyenaDNAForCausalLM`), standalone
/// `HyenaDNAModel`, original Lightning `weights.ckpt`.
const BACKBONE_PREFIXES: [&str; 3] = ["hyena.backbone", "backbone", "model.backbone"];

/// Outputs of every stage of a forward pass (for parity tests and inspection).
#[derive(Debug)]
pub struct ForwardTrace {
    /// Word-embedding lookup = residual stream before block 0, `[B, L, D]`.
    pub embeddings: Tensor,
    /// Per block: intermediates and the residual stream after it (HF `hidden_states[l+1]`).
    pub blocks: Vec<BlockTrace>,
    /// Backbone output after `ln_f`, `[B, L, D]`.
    pub last_hidden_state: Tensor,
}

/// HyenaDNA backbone and causal LM head.
#[derive(Debug)]
pub struct HyenaDna {
    pub(crate) cfg: Config,
    pub(crate) embeddings: Embedding,
    pub(crate) layers: Vec<Block>,
    pub(crate) ln_f: LayerNorm,
    /// `ln_f` as the inference op for CPU f32.
    ln_f_rows: Option<crate::hyena::RowLayerNorm>,
    lm_head: Linear,
    device: Device,
}

impl HyenaDna {
    /// Builds the model from a `VarBuilder` at the state dict root, whichever key layout it
    /// uses (HF port, standalone or Lightning). Without `lm_head.weight` the head is tied to
    /// the word embeddings, as in pretraining.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let prefix = BACKBONE_PREFIXES
            .iter()
            .find(|p| vb.contains_tensor(&format!("{p}.embeddings.word_embeddings.weight")))
            .copied()
            .unwrap_or(BACKBONE_PREFIXES[0]);
        let backbone = vb.pp(prefix);
        let rows = cfg.padded_vocab_size();
        let embeddings = embedding(rows, cfg.d_model, backbone.pp("embeddings.word_embeddings"))?;
        let layers = (0..cfg.n_layer)
            .map(|l| Block::new(cfg, backbone.pp("layers").pp(l)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let ln_f = layer_norm(cfg.d_model, cfg.layer_norm_epsilon, backbone.pp("ln_f"))?;
        let head = if vb.contains_tensor("lm_head.weight") {
            vb.get((rows, cfg.d_model), "lm_head.weight")?
        } else {
            embeddings.embeddings().clone()
        };
        Ok(Self {
            cfg: cfg.clone(),
            embeddings,
            layers,
            ln_f_rows: crate::hyena::RowLayerNorm::of(&ln_f),
            ln_f,
            lm_head: Linear::new(head, None),
            device: vb.device().clone(),
        })
    }

    /// Loads a checkpoint directory: `config.json` (or `config_original.json`) and the first
    /// of [`WEIGHT_FILES`] present. Never downloads.
    pub fn load(dir: &Path, device: &Device, dtype: DType) -> Result<Self, ModelError> {
        let cfg = Config::from_dir(dir)?;
        let weights = WEIGHT_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .ok_or_else(|| ModelError::MissingWeights { dir: dir.to_path_buf() })?;
        Self::load_weights(&cfg, &weights, device, dtype)
    }

    /// Loads one weights file (`.safetensors`, or a PyTorch pickle `.bin`/`.pt`/`.ckpt`)
    /// for a given config.
    pub fn load_weights(cfg: &Config, weights: &Path, device: &Device, dtype: DType) -> Result<Self, ModelError> {
        let file = weights.to_path_buf();
        let wrap = |source| ModelError::Weights { file: file.clone(), source };
        let is_safetensors = weights.extension().is_some_and(|e| e == "safetensors");
        let vb = if is_safetensors {
            // SAFETY: the file is memory-mapped read-only; omicsdb never writes checkpoint files
            // while a model is loaded from them.
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], dtype, device) }.map_err(wrap)?
        } else {
            VarBuilder::from_pth(weights, dtype, device).map_err(wrap)?
        };
        let has_backbone = BACKBONE_PREFIXES
            .iter()
            .any(|p| vb.contains_tensor(&format!("{p}.embeddings.word_embeddings.weight")));
        if !has_backbone {
            return Err(ModelError::MissingTensor {
                file: PathBuf::from(weights),
                key: "embeddings.word_embeddings.weight".into(),
                prefixes: BACKBONE_PREFIXES.join(", "),
            });
        }
        Self::new(cfg, vb).map_err(wrap)
    }

    /// A model of the config's shape with seeded **random** weights and the deterministic
    /// filter buffers (see [`super::init::random_state_dict`]); for benchmarks and tests.
    pub fn random(cfg: &Config, seed: u64, device: &Device) -> Result<Self, ModelError> {
        let tensors = super::init::random_state_dict(cfg, seed, device)?;
        Ok(Self::new(cfg, VarBuilder::from_tensors(tensors, DType::F32, device))?)
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The blocks, in order.
    pub fn layers(&self) -> &[Block] {
        &self.layers
    }

    /// Checks `ids: [B, L]` (integer dtype): `0 < L <= l_max` and every id inside the
    /// embedding table; returns them as u32.
    fn checked_ids(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        let dims = ids.dims();
        let [b, len] = dims else {
            return Err(ModelError::BadShape { what: "ids".into(), expected: "[batch, length]".into(), got: dims.to_vec() });
        };
        if !matches!(ids.dtype(), DType::U8 | DType::U32 | DType::I64) {
            return Err(ModelError::BadShape {
                what: format!("ids of dtype {:?}", ids.dtype()),
                expected: "an integer dtype (u8, u32, i64)".into(),
                got: dims.to_vec(),
            });
        }
        if *b == 0 || *len == 0 {
            return Err(ModelError::EmptyInput { what: format!("ids of shape {dims:?}") });
        }
        if *len > self.cfg.max_seq_len {
            return Err(ModelError::SequenceTooLong { len: *len, l_max: self.cfg.max_seq_len });
        }
        let vocab = self.cfg.padded_vocab_size();
        let values = ids.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?;
        if let Some((i, &id)) = values.iter().enumerate().find(|(_, id)| **id < 0 || **id >= vocab as i64) {
            return Err(ModelError::InvalidTokenId { id, row: i / len, position: i % len, vocab });
        }
        Ok(ids.to_dtype(DType::U32)?)
    }

    /// Final hidden states after `ln_f`, `[B, L, D]`, for token ids `[B, L]`.
    ///
    /// Rows of a batch must have the same length; the reference pads on the left with
    /// `[PAD]` and has no mask (see [`crate::tokenizer::pad_left`]).
    pub fn forward_hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        let ids = self.checked_ids(ids)?;
        self.backbone(&self.embeddings.forward(&ids)?)
    }

    /// The blocks and `ln_f` over the residual stream `r: [B, L, D]`. On CPU in f32 a
    /// batch of at least one sequence per thread is split over the threads, each running
    /// its slice single-threaded ([`crate::threads::split_batch`]); every sequence's
    /// computation is the same either way.
    fn backbone(&self, r: &Tensor) -> Result<Tensor, ModelError> {
        let run = |r: Tensor| -> candle_core::Result<Tensor> {
            let r = self.layers.iter().try_fold(r, |r, layer| layer.forward(&r))?;
            match &self.ln_f_rows {
                Some(norm) if norm.applies(&r) => r.contiguous()?.apply_op1_no_bwd(norm),
                _ => self.ln_f.forward(&r),
            }
        };
        if !(r.device().is_cpu() && r.dtype() == DType::F32) {
            return Ok(run(r.clone())?);
        }
        let parts = crate::threads::split_batch(r.dim(0)?, |rows| run(r.narrow(0, rows.start, rows.len())?))?;
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Final hidden states after `ln_f`, `[B, L, D]`, for input features `[B, L, D]`
    /// that replace the token embeddings (e.g. an omics model's convolutional stem).
    pub fn forward_hidden_embedded(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let (_, len, d) = x.dims3()?;
        if d != self.cfg.d_model {
            return Err(ModelError::BadShape {
                what: "input features".into(),
                expected: format!("[batch, length, {}]", self.cfg.d_model),
                got: x.dims().to_vec(),
            });
        }
        if len > self.cfg.max_seq_len {
            return Err(ModelError::SequenceTooLong { len, l_max: self.cfg.max_seq_len });
        }
        self.backbone(&x.to_dtype(self.embeddings.embeddings().dtype())?)
    }

    /// LM logits `[B, L, vocab rows]` (16): position `t` scores token `t + 1`.
    pub fn forward_logits(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        let hidden = self.forward_hidden(ids)?;
        Ok(self.lm_head.forward(&hidden)?)
    }

    /// LM logits from final hidden states `[B, L, D]`.
    pub fn logits_from_hidden(&self, hidden: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.lm_head.forward(hidden)?)
    }

    /// Forward pass keeping every intermediate (embeddings, each block's internals and
    /// output, final hidden states). `train` recomputes the filters through autograd.
    pub fn forward_trace(&self, ids: &Tensor, train: bool) -> Result<ForwardTrace, ModelError> {
        let ids = self.checked_ids(ids)?;
        let embeddings = self.embeddings.forward(&ids)?;
        let mut r = embeddings.clone();
        let mut blocks = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let trace = layer.forward_trace(&r, train)?;
            r = trace.out.clone();
            blocks.push(trace);
        }
        let last_hidden_state = self.ln_f.forward(&r)?;
        Ok(ForwardTrace { embeddings, blocks, last_hidden_state })
    }
}
