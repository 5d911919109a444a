//! DNABERT in the zoo: k-mer tokens framed by `[CLS]`/`[SEP]`, bidirectional, with a
//! pseudo-log-likelihood from the masked-LM head.
//!
//! Pseudo-log-likelihood of a k-mer sequence: for every k-mer token `t`, the input has
//! token `t` **and every token that shares a base with it** (`t-k+1 ..= t+k-1`, within the
//! sequence) replaced by `[MASK]`, and `log p(x_t)` is read at position `t`; the sum over
//! all k-mers is the score. Masking only token `t` would leave its bases readable in the
//! overlapping neighbours (DNABERT pre-trained with contiguous spans of k masked tokens
//! for that reason). One forward pass per k-mer, batched.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use super::hyena::log_prob;
use super::{FamilyEntry, FamilyFacts, GenomicModel, Pooling};
use crate::ModelError;
use crate::bert::{Bert, BertConfig, KmerTokenizer};

/// The zoo entry.
pub(super) const ENTRY: FamilyEntry = FamilyEntry {
    name: "dnabert",
    recognise,
    facts,
    load,
    extra_files: &["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"],
};

const POOLINGS: &[Pooling] = &[Pooling::Mean, Pooling::Cls];

/// Masked copies run per forward pass of the pseudo-log-likelihood, at most.
const PLL_ROWS: usize = 64;

fn recognise(config: &serde_json::Value) -> bool {
    let model_type = config.get("model_type").and_then(|v| v.as_str());
    let bert_arch = config
        .get("architectures")
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("Bert"))));
    model_type.map_or(bert_arch, |t| t == "bert")
}

fn facts_of(cfg: &BertConfig, tok: &KmerTokenizer, lm_head: bool) -> FamilyFacts {
    FamilyFacts {
        family: ENTRY.name,
        tokenizer: format!("kmer{}", tok.k()),
        max_len: tok.max_bases(cfg.max_position_embeddings),
        d_model: cfg.hidden_size,
        bidirectional: true,
        rc_equivariant: false,
        lm_head,
        poolings: POOLINGS,
    }
}

fn facts(dir: &Path) -> Result<FamilyFacts, ModelError> {
    let cfg = BertConfig::from_dir(dir)?;
    let tok = KmerTokenizer::from_dir(dir)?;
    check_vocab(&cfg, &tok, dir)?;
    Ok(facts_of(&cfg, &tok, cfg.declares_lm_head()))
}

fn check_vocab(cfg: &BertConfig, tok: &KmerTokenizer, dir: &Path) -> Result<(), ModelError> {
    let ids = [tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id];
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= cfg.vocab_size) {
        return Err(ModelError::Config {
            file: dir.join("vocab.txt"),
            message: format!("token id {id} is outside the config's vocab_size {}", cfg.vocab_size),
        });
    }
    Ok(())
}

fn load(dir: &Path, device: &Device, dtype: DType) -> Result<Arc<dyn GenomicModel>, ModelError> {
    let cfg = BertConfig::from_dir(dir)?;
    let tok = KmerTokenizer::from_dir(dir)?;
    check_vocab(&cfg, &tok, dir)?;
    let weights = super::weights_file(dir)?;
    let vb = super::var_builder(&weights, device, dtype)?;
    let model = Bert::new(&cfg, vb).map_err(|source| ModelError::Weights { file: weights.clone(), source })?;
    let facts = facts_of(&cfg, &tok, model.has_lm_head());
    Ok(Arc::new(DnaBert { model, tok, facts }))
}

/// A DNABERT checkpoint behind the zoo interface.
#[derive(Debug)]
pub struct DnaBert {
    model: Bert,
    tok: KmerTokenizer,
    facts: FamilyFacts,
}

impl GenomicModel for DnaBert {
    fn facts(&self) -> &FamilyFacts {
        &self.facts
    }
    fn tokenize(&self, seq: &[u8]) -> Result<Vec<u32>, ModelError> {
        self.tok.tokenize(seq)
    }
    fn content(&self, tokens: usize) -> Range<usize> {
        1..tokens.saturating_sub(1).max(1)
    }
    fn hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        self.model.forward_hidden(ids, None)
    }
    fn loglik(&self, ids: &Tensor) -> Result<Vec<f64>, ModelError> {
        if !self.model.has_lm_head() {
            return Err(ModelError::NotSupported { family: ENTRY.name, what: "masked-LM head (cls.predictions) in its checkpoint" });
        }
        let (rows, len) = ids.dims2()?;
        let ids_host = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        let content = self.content(len);
        let k = self.tok.k();
        // Every (row, masked token) pair, run PLL_ROWS at a time.
        let jobs: Vec<(usize, usize)> = (0..rows).flat_map(|r| content.clone().map(move |t| (r, t))).collect();
        let mut out = vec![0.0f64; rows];
        for chunk in jobs.chunks(PLL_ROWS) {
            let mut masked = Vec::with_capacity(chunk.len() * len);
            for &(r, t) in chunk {
                let lo = t.saturating_sub(k - 1).max(content.start);
                let hi = (t + k).min(content.end);
                masked.extend(ids_host[r].iter().enumerate().map(|(i, &id)| if (lo..hi).contains(&i) { self.tok.mask_id } else { id }));
            }
            let input = Tensor::from_vec(masked, (chunk.len(), len), ids.device())?;
            // The head runs only at the masked position of each copy.
            let hidden = self.model.forward_hidden(&input, None)?;
            let width = hidden.dim(2)?;
            let at: Vec<u32> = chunk.iter().enumerate().map(|(j, &(_, t))| (j * len + t) as u32).collect();
            let at = Tensor::from_vec(at, chunk.len(), ids.device())?;
            let picked = hidden.reshape((chunk.len() * len, width))?.index_select(&at, 0)?;
            let logits = self.model.logits_from_hidden(&picked)?.to_dtype(DType::F32)?;
            let vocab = logits.dim(1)?;
            let flat = logits.flatten_all()?.to_vec1::<f32>()?;
            for (j, &(r, t)) in chunk.iter().enumerate() {
                out[r] += log_prob(&flat[j * vocab..(j + 1) * vocab], ids_host[r][t] as usize);
            }
        }
        Ok(out)
    }
}
