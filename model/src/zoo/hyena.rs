//! HyenaDNA in the zoo: the character tokenizer without special tokens (as the HyenaDNA
//! data loaders feed the model), causal, with its LM head.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use super::{FamilyEntry, FamilyFacts, GenomicModel, Pooling};
use crate::{Config, HyenaDna, ModelError};

/// The zoo entry.
pub(super) const ENTRY: FamilyEntry = FamilyEntry {
    name: "hyenadna",
    recognise,
    facts,
    load,
    extra_files: &[],
};

const POOLINGS: &[Pooling] = &[Pooling::Mean, Pooling::Last];

fn recognise(config: &serde_json::Value) -> bool {
    let model_type = config.get("model_type").and_then(|v| v.as_str());
    if let Some(t) = model_type {
        return t.eq_ignore_ascii_case("hyenadna");
    }
    // The original LongSafari layout: no model_type, the operator settings under `layer`.
    let has = |k: &str| config.get(k).is_some_and(|v| v.is_u64());
    has("d_model") && has("n_layer") && (config.get("layer").is_some_and(|l| l.get("l_max").is_some()) || has("max_seq_len"))
}

fn facts_of(cfg: &Config) -> FamilyFacts {
    FamilyFacts {
        family: ENTRY.name,
        tokenizer: "char".into(),
        max_len: cfg.l_max(),
        d_model: cfg.d_model,
        bidirectional: false,
        rc_equivariant: false,
        lm_head: true,
        poolings: POOLINGS,
    }
}

fn facts(dir: &Path) -> Result<FamilyFacts, ModelError> {
    Ok(facts_of(&Config::from_dir(dir)?))
}

fn load(dir: &Path, device: &Device, dtype: DType) -> Result<Arc<dyn GenomicModel>, ModelError> {
    Ok(Arc::new(HyenaZoo::new(HyenaDna::load(dir, device, dtype)?)))
}

/// A HyenaDNA network behind the zoo interface.
#[derive(Debug)]
pub struct HyenaZoo {
    model: HyenaDna,
    facts: FamilyFacts,
}

impl HyenaZoo {
    /// Wraps a loaded network.
    pub fn new(model: HyenaDna) -> Self {
        let facts = facts_of(model.config());
        Self { model, facts }
    }
}

/// `sum_{t=1}^{L-1} log softmax(logits_{t-1})[x_t]` per row of causal-LM logits `[B, L, V]`:
/// every token but the first, given the tokens before it (no token predicts the first, as
/// the HyenaDNA loaders add no `[BOS]`). The softmax runs over all rows of the head.
pub fn causal_loglik(logits: &Tensor, ids: &Tensor) -> candle_core::Result<Vec<f64>> {
    let (b, l, v) = logits.dims3()?;
    let logits = logits.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let ids = ids.to_dtype(DType::U32)?.flatten_all()?.to_vec1::<u32>()?;
    Ok((0..b)
        .map(|row| {
            (1..l)
                .map(|t| {
                    let scores = &logits[(row * l + t - 1) * v..(row * l + t) * v];
                    log_prob(scores, ids[row * l + t] as usize)
                })
                .sum()
        })
        .collect())
}

/// `log softmax(scores)[target]` in f64.
pub(crate) fn log_prob(scores: &[f32], target: usize) -> f64 {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)) as f64;
    let lse = max + scores.iter().map(|&s| (s as f64 - max).exp()).sum::<f64>().ln();
    scores[target] as f64 - lse
}

impl GenomicModel for HyenaZoo {
    fn facts(&self) -> &FamilyFacts {
        &self.facts
    }
    fn tokenize(&self, seq: &[u8]) -> Result<Vec<u32>, ModelError> {
        crate::tokenize(seq)
    }
    fn content(&self, tokens: usize) -> Range<usize> {
        0..tokens
    }
    fn hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        self.model.forward_hidden(ids)
    }
    fn loglik(&self, ids: &Tensor) -> Result<Vec<f64>, ModelError> {
        let logits = self.model.forward_logits(ids)?;
        Ok(causal_loglik(&logits, ids)?)
    }
    fn as_hyena(&self) -> Option<&HyenaDna> {
        Some(&self.model)
    }
}
