//! The sled catalog: one key space of JSON entries, committed in atomic batches.
//!
//! Keys are `kind/name` (e.g. `assembly/hg38`, `window_set/windows`,
//! `track/h3k27ac_liver`). Data files are always written before the batch that
//! makes them visible, so a crash leaves either the old or the new state.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, StorageError};

/// The database catalog (a sled tree).
#[derive(Debug, Clone)]
pub struct Catalog {
    db: sled::Db,
}

/// A set of catalog changes applied atomically by [`Catalog::commit`].
#[derive(Debug, Default)]
pub struct CatalogBatch {
    puts: Vec<(String, Vec<u8>)>,
    removes: Vec<String>,
}

impl CatalogBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` as JSON under `key`.
    pub fn put<T: Serialize>(&mut self, key: impl Into<String>, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| StorageError::Catalog(e.to_string()))?;
        self.puts.push((key.into(), bytes));
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl Into<String>) {
        self.removes.push(key.into());
    }

    /// True when the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.removes.is_empty()
    }

    /// The data directories (`"dir"` fields) the batch's new entries reference:
    /// the directories that must be durable before the batch is.
    pub fn referenced_dirs(&self) -> std::collections::HashSet<String> {
        let values: Vec<serde_json::Value> =
            self.puts.iter().filter_map(|(_, v)| serde_json::from_slice(v).ok()).collect();
        crate::layout::referenced_dirs(&values)
    }
}

impl Catalog {
    /// Opens (or creates) the catalog in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::LowSpace)
            .open()
            .map_err(|e| StorageError::Catalog(format!("cannot open {}: {e}", dir.display())))?;
        Ok(Self { db })
    }

    /// Reads and decodes the entry under `key`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.db.get(key.as_bytes())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StorageError::Catalog(format!("entry {key} is unreadable: {e}"))),
        }
    }

    /// Lists all entries whose key starts with `prefix`, in key order.
    pub fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(prefix.as_bytes()) {
            let (k, v) = item?;
            let value = serde_json::from_slice(&v).map_err(|e| {
                StorageError::Catalog(format!("entry {} is unreadable: {e}", String::from_utf8_lossy(&k)))
            })?;
            out.push(value);
        }
        Ok(out)
    }

    /// All raw JSON values (used to find the data directories still referenced).
    /// An entry that is not JSON is an error naming its key: what it references
    /// is unknown, so nothing may be removed on its account.
    pub fn all_values(&self) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for item in self.db.iter() {
            let (k, v) = item?;
            let value = serde_json::from_slice(&v).map_err(|e| {
                StorageError::Catalog(format!("entry {} is unreadable: {e}", String::from_utf8_lossy(&k)))
            })?;
            out.push(value);
        }
        Ok(out)
    }

    /// A named sled tree beside the catalog entries, for bulk key-value data
    /// that is not a catalog entry (e.g. the model-result cache). Its values
    /// are never scanned for `"dir"` references.
    pub fn tree(&self, name: &str) -> Result<sled::Tree> {
        self.db
            .open_tree(name.as_bytes())
            .map_err(|e| StorageError::Catalog(format!("cannot open tree {name}: {e}")))
    }

    /// Removes a tree made by [`Catalog::tree`] with all its data (nothing
    /// when there is none).
    pub fn drop_tree(&self, name: &str) -> Result<()> {
        self.db
            .drop_tree(name.as_bytes())
            .map(|_| ())
            .map_err(|e| StorageError::Catalog(format!("cannot drop tree {name}: {e}")))
    }

    /// Stores raw bytes under `key`, bypassing JSON encoding (tests of damaged catalogs).
    #[doc(hidden)]
    pub fn put_raw(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.db.insert(key.as_bytes(), bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Applies `batch` atomically and flushes it to disk before returning.
    /// The caller makes the data it references durable first
    /// ([`crate::Store::commit`] does).
    pub fn commit(&self, batch: CatalogBatch) -> Result<()> {
        let mut b = sled::Batch::default();
        for key in batch.removes {
            b.remove(key.as_bytes());
        }
        for (key, value) in batch.puts {
            b.insert(key.as_bytes(), value);
        }
        self.db.apply_batch(b)?;
        self.db.flush()?;
        Ok(())
    }
}
