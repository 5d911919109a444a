//! Inference for a saved omics model: the backbone through the fused HyenaDNA kernels,
//! pooling ([`super::Pooling`]) and the head; optional reverse-complement averaging.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::bins::{BinLayout, aggregate, pool_features};
use super::impute::ImputeBranch;
use super::spec::OmicsSpec;
use super::stem::ConvStem;
use crate::{Config, HyenaDna, ModelError};

/// The head of a saved omics model (`head.weight` `[T, W]` for the pooled width W,
/// `head.bias` `[T]`) with its
/// spec; runs on the final hidden states of any backbone of width `D`.
#[derive(Debug)]
pub struct OmicsHead {
    weight: Tensor,
    bias: Tensor,
    /// The convolutional stem, when the spec has one.
    stem: Option<ConvStem>,
    /// Per-bin outputs, when the spec has them, with the tracks' peak mask.
    bins: Option<(BinLayout, Vec<bool>)>,
    /// The observed-values network, when the spec has imputation.
    impute: Option<ImputeBranch>,
    /// What the outputs are.
    pub spec: OmicsSpec,
}

/// A loaded omics model ready for inference.
#[derive(Debug)]
pub struct OmicsPredictor {
    /// The backbone.
    pub backbone: HyenaDna,
    /// The head.
    pub head: OmicsHead,
}

impl OmicsHead {
    /// Reads the head tensors from a weights file and checks them against `spec` and `d_model`.
    pub fn load(weights: &Path, spec: OmicsSpec, d_model: usize, device: &Device) -> Result<Self, ModelError> {
        let wrap = |source| ModelError::Weights { file: weights.to_path_buf(), source };
        let tensors = candle_core::safetensors::load(weights, device).map_err(wrap)?;
        let get = |key: &str| {
            tensors.get(key).cloned().ok_or_else(|| ModelError::MissingTensor {
                file: weights.to_path_buf(),
                key: key.into(),
                prefixes: "(none)".into(),
            })
        };
        let weight = get("head.weight")?.to_dtype(DType::F32)?;
        let bias = get("head.bias")?.to_dtype(DType::F32)?;
        let (rows, d) = weight.dims2()?;
        let width = spec.pooling.width(d_model);
        if rows != spec.tracks.len() || d != width {
            return Err(ModelError::BadShape {
                what: "head.weight".into(),
                expected: format!("[{} tracks, {width} ({:?} pooling of d_model {d_model})]", spec.tracks.len(), spec.pooling),
                got: vec![rows, d],
            });
        }
        let stem = match spec.stem {
            Some(stem_spec) => {
                let load = |key: &str| get(key)?.to_dtype(DType::F32).map_err(ModelError::from);
                let stem = ConvStem::new(
                    (load("stem.conv.weight")?, load("stem.conv.bias")?),
                    (load("stem.proj.weight")?, load("stem.proj.bias")?),
                    stem_spec,
                )?;
                if stem.out_dim() != d_model {
                    return Err(ModelError::BadShape {
                        what: "stem.proj.weight".into(),
                        expected: format!("[{d_model}, {}]", stem_spec.channels),
                        got: vec![stem.out_dim(), stem_spec.channels],
                    });
                }
                Some(stem)
            }
            None => None,
        };
        let bins = spec
            .bin_layout()
            .map_err(|message| ModelError::Config { file: weights.to_path_buf(), message })?
            .map(|layout| (layout, spec.peak_mask()));
        let impute = match spec.impute {
            Some(imp) => {
                let mut named = std::collections::HashMap::new();
                for key in ["impute.fc1.weight", "impute.fc1.bias", "impute.fc2.weight", "impute.fc2.bias"] {
                    named.insert(key.to_string(), get(key)?.to_dtype(DType::F32)?);
                }
                let vb = candle_nn::VarBuilder::from_tensors(named, DType::F32, device);
                let branch = ImputeBranch::new(spec.tracks.len(), imp.hidden, width, vb.pp("impute")).map_err(|e| {
                    ModelError::BadShape {
                        what: format!("impute.* ({e})"),
                        expected: format!("fc1 [{}, {}], fc2 [{width}, {}]", imp.hidden, 2 * spec.tracks.len(), imp.hidden),
                        got: vec![],
                    }
                })?;
                Some(branch)
            }
            None => None,
        };
        Ok(Self { weight, bias, stem, bins, impute, spec })
    }

    /// Pooled features of ids `[B, L]` through `backbone`: `[B, W]`, or `[B, bins, W]`
    /// with per-bin outputs.
    pub fn features(&self, backbone: &HyenaDna, ids: &Tensor) -> Result<Tensor, ModelError> {
        let hidden = match &self.stem {
            Some(stem) => backbone.forward_hidden_embedded(&stem.forward(ids)?)?,
            None => backbone.forward_hidden(ids)?,
        }
        .to_dtype(DType::F32)?;
        Ok(pool_features(self.bins.as_ref().map(|(l, _)| l), &hidden, self.spec.pooling)?)
    }

