//! The BERT `config.json` (Hugging Face `BertConfig`) of DNABERT checkpoints.

use std::path::Path;

use serde::Deserialize;

use crate::ModelError;

fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_position_type() -> String {
    "absolute".into()
}

/// BERT hyper-parameters, field names as in Hugging Face `BertConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    /// Rows of the word embedding table (DNABERT-k: 4^k k-mers + 5 special tokens).
    pub vocab_size: usize,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (`hidden_size` must be a multiple).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Rows of the learned position table: the most tokens (with `[CLS]`/`[SEP]`) one input has.
    pub max_position_embeddings: usize,
    /// Rows of the token type table (2).
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Epsilon of every LayerNorm.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Activation of the feed-forward layer and the MLM head transform.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Only `absolute` positions are used by BERT/DNABERT checkpoints.
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
    /// Id of `[PAD]`.
    #[serde(default)]
    pub pad_token_id: usize,
    /// The Hugging Face classes the checkpoint was saved from (e.g. `BertForMaskedLM`).
    #[serde(default)]
    pub architectures: Vec<String>,
}

impl BertConfig {
    /// Whether the checkpoint was saved with the masked-LM head, as its `architectures`
    /// say (DNABERT's are `BertForMaskedLM`; no `architectures` counts as having it). The
    /// weights' key names decide when a model is loaded.
    pub fn declares_lm_head(&self) -> bool {
        self.architectures.is_empty() || self.architectures.iter().any(|a| a.contains("MaskedLM") || a.contains("PreTraining"))
    }
}

impl BertConfig {
    /// Parses and checks a config (the file is named in errors).
    pub fn from_json_str(text: &str, file: &Path) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Config { file: file.to_path_buf(), message };
        let cfg: BertConfig = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        if cfg.num_attention_heads == 0 || cfg.hidden_size % cfg.num_attention_heads != 0 {
            return Err(err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                cfg.hidden_size, cfg.num_attention_heads
            )));
        }
        if cfg.position_embedding_type != "absolute" {
            return Err(ModelError::Unsupported {
                field: "position_embedding_type",
                value: cfg.position_embedding_type.clone(),
                reason: "only absolute position embeddings (as in BERT and DNABERT) are implemented",
            });
        }
        crate::bert::model::Activation::parse(&cfg.hidden_act)?;
        if cfg.max_position_embeddings < 3 {
            return Err(err(format!("max_position_embeddings {} leaves no room for a sequence", cfg.max_position_embeddings)));
        }
        Ok(cfg)
    }

    /// Reads `config.json` of a checkpoint directory.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let file = dir.join("config.json");
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io { path: file.clone(), source })?;
        Self::from_json_str(&text, &file)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}
