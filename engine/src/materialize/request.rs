//! What to materialize: the options of `omicsdb materialize`.

use super::error::{MaterializeError, Result};

/// A model-backed SQL function evaluated per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// `predict_omics(region, tissue, model)`: one Float32 column per assay.
    PredictOmics,
    /// `hyena_loglik(upper(seq), model)`: column `loglik` (Float32).
    HyenaLoglik,
    /// `hyena_embed(upper(seq), model)`: column `embedding` (FixedSizeList).
    HyenaEmbed,
    /// `embed(upper(seq), model, pooling)` for a model of any family of the zoo, with
    /// [`Request::pooling`]: column `embedding` (FixedSizeList).
    Embed,
}

impl Function {
    /// Every function, in column order.
    pub const ALL: [Function; 4] = [Function::PredictOmics, Function::HyenaLoglik, Function::HyenaEmbed, Function::Embed];

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Function::PredictOmics => "predict_omics",
            Function::HyenaLoglik => "hyena_loglik",
            Function::HyenaEmbed => "hyena_embed",
            Function::Embed => "embed",
        }
    }

    /// Parses a SQL function name (case-insensitive).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|f| f.name() == t).ok_or_else(|| MaterializeError::Argument {
            option: "--functions",
            message: format!(
                "'{text}' is not a materializable function; use {}",
                Self::ALL.map(|f| f.name()).join(", ")
            ),
        })
    }
}

/// Which tissues to predict (for `predict_omics`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tissues {
    /// Every tissue of the model's tracks.
    #[default]
    All,
    /// These tissues.
    Only(Vec<String>),
}

/// One materialization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Model: `name` (latest version) or `name@version`.
    pub model: String,
    /// Tissues (ignored unless `predict_omics` is among the functions).
    pub tissues: Tissues,
    /// Window set to predict over.
    pub window_set: String,
    /// Chromosomes (default: all of the assembly).
    pub chroms: Option<Vec<String>>,
    /// Functions; `None` picks `predict_omics` for omics models (models with
    /// tracks) and `hyena_embed` for plain HyenaDNA checkpoints.
    pub functions: Option<Vec<Function>>,
    /// Windows per SQL query (bounds the memory of one sorted chunk).
    pub chunk_windows: u64,
    /// After completing, delete the materializations of other versions of the model.
    pub prune: bool,
    /// Pooling of [`Function::Embed`] (`mean`, `last`, `cls`: see `embed`).
    pub pooling: String,
    /// A separate slot for this materialization beside the predictions of the same
    /// model and window set (embedding indexes use one): it gets its own catalog entry,
    /// is not a `predictions_<model>` table and is never pruned by another slot's run.
    pub slot: Option<String>,
}

impl Request {
    /// A request for `model` over the default window set with default options.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            tissues: Tissues::All,
            window_set: omicsdb_storage::DEFAULT_WINDOW_SET.to_string(),
            chroms: None,
            functions: None,
            chunk_windows: 4096,
            prune: false,
            pooling: "mean".to_string(),
            slot: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_parse_case_insensitively_and_unknown_ones_list_the_choices() {
        assert_eq!(Function::parse("Hyena_Embed").unwrap(), Function::HyenaEmbed);
        assert_eq!(Function::parse(" predict_omics ").unwrap(), Function::PredictOmics);
        let msg = Function::parse("gc").unwrap_err().to_string();
        assert!(msg.contains("--functions") && msg.contains("'gc'") && msg.contains("hyena_loglik"), "{msg}");
    }
}