    /// Raw window outputs `[B, T]` of pooled features ([`Self::features`]) with observed
    /// values `[B, 2T]` ([`super::impute::observed_input`]; `None`: nothing observed;
    /// ignored by a model without imputation).
    pub fn outputs(&self, features: &Tensor, observed: Option<&Tensor>) -> Result<Tensor, ModelError> {
        let features = match &self.impute {
            Some(branch) => branch.add_to(features, observed)?,
            None => features.clone(),
        };
        match &self.bins {
            Some((_, peaks)) => {
                let bins = features.broadcast_matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?;
                Ok(aggregate(&bins, peaks)?)
            }
            None => Ok(features.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?),
        }
    }

    /// Raw outputs `[B, T]` for ids `[B, L]` through `backbone`: pooled final hidden
    /// states, then the head (per bin and aggregated, with bins); averaged with the reverse complement when `rc_average`.
    pub fn forward_raw(&self, backbone: &HyenaDna, ids: &Tensor, rc_average: bool) -> Result<Tensor, ModelError> {
        self.forward_raw_observed(backbone, ids, None, rc_average)
    }

    /// [`Self::forward_raw`] with observed values `[B, 2T]` (the same for both strands).
    pub fn forward_raw_observed(
        &self,
        backbone: &HyenaDna,
        ids: &Tensor,
        observed: Option<&Tensor>,
        rc_average: bool,
    ) -> Result<Tensor, ModelError> {
        let fwd = self.features(backbone, ids)?;
        let rev = match rc_average {
            true => Some(self.features(backbone, &reverse_complement_ids(ids)?)?),
            false => None,
        };
        self.outputs_averaged(&fwd, rev.as_ref(), observed)
    }

    /// [`Self::outputs`] of forward-strand features, averaged with those of the reverse
    /// complement's features when given (the same observed values for both strands).
    pub fn outputs_averaged(&self, fwd: &Tensor, rev: Option<&Tensor>, observed: Option<&Tensor>) -> Result<Tensor, ModelError> {
        let out = self.outputs(fwd, observed)?;
        match rev {
            Some(rev) => Ok(((out + self.outputs(rev, observed)?)? * 0.5)?),
            None => Ok(out),
        }
    }

    /// Per row, every track's prediction in the track's units
    /// ([`OmicsSpec::decode_output`]), reverse-complement averaged if the spec says so.
    pub fn predict(&self, backbone: &HyenaDna, ids: &Tensor) -> Result<Vec<Vec<f32>>, ModelError> {
        self.predict_observed(backbone, ids, None)
    }

    /// [`Self::predict`] with observed values `[B, 2T]`.
    pub fn predict_observed(&self, backbone: &HyenaDna, ids: &Tensor, observed: Option<&Tensor>) -> Result<Vec<Vec<f32>>, ModelError> {
        let raw = self.forward_raw_observed(backbone, ids, observed, self.spec.rc_average)?.to_vec2::<f32>()?;
        Ok(raw
            .into_iter()
            .map(|row| row.iter().enumerate().map(|(t, &v)| self.spec.decode_output(t, v)).collect())
            .collect())
    }
}

/// Token-level reverse complement of ids `[B, L]` (A↔T, C↔G, others unchanged).
pub fn reverse_complement_ids(ids: &Tensor) -> candle_core::Result<Tensor> {
    let (b, l) = ids.dims2()?;
    let rows = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    let mut out = Vec::with_capacity(b * l);
    for row in rows {
        out.extend(row.iter().rev().map(|&t| complement_id(t)));
    }
    Tensor::from_vec(out, (b, l), ids.device())
}

/// The complement of a token id (A↔T, C↔G, others unchanged).
pub fn complement_id(id: u32) -> u32 {
    match id {
        7 => 10,
        10 => 7,
        8 => 9,
        9 => 8,
        other => other,
    }
}

impl OmicsPredictor {
    /// Loads `config.json` (with its `"omics"` object) and `model.safetensors` from a
    /// model directory.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, ModelError> {
        let file = dir.join("config.json");
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io { path: file.clone(), source })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ModelError::Config { file: file.clone(), message: e.to_string() })?;
        let spec = OmicsSpec::from_config_json(&value, &file)?;
        let cfg = Config::from_json_str(&text, &file)?;
        let weights = dir.join("model.safetensors");
        let backbone = HyenaDna::load_weights(&cfg, &weights, device, DType::F32)?;
        Self::with_backbone(backbone, &weights, spec)
    }

    /// Wraps an already loaded backbone; reads the head from `weights`.
    pub fn with_backbone(backbone: HyenaDna, weights: &Path, spec: OmicsSpec) -> Result<Self, ModelError> {
        let head = OmicsHead::load(weights, spec, backbone.config().d_model, &backbone.device().clone())?;
        Ok(Self { backbone, head })
    }

    /// Raw head outputs `[B, T]` for ids `[B, L]`.
    pub fn forward_raw(&self, ids: &Tensor, rc_average: bool) -> Result<Tensor, ModelError> {
        self.head.forward_raw(&self.backbone, ids, rc_average)
    }

    /// Per row, every track's prediction in the track's units.
    pub fn predict(&self, ids: &Tensor) -> Result<Vec<Vec<f32>>, ModelError> {
        self.head.predict(&self.backbone, ids)
    }
}
