//! The error type of the model crate.

use std::path::PathBuf;

/// Everything that can go wrong while tokenizing, loading or running a model.
///
/// Messages name the offending input (file, key, position, length) so that a
/// SQL user or a CLI user can act on them without reading the code.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A byte in a sequence that the tokenizers do not accept.
    #[error(
        "sequence byte {byte:?} (0x{byte:02x}) at position {position} is not a nucleotide the \
         tokenizer accepts (A C G T N, or lowercase a c g t n which map to [UNK])"
    )]
    InvalidBase {
        /// 0-based position of the byte in the sequence.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A token id outside the embedding table.
    #[error("token id {id} at batch row {row}, position {position} is outside the vocabulary of {vocab} rows")]
    InvalidTokenId {
        /// The offending id.
        id: i64,
        /// Batch row.
        row: usize,
        /// Position in the row.
        position: usize,
        /// Number of embedding rows.
        vocab: usize,
    },
    /// An input longer than the model's positional grid (`l_max`).
    #[error("sequence length {len} exceeds the model's maximum input length l_max = {l_max}")]
    SequenceTooLong {
        /// Length of the input.
        len: usize,
        /// The model's `l_max` (`max_seq_len`).
        l_max: usize,
    },
    /// An empty input.
    #[error("empty input: {what}")]
    EmptyInput {
        /// What was empty.
        what: String,
    },
    /// A tensor with the wrong rank, shape or dtype for an operation.
    #[error("bad shape for {what}: expected {expected}, got {got:?}")]
    BadShape {
        /// The argument.
        what: String,
        /// What was expected, in words.
        expected: String,
        /// The shape received.
        got: Vec<usize>,
    },
    /// A checkpoint directory without a usable weights file.
    #[error("no weights in {dir}: expected model.safetensors, model.hf_dedup.safetensors or pytorch_model.bin")]
    MissingWeights {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// A required tensor is missing from a checkpoint.
    #[error("checkpoint {file} has no tensor {key} (tried prefixes {prefixes})")]
    MissingTensor {
        /// The weights file.
        file: PathBuf,
        /// The key looked for.
        key: String,
        /// Key prefixes tried.
        prefixes: String,
    },
    /// A weights file that cannot be read, or lacks a tensor the config needs.
    #[error("weights {file}: {source}")]
    Weights {
        /// The weights file.
        file: PathBuf,
        /// The underlying error (names the tensor key).
        #[source]
        source: candle_core::Error,
    },
    /// A config file that cannot be read or parsed.
    #[error("config {file}: {message}")]
    Config {
        /// The config file.
        file: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A config value this implementation does not support.
    #[error("unsupported config value {field} = {value}: {reason}")]
    Unsupported {
        /// The config field.
        field: &'static str,
        /// Its value.
        value: String,
        /// Why it is not supported.
        reason: &'static str,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An error from candle (tensor maths, weight loading).
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A model family without the output asked for (e.g. a log-likelihood from a checkpoint
    /// without an LM head).
    #[error("{family} model has no {what}")]
    NotSupported {
        /// The family.
        family: &'static str,
        /// What it lacks.
        what: &'static str,
    },
    /// A checkpoint directory whose family cannot be told from its config.
    #[error("{dir}: cannot tell the model family from {file}: {reason}")]
    UnknownFamily {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The config file read.
        file: String,
        /// What was found instead, and what is recognised.
        reason: String,
    },
    /// The CUDA path failed: no driver or device, a library that could not be loaded, or
    /// a CUDA, cuBLAS or cuFFT call that returned an error (the message names the step).
    #[error("CUDA: {0}")]
    Cuda(String),
}
