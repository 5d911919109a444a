//! Catalog entries of embedding indexes: `embedding_index/<name>` for the live
//! index, `embedding_index_staging/<name>` for one being built (it only keeps the
//! build's data directory alive; SQL never reads it).

use omicsdb_storage::Store;
use omicsdb_storage::models;
use serde::{Deserialize, Serialize};

pub use omicsdb_vector::{HnswParams, Metric};

use super::error::{IndexError, Result};

/// Catalog key prefix of the live indexes.
pub const PREFIX: &str = "embedding_index/";
/// Catalog key prefix of indexes being built.
pub const STAGING_PREFIX: &str = "embedding_index_staging/";
/// The index file of an HNSW index (usearch's format).
pub const HNSW_FILE: &str = "index.usearch";
/// The vectors of a flat index: `count × dim` little-endian f32, row by row.
pub const VECTORS_FILE: &str = "vectors.f32";
/// The windows of the index in key order (`chrom`, `start`, `end`), Parquet.
pub const WINDOWS_FILE: &str = "windows.parquet";

/// Catalog key of the live index `name`.
pub fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Catalog key of the build of `name` in progress.
pub fn staging_key(name: &str) -> String {
    format!("{STAGING_PREFIX}{name}")
}

/// How neighbours are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// Approximate: a usearch HNSW graph.
    Hnsw,
    /// Exact: every vector is compared (blocked matrix products on the session's threads).
    Flat,
}

impl IndexKind {
    /// The name used on the command line and in the catalog table.
    pub fn name(self) -> &'static str {
        match self {
            IndexKind::Hnsw => "hnsw",
            IndexKind::Flat => "flat",
        }
    }

    /// Parses a kind name (case-insensitive).
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "hnsw" => Ok(IndexKind::Hnsw),
            "flat" => Ok(IndexKind::Flat),
            _ => Err(IndexError::Argument { what: "kind".into(), message: format!("'{text}' is not an index kind; use hnsw or flat") }),
        }
    }
}

/// A stored embedding index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// Index name (an SQL identifier-like name).
    pub name: String,
    /// Window set whose windows are indexed.
    pub window_set: String,
    /// The window set's data directory when built (a recomputed window set makes the index stale).
    pub window_set_dir: String,
    /// Assembly of the window set.
    pub assembly: String,
    /// Model name.
    pub model: String,
    /// Model version.
    pub model_version: u32,
    /// sha256 of the model's weights when built.
    pub model_sha256: String,
    /// The SQL function that embedded the windows (`embed` or `hyena_embed`).
    pub function: String,
    /// Pooling of the hidden states.
    pub pooling: String,
    /// Distance.
    pub metric: Metric,
    /// Approximate or exact.
    pub kind: IndexKind,
    /// HNSW parameters (kept for flat indexes too, unused there).
    pub hnsw: HnswParams,
    /// Embedding width.
    pub dim: usize,
    /// Windows indexed (windows whose embedding is NULL are not).
    pub count: u64,
    /// Data directory relative to the database root.
    pub dir: String,
    /// Bytes of the index's files.
    pub bytes: u64,
    /// Seconds spent building the index from the stored embeddings (not embedding them).
    pub build_seconds: f64,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

impl IndexMeta {
    /// `model@version`.
    pub fn model_label(&self) -> String {
        format!("{}@{}", self.model, self.model_version)
    }

    /// Why the index no longer matches the model or window set, if it does not: the
    /// window set was dropped or recomputed, the model version was removed or its weights
    /// changed, or the model has a newer version. A stale index still answers queries
    /// (with the model version it was built with); `omicsdb index create` rebuilds it.
    pub fn stale_reason(&self, store: &Store) -> Result<Option<String>> {
        match store.window_set(&self.window_set) {
            Ok(ws) if ws.dir != self.window_set_dir => {
                return Ok(Some(format!("window set {} was recomputed since", self.window_set)));
            }
            Ok(_) => {}
            Err(_) => return Ok(Some(format!("window set {} no longer exists", self.window_set))),
        }
        let built = match models::model(store, &self.model, Some(self.model_version)) {
            Ok(m) => m,
            Err(_) => return Ok(Some(format!("model {} no longer exists", self.model_label()))),
        };
        if built.sha256 != self.model_sha256 {
            return Ok(Some(format!("the weights of model {} changed since", self.model_label())));
        }
        let latest = models::model(store, &self.model, None)?;
        if latest.version != self.model_version {
            return Ok(Some(format!("model {} has a newer version ({})", self.model, latest.label())));
        }
        Ok(None)
    }
}

/// Checks an index name: 1 to 63 letters, digits or `_`, starting with a letter.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(IndexError::Argument {
            what: "index name".into(),
            message: format!("'{name}' must be 1 to 63 letters, digits or '_', starting with a letter"),
        })
    }
}

/// Every live index, by name.
pub fn list(store: &Store) -> Result<Vec<IndexMeta>> {
    Ok(store.catalog().list(PREFIX)?)
}

/// The live index `name`, or an error listing the indexes there are.
pub fn get(store: &Store, name: &str) -> Result<IndexMeta> {
    if let Some(m) = store.catalog().get::<IndexMeta>(&key(name))? {
        return Ok(m);
    }
    let names: Vec<String> = list(store)?.into_iter().map(|m| m.name).collect();
    Err(IndexError::Unknown {
        name: name.to_string(),
        known: if names.is_empty() { "none; create one with `omicsdb index create`".into() } else { names.join(", ") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds_parse_or_say_what_is_allowed() {
        assert!(check_name("chr20_hyena").is_ok());
        for bad in ["", "1abc", "a-b", "a;drop", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(IndexKind::parse(" FLAT ").unwrap(), IndexKind::Flat);
        assert!(IndexKind::parse("ivf").unwrap_err().to_string().contains("hnsw or flat"));
    }
}
