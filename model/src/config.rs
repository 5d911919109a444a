//! Model configuration: the HF-port `config.json` and the original LongSafari layout.

use std::path::Path;

use serde::Deserialize;

use crate::ModelError;

/// Shift added to the exponential decay window in the official inference code
/// (standalone file and HF port). The training code used 0.0; see ARCHITECTURE.md §5.
pub const DEFAULT_MODULATION_SHIFT: f64 = 0.05;

fn default_shift() -> f64 {
    DEFAULT_MODULATION_SHIFT
}
fn default_eps() -> f64 {
    1e-5
}
fn default_order() -> usize {
    2
}
fn default_short() -> usize {
    3
}
fn default_emb_dim() -> usize {
    5
}
fn default_filter_order() -> usize {
    64
}
fn default_inner_mlps() -> usize {
    2
}
fn default_freq() -> f64 {
    10.0
}
fn default_pad_multiple() -> usize {
    8
}
fn default_true() -> bool {
    true
}

/// HyenaDNA hyper-parameters, field names as in the HF-port `config.json`
/// (`LongSafari/*-seqlen-hf`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    /// Width of the residual stream `D`.
    pub d_model: usize,
    /// Number of Hyena blocks.
    pub n_layer: usize,
    /// MLP hidden width `I`.
    pub d_inner: usize,
    /// Tokenizer vocabulary size (12).
    pub vocab_size: usize,
    /// The embedding table has `vocab_size` rounded up to a multiple of this (16 rows).
    #[serde(default = "default_pad_multiple")]
    pub pad_vocab_size_multiple: usize,
    /// Positional feature width `E` of the implicit filter (5).
    #[serde(default = "default_emb_dim")]
    pub emb_dim: usize,
    /// Hidden width `F` of the implicit filter MLP (64).
    #[serde(default = "default_filter_order")]
    pub filter_order: usize,
    /// Width of the causal depthwise short convolution (3).
    #[serde(default = "default_short")]
    pub short_filter_order: usize,
    /// Hyena order (2 in every HyenaDNA checkpoint; the only one supported).
    #[serde(default = "default_order")]
    pub hyena_order: usize,
    /// Number of inner F→F layers in the filter MLP (2).
    #[serde(default = "default_inner_mlps")]
    pub num_inner_mlps: usize,
    /// Initial Sin frequency `w` (the trained value is loaded from the checkpoint).
    #[serde(default = "default_freq")]
    pub activation_freq: f64,
    /// LayerNorm epsilon (1e-5).
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// `l_max`: the positional grid length and the maximum input length.
    pub max_seq_len: usize,
    /// Whether the long convolution has the per-channel skip term `D` (always true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Shift of the exponential modulation window; not in checkpoint configs.
    /// 0.05 as in the official inference code, 0.0 as in the training code.
    #[serde(default = "default_shift")]
    pub modulation_shift: f64,
}

/// The original LongSafari (non `-hf`) config: Hyena settings nested under `layer`.
#[derive(Debug, Deserialize)]
struct OriginalConfig {
    d_model: usize,
    n_layer: usize,
    d_inner: usize,
    vocab_size: usize,
    #[serde(default = "default_pad_multiple")]
    pad_vocab_size_multiple: usize,
    layer: OriginalLayer,
}

#[derive(Debug, Deserialize)]
struct OriginalLayer {
    #[serde(default = "default_emb_dim")]
    emb_dim: usize,
    #[serde(default = "default_filter_order")]
    filter_order: usize,
    #[serde(default = "default_short")]
    local_order: usize,
    l_max: usize,
    #[serde(default = "default_true")]
    modulate: bool,
    #[serde(default = "default_freq")]
    w: f64,
    #[serde(default = "default_order")]
    order: usize,
}

impl Config {
    /// Number of embedding rows: `vocab_size` rounded up to `pad_vocab_size_multiple`.
    pub fn padded_vocab_size(&self) -> usize {
        let m = self.pad_vocab_size_multiple.max(1);
        self.vocab_size.div_ceil(m) * m
    }

    /// The maximum input length (`l_max`).
    pub fn l_max(&self) -> usize {
        self.max_seq_len
    }

