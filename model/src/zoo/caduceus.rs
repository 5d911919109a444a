//! Caduceus in the zoo: the character tokenizer without special tokens (as the masked-LM
//! pre-training fed the model), bidirectional, reverse-complement equivariant for
//! Caduceus-PS (`rcps`) checkpoints, with a pseudo-log-likelihood from the masked-LM head.
//!
//! Caduceus is trained as a masked language model (the reference's pre-training runs the
//! hg38 loader with `mlm=true`, 15% of the bases), not causally, so the log-likelihood of
//! a sequence is the pseudo-log-likelihood: every base `t` in turn replaced by `[MASK]`,
//! `log p(x_t)` read at position `t`, summed over the sequence. One token is one base, so
//! masking the one token hides the base (unlike DNABERT's overlapping k-mers). One forward
//! pass per base, batched.
//!
//! The hidden states of a PS checkpoint have `2 * d_model` channels (the forward and the
//! reverse-complement halves), and that is the width the catalog records and `embed`
//! returns.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use super::hyena::log_prob;
use super::{FamilyEntry, FamilyFacts, GenomicModel, Pooling};
use crate::ModelError;
use crate::caduceus::{Caduceus, CaduceusConfig, CharTokenizer, MASK_ID};

/// The zoo entry.
pub(super) const ENTRY: FamilyEntry = FamilyEntry {
    name: "caduceus",
    recognise,
    facts,
    load,
    extra_files: &["tokenizer_config.json"],
};

const POOLINGS: &[Pooling] = &[Pooling::Mean, Pooling::Last];

/// Masked copies run per forward pass of the pseudo-log-likelihood, at most.
const PLL_ROWS: usize = 64;

fn recognise(config: &serde_json::Value) -> bool {
    let model_type = config.get("model_type").and_then(|v| v.as_str());
    let arch = config
        .get("architectures")
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("Caduceus"))));
    model_type.map_or(arch, |t| t == "caduceus")
}

fn facts_of(cfg: &CaduceusConfig, tok: &CharTokenizer, lm_head: bool) -> FamilyFacts {
    FamilyFacts {
        family: ENTRY.name,
        tokenizer: "char".into(),
        max_len: tok.max_len(),
        d_model: cfg.hidden_width(),
        bidirectional: cfg.bidirectional,
        rc_equivariant: cfg.rcps,
        lm_head,
        poolings: POOLINGS,
    }
}

fn facts(dir: &Path) -> Result<FamilyFacts, ModelError> {
    let cfg = CaduceusConfig::from_dir(dir)?;
    let tok = CharTokenizer::from_dir(dir)?;
    Ok(facts_of(&cfg, &tok, cfg.declares_lm_head()))
}

fn load(dir: &Path, device: &Device, dtype: DType) -> Result<Arc<dyn GenomicModel>, ModelError> {
    let cfg = CaduceusConfig::from_dir(dir)?;
    let tok = CharTokenizer::from_dir(dir)?;
    let weights = super::weights_file(dir)?;
    let vb = super::var_builder(&weights, device, dtype)?;
    let model = Caduceus::new(&cfg, vb).map_err(|e| match e {
        ModelError::Candle(source) => ModelError::Weights { file: weights.clone(), source },
        e => e,
    })?;
    let facts = facts_of(&cfg, &tok, model.has_lm_head());
    Ok(Arc::new(CaduceusZoo { model, tok, facts }))
}

/// A Caduceus checkpoint behind the zoo interface.
#[derive(Debug)]
pub struct CaduceusZoo {
    model: Caduceus,
    tok: CharTokenizer,
    facts: FamilyFacts,
}

impl CaduceusZoo {
    /// The network.
    pub fn model(&self) -> &Caduceus {
        &self.model
    }
}

impl GenomicModel for CaduceusZoo {
    fn facts(&self) -> &FamilyFacts {
        &self.facts
    }
    fn tokenize(&self, seq: &[u8]) -> Result<Vec<u32>, ModelError> {
        if seq.len() > self.tok.max_len() {
            return Err(ModelError::SequenceTooLong { len: seq.len(), l_max: self.tok.max_len() });
        }
        Ok(self.tok.tokenize(seq))
    }
    fn content(&self, tokens: usize) -> Range<usize> {
        0..tokens
    }
    fn hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        self.model.forward_hidden(ids)
    }
    fn loglik(&self, ids: &Tensor) -> Result<Vec<f64>, ModelError> {
        if !self.model.has_lm_head() {
            return Err(ModelError::NotSupported { family: ENTRY.name, what: "masked-LM head (lm_head) in its checkpoint" });
        }
        let (rows, len) = ids.dims2()?;
        let ids_host = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        // Every (row, masked position) pair, run PLL_ROWS at a time.
        let jobs: Vec<(usize, usize)> = (0..rows).flat_map(|r| (0..len).map(move |t| (r, t))).collect();
        let mut out = vec![0.0f64; rows];
        for chunk in jobs.chunks(PLL_ROWS) {
            let mut masked = Vec::with_capacity(chunk.len() * len);
            for &(r, t) in chunk {
                masked.extend(ids_host[r].iter().enumerate().map(|(i, &id)| if i == t { MASK_ID } else { id }));
            }
            let input = Tensor::from_vec(masked, (chunk.len(), len), ids.device())?;
            // The head runs only at the masked position of each copy.
            let hidden = self.model.forward_hidden(&input)?;
            let width = hidden.dim(2)?;
            let at: Vec<u32> = chunk.iter().enumerate().map(|(j, &(_, t))| (j * len + t) as u32).collect();
            let at = Tensor::from_vec(at, chunk.len(), ids.device())?;
            let picked = hidden.reshape((chunk.len() * len, width))?.index_select(&at, 0)?;
            let logits = self.model.logits_from_hidden(&picked)?;
            let vocab = logits.dim(1)?;
            let flat = logits.flatten_all()?.to_vec1::<f32>()?;
            for (j, &(r, t)) in chunk.iter().enumerate() {
                out[r] += log_prob(&flat[j * vocab..(j + 1) * vocab], ids_host[r][t] as usize);
            }
        }
        Ok(out)
    }
}
