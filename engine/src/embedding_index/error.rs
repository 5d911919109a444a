//! Errors of the embedding indexes.

/// What went wrong building or searching an embedding index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A bad option or function argument.
    #[error("{what}: {message}")]
    Argument {
        /// The option or argument.
        what: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// No index of that name.
    #[error("no embedding index '{name}' (indexes: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The indexes there are.
        known: String,
    },
    /// A stored index file is unreadable or does not match its catalog entry.
    #[error("embedding index '{name}': {message}")]
    Corrupt {
        /// Index name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Vector search failed (usearch, a bad parameter).
    #[error(transparent)]
    Vector(#[from] omicsdb_vector::VectorError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The catalog or a data directory failed.
    #[error(transparent)]
    Storage(#[from] omicsdb_storage::StorageError),
    /// Embedding the windows failed (boxed: materialize errors can hold engine errors).
    #[error(transparent)]
    Materialize(Box<crate::materialize::MaterializeError>),
    /// A query (filter, embedding of the query) failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow or Parquet failed.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Parquet failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
}

impl From<crate::materialize::MaterializeError> for IndexError {
    fn from(e: crate::materialize::MaterializeError) -> Self {
        IndexError::Materialize(Box::new(e))
    }
}

impl IndexError {
    /// An argument error.
    pub fn arg(what: impl Into<String>, message: impl Into<String>) -> Self {
        IndexError::Argument { what: what.into(), message: message.into() }
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IndexError::Io { path: path.display().to_string(), source }
    }
}

/// Results of this module.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
