//! The model zoo: one interface ([`GenomicModel`]) over every genomic language model
//! family omicsdb runs, and the table of families ([`FAMILIES`]) that import and loading
//! consult.
//!
//! A family is one module under `zoo/` that provides a [`FamilyEntry`]: how to recognise
//! its `config.json`, the facts the catalog records ([`FamilyFacts`]), and how to load a
//! checkpoint directory as a [`GenomicModel`]. Adding a family is that module plus one
//! line in [`FAMILIES`].
//!
//! What the interface promises, per input row of `ids: [B, T]` (every row of one call has
//! the same length, so no padding ever enters a result):
//! * [`GenomicModel::tokenize`]: the family's tokenizer, with the special tokens its
//!   reference pipeline adds; [`GenomicModel::content`] says which token positions hold
//!   the sequence (pooling and log-likelihoods skip the others);
//! * [`GenomicModel::hidden`]: the final hidden states `[B, T, d_model]`;
//! * [`GenomicModel::loglik`]: natural-log likelihood of each row, where the family has
//!   an LM head: causal families sum `log p(x_t | x_<t)`; masked families sum a
//!   pseudo-log-likelihood (each position masked in turn, batched).

use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use crate::{HyenaDna, ModelError};

mod bert;
mod caduceus;
mod hyena;

pub use bert::DnaBert;
pub use caduceus::CaduceusZoo;
pub use hyena::{HyenaZoo, causal_loglik};

/// How per-token hidden states become one vector per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// Mean over the sequence's token positions ([`GenomicModel::content`]), special tokens excluded.
    Mean,
    /// The last sequence token (for causal models: the one that has seen the whole sequence).
    Last,
    /// The `[CLS]` token (BERT-style models).
    Cls,
}

impl Pooling {
    /// Parses `mean`, `last` or `cls` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "mean" => Some(Self::Mean),
            "last" => Some(Self::Last),
            "cls" => Some(Self::Cls),
            _ => None,
        }
    }

    /// The SQL spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Last => "last",
            Self::Cls => "cls",
        }
    }
}

/// What the catalog records of a checkpoint, known from its config and tokenizer files
/// without loading weights.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyFacts {
    /// The family name ([`FamilyEntry::name`]): `hyenadna`, `dnabert`, ...
    pub family: &'static str,
    /// The tokenizer, e.g. `char` or `kmer6`.
    pub tokenizer: String,
    /// Most bases one input may have.
    pub max_len: usize,
    /// Width of the hidden states.
    pub d_model: usize,
    /// Whether a token's state depends on tokens after it.
    pub bidirectional: bool,
    /// Whether the model is reverse-complement equivariant by construction.
    pub rc_equivariant: bool,
    /// Whether the checkpoint has an LM head (so `loglik` works).
    pub lm_head: bool,
    /// The poolings `embed` accepts, the default first.
    pub poolings: &'static [Pooling],
}

/// One loaded genomic language model of any family.
pub trait GenomicModel: Send + Sync + Debug {
    /// The catalog facts (family, tokenizer, lengths, properties).
    fn facts(&self) -> &FamilyFacts;

    /// Token ids of one sequence, special tokens included as the family's reference adds them.
    /// Errors name the offending base.
    fn tokenize(&self, seq: &[u8]) -> Result<Vec<u32>, ModelError>;

    /// Token positions holding the sequence in a tokenized input of `tokens` ids.
    fn content(&self, tokens: usize) -> Range<usize>;

    /// Final hidden states `[B, T, d_model]` of `ids: [B, T]` (u32).
    fn hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError>;

    /// Per-row log-likelihood (natural log) of `ids: [B, T]`, as the module docs define it;
    /// [`ModelError::NotSupported`] without an LM head.
    fn loglik(&self, ids: &Tensor) -> Result<Vec<f64>, ModelError>;

    /// The HyenaDNA network, for the code that reaches inside it (the omics model's stem).
    fn as_hyena(&self) -> Option<&HyenaDna> {
        None
    }
}

/// Pools `hidden: [B, T, D]` of a model's inputs to `[B, D]` (see [`Pooling`]).
pub fn pool(model: &dyn GenomicModel, hidden: &Tensor, pooling: Pooling) -> Result<Tensor, ModelError> {
    let (_, t, _) = hidden.dims3()?;
    let content = model.content(t);
    if content.is_empty() {
        return Err(ModelError::EmptyInput { what: "a tokenized input without sequence tokens".into() });
    }
    let facts = model.facts();
    if !facts.poolings.contains(&pooling) {
        return Err(ModelError::NotSupported { family: facts.family, what: pooling_name(pooling) });
    }
    Ok(match pooling {
        Pooling::Mean => hidden.narrow(1, content.start, content.len())?.mean(1)?,
        Pooling::Last => hidden.narrow(1, content.end - 1, 1)?.squeeze(1)?,
        Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
    })
}

