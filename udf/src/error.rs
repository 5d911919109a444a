//! The error type of the model-backed SQL functions.

use datafusion::error::DataFusionError;
use omicsdb_model::ModelError;
use omicsdb_storage::StorageError;

/// Everything that can go wrong resolving, loading or running a model from SQL.
/// Messages name the function, the row of the Arrow batch and the model.
#[derive(Debug, thiserror::Error)]
pub enum UdfError {
    /// Catalog failures, including unknown model names (which list the known ones).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Loading or running a model failed.
    #[error("model {model}: {source}")]
    Model {
        /// `name@version`.
        model: String,
        /// The model error.
        #[source]
        source: ModelError,
    },
    /// No model argument and no default embedding model set.
    #[error(
        "{function}: no model given and no default embedding model is set; pass one, e.g. \
         {function}(seq, 'NAME'), or run `omicsdb model set-default NAME`{}",
        if .known.is_empty() { " (no models are imported yet: `omicsdb model import --name NAME DIR`)".to_string() } else { format!(" (known models: {})", .known.join(", ")) }
    )]
    NoDefaultModel {
        /// The SQL function.
        function: &'static str,
        /// Registered model names.
        known: Vec<String>,
    },
    /// A sequence longer than the model's maximum input length.
    #[error(
        "{function}: row {row}: sequence of length {len} exceeds the maximum input length {limit} \
         of model {model}; use shorter windows (e.g. substr(seq, 1, {limit}))"
    )]
    TooLong {
        /// The SQL function.
        function: &'static str,
        /// 0-based row in the Arrow batch.
        row: usize,
        /// Length of the sequence.
        len: usize,
        /// The model's maximum input length (`max_seq_len`).
        limit: usize,
        /// `name@version`.
        model: String,
    },
    /// A sequence the tokenizer rejects, or an empty one.
    #[error("{function}: row {row}: sequence of length {len}: {message}")]
    BadSequence {
        /// The SQL function.
        function: &'static str,
        /// 0-based row in the Arrow batch.
        row: usize,
        /// Length of the sequence.
        len: usize,
        /// What is wrong (e.g. the tokenizer's error naming the position).
        message: String,
    },
    /// A bad argument (type, constant-ness, value).
    #[error("{function}: argument `{argument}`: {message}")]
    Argument {
        /// The SQL function.
        function: &'static str,
        /// The argument name.
        argument: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A variant that cannot be scored as given (see [`crate::variant`]).
    #[error("{function}: variant {variant}: {problem}")]
    Variant {
        /// The SQL function (or batch job).
        function: &'static str,
        /// `chrom:pos REF>ALT` as given.
        variant: String,
        /// What is wrong.
        problem: crate::variant::VariantProblem,
    },
    /// The statement was stopped (cancelled, timed out) while the function
    /// ran; the reason is the error's source (see [`crate::interrupt`]).
    #[error("{function}: {source}")]
    Interrupted {
        /// The SQL function.
        function: &'static str,
        /// Why the statement was stopped.
        #[source]
        source: crate::interrupt::StopReason,
    },
    /// The result cache could not be read or written.
    #[error("model result cache: {0}")]
    Cache(String),
}

/// Result alias of this crate.
pub type Result<T, E = UdfError> = std::result::Result<T, E>;

impl From<UdfError> for DataFusionError {
    fn from(e: UdfError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

impl From<sled::Error> for UdfError {
    fn from(e: sled::Error) -> Self {
        UdfError::Cache(e.to_string())
    }
}
