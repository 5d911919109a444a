//! The Caduceus `config.json` (the reference's `CaduceusConfig`, a `MambaConfig` with the
//! bidirectional and reverse-complement settings).

use std::path::Path;

use serde::Deserialize;

use crate::ModelError;

fn default_true() -> bool {
    true
}
fn default_eps() -> f64 {
    1e-5
}
fn default_pad_multiple() -> usize {
    8
}
fn default_strategy() -> Option<String> {
    Some("add".into())
}
fn default_d_state() -> usize {
    16
}
fn default_d_conv() -> usize {
    4
}
fn default_expand() -> usize {
    2
}

/// `dt_rank`: `"auto"` (`ceil(d_model / 16)`) or a number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DtRank {
    /// A fixed rank.
    Fixed(usize),
    /// `"auto"`.
    Auto(String),
}

/// The Mamba settings (`ssm_cfg`, keyword arguments of the reference's `Mamba`), with its
/// defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SsmConfig {
    /// State size per channel (`N`).
    #[serde(default = "default_d_state")]
    pub d_state: usize,
    /// Width of the causal depthwise convolution.
    #[serde(default = "default_d_conv")]
    pub d_conv: usize,
    /// `d_inner = expand * d_model`.
    #[serde(default = "default_expand")]
    pub expand: usize,
    /// Rank of the `dt` projection.
    #[serde(default)]
    pub dt_rank: Option<DtRank>,
    /// Whether the convolution has a bias.
    #[serde(default = "default_true")]
    pub conv_bias: bool,
    /// Whether the in and out projections have biases.
    #[serde(default)]
    pub bias: bool,
}

impl Default for SsmConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

/// Caduceus hyper-parameters, field names as in the reference's `CaduceusConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CaduceusConfig {
    /// Width of the model (of each half of the hidden states for RC-equivariant configs).
    pub d_model: usize,
    /// Number of Mamba blocks.
    pub n_layer: usize,
    /// Rows of the embedding table before padding ([`CaduceusConfig::padded_vocab`]).
    pub vocab_size: usize,
    /// The Mamba settings (`null`: the defaults).
    #[serde(default)]
    pub ssm_cfg: Option<SsmConfig>,
    /// RMSNorm (true) or LayerNorm (false).
    #[serde(default = "default_true")]
    pub rms_norm: bool,
    /// Whether the residual stream is kept in float32.
    #[serde(default = "default_true")]
    pub residual_in_fp32: bool,
    /// Whether blocks use the fused add + norm (changes the RC-equivariant blocks, see the
    /// module docs of `model.rs`).
    #[serde(default = "default_true")]
    pub fused_add_norm: bool,
    /// The vocabulary is padded to a multiple of this.
    #[serde(default = "default_pad_multiple")]
    pub pad_vocab_size_multiple: usize,
    /// Epsilon of every norm.
    #[serde(default = "default_eps")]
    pub norm_epsilon: f64,
    /// Whether each block runs a reverse-direction Mamba too.
    #[serde(default = "default_true")]
    pub bidirectional: bool,
    /// How the two directions combine: `add` (default, also for `null`) or `ew_multiply`.
    #[serde(default = "default_strategy")]
    pub bidirectional_strategy: Option<String>,
    /// Whether the reverse Mamba shares the forward one's in and out projections.
    #[serde(default = "default_true")]
    pub bidirectional_weight_tie: bool,
    /// Reverse-complement parameter sharing (Caduceus-PS).
    #[serde(default)]
    pub rcps: bool,
    /// Token id to the id of its complement (JSON object keyed by the id as a string).
    #[serde(default)]
    pub complement_map: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether a non-RCPS LM head without its own weight uses the embeddings (the
    /// transformers default).
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    /// The classes the checkpoint was saved from (e.g. `CaduceusForMaskedLM`).
    #[serde(default)]
    pub architectures: Vec<String>,
}

/// How a bidirectional block combines its two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `out_fwd + out_rev`.
    Add,
    /// `out_fwd * out_rev`.
    Multiply,
}

