//! The engine's error type: storage, SQL and model errors converted at the crate edge.

/// Errors from the embeddable API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Storage layer (files, catalog, bad input files).
    #[error(transparent)]
    Storage(#[from] omicsdb_storage::StorageError),
    /// Planning or running SQL.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow errors while building results.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Model loading or inference.
    #[error(transparent)]
    Model(#[from] omicsdb_model::ModelError),
    /// Model-backed SQL functions and the model registry.
    #[error(transparent)]
    Udf(#[from] omicsdb_udf::UdfError),
    /// Anything else, with a message.
    /// An embedding index failed.
    #[error(transparent)]
    Index(#[from] crate::embedding_index::IndexError),
    #[error("{0}")]
    Other(String),
}

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