    /// Parses either config layout (HF-port flat fields, or original with a `layer` dict).
    pub fn from_json_str(text: &str, file: &Path) -> Result<Self, ModelError> {
        let bad = |message: String| ModelError::Config { file: file.to_path_buf(), message };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let cfg = if value.get("layer").is_some() {
            let o: OriginalConfig = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            if !o.layer.modulate {
                return Err(ModelError::Unsupported {
                    field: "layer.modulate",
                    value: "false".into(),
                    reason: "every HyenaDNA checkpoint uses the exponential modulation",
                });
            }
            Config {
                d_model: o.d_model,
                n_layer: o.n_layer,
                d_inner: o.d_inner,
                vocab_size: o.vocab_size,
                pad_vocab_size_multiple: o.pad_vocab_size_multiple,
                emb_dim: o.layer.emb_dim,
                filter_order: o.layer.filter_order,
                short_filter_order: o.layer.local_order,
                hyena_order: o.layer.order,
                num_inner_mlps: default_inner_mlps(),
                activation_freq: o.layer.w,
                layer_norm_epsilon: default_eps(),
                max_seq_len: o.layer.l_max,
                use_bias: true,
                modulation_shift: default_shift(),
            }
        } else {
            serde_json::from_value(value).map_err(|e| bad(e.to_string()))?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a config file (either layout).
    pub fn from_file(file: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(file)
            .map_err(|source| ModelError::Io { path: file.to_path_buf(), source })?;
        Self::from_json_str(&text, file)
    }

    /// Reads `config.json` from a checkpoint directory, or `config_original.json` if absent.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let hf = dir.join("config.json");
        if hf.exists() {
            return Self::from_file(&hf);
        }
        let orig = dir.join("config_original.json");
        if orig.exists() {
            return Self::from_file(&orig);
        }
        Err(ModelError::Config { file: hf, message: "not found (nor config_original.json)".into() })
    }

    fn validate(&self) -> Result<(), ModelError> {
        let unsupported = |field, value: usize, reason| {
            Err(ModelError::Unsupported { field, value: value.to_string(), reason })
        };
        if self.hyena_order != 2 {
            return unsupported("hyena_order", self.hyena_order, "only order 2 (all HyenaDNA checkpoints)");
        }
        if self.short_filter_order == 0 {
            return unsupported("short_filter_order", 0, "must be at least 1");
        }
        if self.emb_dim < 3 || self.emb_dim % 2 == 0 {
            return unsupported("emb_dim", self.emb_dim, "must be odd and >= 3");
        }
        if self.max_seq_len < 2 {
            return unsupported("max_seq_len", self.max_seq_len, "must be at least 2");
        }
        if self.d_model == 0 || self.n_layer == 0 || self.d_inner == 0 {
            return unsupported("d_model/n_layer/d_inner", 0, "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/fixtures/hyenadna");

    #[test]
    fn both_layouts_give_the_same_config() {
        for name in ["micro", "tiny-1k"] {
            let dir = Path::new(DIR).join(name);
            let hf = Config::from_file(&dir.join("config.json")).unwrap();
            let orig = Config::from_file(&dir.join("config_original.json")).unwrap();
            assert_eq!(hf, orig, "{name}");
            assert_eq!(hf.padded_vocab_size(), 16);
            assert_eq!(hf.layer_norm_epsilon, 1e-5);
            assert_eq!(hf.modulation_shift, 0.05);
        }
        let tiny = Config::from_dir(&Path::new(DIR).join("tiny-1k")).unwrap();
        assert_eq!((tiny.d_model, tiny.n_layer, tiny.d_inner, tiny.max_seq_len), (128, 2, 512, 1026));
    }

    #[test]
    fn rejects_broken_configs_naming_the_file() {
        let err = Config::from_json_str("{\"d_model\": 3}", Path::new("x/config.json")).unwrap_err();
        assert!(err.to_string().contains("x/config.json"), "{err}");
        let err = Config::from_json_str(
            r#"{"d_model":8,"n_layer":1,"d_inner":8,"vocab_size":12,"max_seq_len":10,"hyena_order":3}"#,
            Path::new("c.json"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("hyena_order"), "{err}");
    }
}