impl CaduceusConfig {
    /// Parses and checks a config (the file is named in errors).
    pub fn from_json_str(text: &str, file: &Path) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Config { file: file.to_path_buf(), message };
        let cfg: CaduceusConfig = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        if cfg.d_model == 0 || cfg.vocab_size == 0 || cfg.pad_vocab_size_multiple == 0 {
            return Err(err("d_model, vocab_size and pad_vocab_size_multiple must be positive".into()));
        }
        let ssm = cfg.ssm();
        if ssm.d_state == 0 || ssm.d_conv == 0 || ssm.expand == 0 || cfg.dt_rank() == 0 {
            return Err(err("ssm_cfg: d_state, d_conv, expand and dt_rank must be positive".into()));
        }
        if let Some(DtRank::Auto(s)) = &ssm.dt_rank {
            if s != "auto" {
                return Err(ModelError::Unsupported { field: "ssm_cfg.dt_rank", value: s.clone(), reason: "a number or \"auto\"" });
            }
        }
        cfg.strategy()?;
        if cfg.rcps {
            if cfg.complement_map.is_none() {
                return Err(err("rcps needs a complement_map".into()));
            }
            cfg.complement().map_err(err)?;
        }
        if cfg.n_layer == 0 {
            return Err(err("n_layer must be positive".into()));
        }
        Ok(cfg)
    }

    /// Reads `config.json` of a checkpoint directory.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let file = dir.join("config.json");
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io { path: file.clone(), source })?;
        Self::from_json_str(&text, &file)
    }

    /// The Mamba settings.
    pub fn ssm(&self) -> SsmConfig {
        self.ssm_cfg.clone().unwrap_or_default()
    }

    /// Width of a Mamba's inner channels.
    pub fn d_inner(&self) -> usize {
        self.ssm().expand * self.d_model
    }

    /// Rank of the `dt` projection.
    pub fn dt_rank(&self) -> usize {
        match self.ssm().dt_rank {
            Some(DtRank::Fixed(r)) => r,
            _ => self.d_model.div_ceil(16),
        }
    }

    /// The combination of the two directions.
    pub fn strategy(&self) -> Result<Strategy, ModelError> {
        match self.bidirectional_strategy.as_deref() {
            None | Some("add") => Ok(Strategy::Add),
            Some("ew_multiply") => Ok(Strategy::Multiply),
            Some(other) if self.bidirectional => Err(ModelError::Unsupported {
                field: "bidirectional_strategy",
                value: other.to_string(),
                reason: "the reference implements add and ew_multiply",
            }),
            Some(_) => Ok(Strategy::Add),
        }
    }

    /// Rows of the embedding table: `vocab_size` rounded up to `pad_vocab_size_multiple`,
    /// as the reference's `Caduceus.__init__` pads it.
    pub fn padded_vocab(&self) -> usize {
        self.vocab_size.div_ceil(self.pad_vocab_size_multiple) * self.pad_vocab_size_multiple
    }

    /// Width of the hidden states: `2 * d_model` for RC-equivariant configs.
    pub fn hidden_width(&self) -> usize {
        if self.rcps { 2 * self.d_model } else { self.d_model }
    }

    /// The complement of every token id of the padded vocabulary: the config's map
    /// (keys `0..n`), extended by the identity as the reference extends it; the identity
    /// without a map.
    pub fn complement(&self) -> Result<Vec<u32>, String> {
        let rows = self.padded_vocab();
        let mut map: Vec<u32> = (0..rows as u32).collect();
        if let Some(m) = &self.complement_map {
            for (k, v) in m {
                let key: usize = k.parse().map_err(|_| format!("complement_map key {k:?} is not a token id"))?;
                let val = v.as_u64().ok_or_else(|| format!("complement_map[{k}] = {v} is not a token id"))? as usize;
                if key >= rows || val >= rows {
                    return Err(format!("complement_map {key} -> {val} is outside the {rows} vocabulary rows"));
                }
                map[key] = val as u32;
            }
            if m.len() > rows || !(0..m.len()).all(|i| m.contains_key(&i.to_string())) {
                return Err(format!("complement_map keys must be the token ids 0..{} (at most {rows})", m.len()));
            }
        }
        Ok(map)
    }

    /// Whether the checkpoint was saved with the masked-LM head, as its `architectures`
    /// say (no `architectures` counts as having it); the weights decide on loading.
    pub fn declares_lm_head(&self) -> bool {
        self.architectures.is_empty() || self.architectures.iter().any(|a| a.contains("MaskedLM"))
    }
}