fn pooling_name(p: Pooling) -> &'static str {
    match p {
        Pooling::Mean => "'mean' pooling",
        Pooling::Last => "'last' pooling",
        Pooling::Cls => "'cls' pooling (no [CLS] token)",
    }
}

/// A family's entry in [`FAMILIES`].
#[derive(Debug, Clone, Copy)]
pub struct FamilyEntry {
    /// The family name recorded in the catalog (`models.family`).
    pub name: &'static str,
    /// Whether a parsed `config.json` is this family's.
    pub recognise: fn(&serde_json::Value) -> bool,
    /// The catalog facts of a checkpoint directory of this family.
    pub facts: fn(&Path) -> Result<FamilyFacts, ModelError>,
    /// Loads a checkpoint directory (never downloads).
    pub load: fn(&Path, &Device, DType) -> Result<Arc<dyn GenomicModel>, ModelError>,
    /// Files besides the config and the weights that a checkpoint of this family needs
    /// (copied on import when present).
    pub extra_files: &'static [&'static str],
}

/// Every family, in the order [`detect`] tries them.
pub const FAMILIES: &[FamilyEntry] = &[hyena::ENTRY, bert::ENTRY, caduceus::ENTRY];

/// The entry of a family name (`hyena_omics`, the omics model's architecture, runs its
/// HyenaDNA backbone).
pub fn family(name: &str) -> Option<&'static FamilyEntry> {
    let name = if name == crate::omics::ARCHITECTURE { hyena::ENTRY.name } else { name };
    FAMILIES.iter().find(|f| f.name == name)
}

/// Config files tried, in order.
const CONFIG_FILES: [&str; 2] = ["config.json", "config_original.json"];

/// The family of a checkpoint directory, from its config (`model_type`, `architectures`
/// or the family's characteristic fields); an error saying what was found when no family
/// recognises it.
pub fn detect(dir: &Path) -> Result<&'static FamilyEntry, ModelError> {
    let file = CONFIG_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file()).ok_or_else(|| ModelError::UnknownFamily {
        dir: dir.to_path_buf(),
        file: CONFIG_FILES.join(" or "),
        reason: "the directory has no config".into(),
    })?;
    let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io { path: file.clone(), source })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ModelError::Config { file: file.clone(), message: e.to_string() })?;
    if let Some(entry) = FAMILIES.iter().find(|f| (f.recognise)(&value)) {
        return Ok(entry);
    }
    let said = |key: &str| value.get(key).map(|v| v.to_string()).unwrap_or_else(|| "none".into());
    Err(ModelError::UnknownFamily {
        dir: dir.to_path_buf(),
        file: file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        reason: format!(
            "model_type {}, architectures {}; recognised families: {}",
            said("model_type"),
            said("architectures"),
            FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// Detects the family of a checkpoint directory and loads it.
pub fn load(dir: &Path, device: &Device, dtype: DType) -> Result<Arc<dyn GenomicModel>, ModelError> {
    (detect(dir)?.load)(dir, device, dtype)
}

/// Finds the first weights file of a checkpoint directory.
pub(crate) fn weights_file(dir: &Path) -> Result<std::path::PathBuf, ModelError> {
    crate::hyena::WEIGHT_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .ok_or_else(|| ModelError::MissingWeights { dir: dir.to_path_buf() })
}

/// A VarBuilder over a `.safetensors` (memory-mapped) or PyTorch pickle weights file.
pub(crate) fn var_builder(weights: &Path, device: &Device, dtype: DType) -> Result<candle_nn::VarBuilder<'static>, ModelError> {
    let wrap = |source| ModelError::Weights { file: weights.to_path_buf(), source };
    if weights.extension().is_some_and(|e| e == "safetensors") {
        // SAFETY: the file is memory-mapped read-only; omicsdb never writes checkpoint files
        // while a model is loaded from them.
        unsafe { candle_nn::VarBuilder::from_mmaped_safetensors(&[weights], dtype, device) }.map_err(wrap)
    } else {
        candle_nn::VarBuilder::from_pth(weights, dtype, device).map_err(wrap)
    }
}

#[cfg(test)]
mod tests;
