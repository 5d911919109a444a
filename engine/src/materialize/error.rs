//! The materialization error type: what went wrong, naming the model, window
//! set, chromosome, tissue or file concerned.

use std::path::PathBuf;

/// Errors of `omicsdb materialize`, the exports and the predictions tables.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    /// Another materialization of the same model holds the lock.
    #[error(
        "another materialization of model {model} is running (lock {path} held{}); \
         wait for it to finish or stop it, then re-run",
        .holder.as_deref().map(|h| format!(" by {h}")).unwrap_or_default()
    )]
    Locked {
        /// Model name.
        model: String,
        /// The lock file.
        path: PathBuf,
        /// What the lock file says about its holder (e.g. `pid 1234`).
        holder: Option<String>,
    },
    /// A bad option (unknown tissue, chromosome, function, ...).
    #[error("{option}: {message}")]
    Argument {
        /// The option, e.g. `--tissues`.
        option: &'static str,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The model cannot do what was asked (e.g. predict_omics on a plain HyenaDNA).
    #[error("model {model}: {message}")]
    Model {
        /// `name@version`.
        model: String,
        /// What is wrong.
        message: String,
    },
    /// A partition did not come out as planned (row count, schema).
    #[error("partition {chrom}/{tissue} of {model}: {message}")]
    Partition {
        /// `name@version`.
        model: String,
        /// Chromosome.
        chrom: String,
        /// Tissue (`-` for tissue-independent functions).
        tissue: String,
        /// What went wrong.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing or reading Parquet.
    #[error("{}: {source}", .path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Engine errors (storage, SQL, models).
    #[error(transparent)]
    Engine(#[from] crate::Error),
}

impl MaterializeError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// A Parquet error on `path`.
    pub fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        Self::Parquet { path: path.into(), source }
    }
}

impl From<omicsdb_storage::StorageError> for MaterializeError {
    fn from(e: omicsdb_storage::StorageError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<datafusion::error::DataFusionError> for MaterializeError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<datafusion::arrow::error::ArrowError> for MaterializeError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Engine(e.into())
    }
}

/// Result alias for materialization.
pub type Result<T, E = MaterializeError> = std::result::Result<T, E>;
