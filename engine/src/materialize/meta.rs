//! Catalog entries of materializations: one per (model, version, window set),
//! under `materialization/<model>/<version:010>/<window_set>`, listing the
//! partitions committed so far. The entry is rewritten (atomically, by one
//! catalog batch) after each partition's file is on disk, so after a crash it
//! names exactly the partitions that are complete.
//!
//! A new materialization (a first run, or one that replaces the stored one
//! because the functions, weights or window set changed) is built under the
//! staging key `materialization_staging/<model>/<version:010>/<window_set>`
//! and moved to the live key in one catalog commit when every requested
//! partition is done. Staged entries are invisible to SQL, so a killed or
//! failed run never hides or replaces complete data.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use omicsdb_storage::Store;
use serde::{Deserialize, Serialize};

use super::error::Result;

/// Catalog key prefix of all materializations.
pub const PREFIX: &str = "materialization/";

/// Catalog key prefix of materializations being built (not yet visible).
pub const STAGING_PREFIX: &str = "materialization_staging/";

/// Catalog key of one materialization (`slot`: see [`MaterializationMeta::slot`]).
pub fn key(model: &str, version: u32, window_set: &str, slot: Option<&str>) -> String {
    format!("{PREFIX}{model}/{version:010}/{}", slotted(window_set, slot))
}

/// Catalog key of one materialization while it is being built.
pub fn staging_key(model: &str, version: u32, window_set: &str, slot: Option<&str>) -> String {
    format!("{STAGING_PREFIX}{model}/{version:010}/{}", slotted(window_set, slot))
}

/// The last key segment: the window set, then `#slot` for a slotted entry (`#` is not
/// allowed in window set names).
fn slotted(window_set: &str, slot: Option<&str>) -> String {
    match slot {
        Some(s) => format!("{window_set}#{s}"),
        None => window_set.to_string(),
    }
}

/// What an output column holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ColumnSource {
    /// Field `field` of the `predict_omics(region, tissue)` struct (Float32).
    PredictOmics {
        /// The struct field (assay or target) as the model names it.
        field: String,
    },
    /// `hyena_loglik(upper(seq))` as Float32.
    HyenaLoglik,
    /// `hyena_embed(upper(seq))`: `FixedSizeList<Float32, width>`.
    HyenaEmbed {
        /// Embedding width (`d_model`).
        width: i32,
    },
    /// `embed(upper(seq), model, pooling)`: `FixedSizeList<Float32, width>`.
    Embed {
        /// Pooling of the hidden states (`mean`, `last`, `cls`).
        pooling: String,
        /// Embedding width.
        width: i32,
    },
}

/// One prediction column of the table (besides the fixed ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictionColumn {
    /// Column name in the predictions table.
    pub name: String,
    /// Where its values come from.
    pub source: ColumnSource,
}

impl PredictionColumn {
    /// True for one Float32 per window (exportable as bigWig).
    pub fn is_scalar(&self) -> bool {
        !matches!(self.source, ColumnSource::HyenaEmbed { .. } | ColumnSource::Embed { .. })
    }
}

/// One committed partition: the windows of one chromosome for one tissue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMeta {
    /// Chromosome.
    pub chrom: String,
    /// Tissue; `None` when no function depends on the tissue.
    pub tissue: Option<String>,
    /// Parquet file relative to the database root.
    pub path: String,
    /// Rows (windows).
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// A stored result of one model version over one window set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaterializationMeta {
    /// Model name.
    pub model: String,
    /// Model version.
    pub model_version: u32,
    /// sha256 of the model weights (part of the input identity).
    pub model_sha256: String,
    /// Window set predicted over.
    pub window_set: String,
    /// The window set's data directory when materialized (changes when the
    /// window set is recomputed, which invalidates the materialization).
    pub window_set_dir: String,
    /// Assembly of the window set.
    pub assembly: String,
    /// SQL functions evaluated, e.g. `["predict_omics"]`.
    pub functions: Vec<String>,
    /// Prediction columns, in table order.
    pub columns: Vec<PredictionColumn>,
    /// Data directory relative to the database root (kept by garbage collection).
    pub dir: String,
    /// Committed partitions, in commit order.
    pub partitions: Vec<PartitionMeta>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch of the last committed partition.
    pub updated_at: u64,
    /// `None` for the predictions of the model on the window set; a name for a
    /// materialization kept beside them for another user (embedding indexes), which
    /// has its own catalog key and is not a predictions table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
}

impl MaterializationMeta {
    /// `model@version`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.model, self.model_version)
    }

    /// Catalog key of this entry.
    pub fn key(&self) -> String {
        key(&self.model, self.model_version, &self.window_set, self.slot.as_deref())
    }

    /// Catalog key of this entry while it is being built.
    pub fn staging_key(&self) -> String {
        staging_key(&self.model, self.model_version, &self.window_set, self.slot.as_deref())
    }

    /// Total committed windows (rows).
    pub fn rows(&self) -> u64 {
        self.partitions.iter().map(|p| p.rows).sum()
    }

    /// Total bytes of the committed Parquet files.
    pub fn bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.bytes).sum()
    }

    /// True when some function depends on the tissue.
    pub fn per_tissue(&self) -> bool {
        self.functions.iter().any(|f| f == "predict_omics")
    }

    /// The committed partition of (`chrom`, `tissue`), if any.
    pub fn partition(&self, chrom: &str, tissue: Option<&str>) -> Option<&PartitionMeta> {
        self.partitions.iter().find(|p| p.chrom == chrom && p.tissue.as_deref() == tissue)
    }

    /// Arrow schema of the Parquet files and of the SQL table: `chrom, start,
    /// end, tissue`, the prediction columns, `model, model_version`.
    pub fn schema(&self) -> SchemaRef {
        let mut fields = vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
            Field::new("tissue", DataType::Utf8, true),
        ];
        for c in &self.columns {
            let dt = match c.source {
                ColumnSource::HyenaEmbed { width } | ColumnSource::Embed { width, .. } => {
                    DataType::FixedSizeList(Arc::new(embedding_item()), width)
                }
                _ => DataType::Float32,
            };
            fields.push(Field::new(&c.name, dt, true));
        }
        fields.push(Field::new("model", DataType::Utf8, false));
        fields.push(Field::new("model_version", DataType::Int32, false));
        Arc::new(Schema::new(fields))
    }
}

/// The item field of embedding lists.
pub fn embedding_item() -> Field {
    Field::new("item", DataType::Float32, true)
}

/// All materializations, in key order (model, version, window set).
pub fn list(store: &Store) -> Result<Vec<MaterializationMeta>> {
    Ok(store.catalog().list(PREFIX)?)
}

/// The materializations of `model` (all versions and window sets).
pub fn of_model(store: &Store, model: &str) -> Result<Vec<MaterializationMeta>> {
    Ok(store.catalog().list(&format!("{PREFIX}{model}/"))?)
}

/// One materialization, if present.
pub fn get(store: &Store, model: &str, version: u32, window_set: &str, slot: Option<&str>) -> Result<Option<MaterializationMeta>> {
    Ok(store.catalog().get(&key(model, version, window_set, slot))?)
}

/// The staged (incomplete, invisible) materialization, if a run left one.
pub fn get_staged(store: &Store, model: &str, version: u32, window_set: &str, slot: Option<&str>) -> Result<Option<MaterializationMeta>> {
    Ok(store.catalog().get(&staging_key(model, version, window_set, slot))?)
}

/// All staged materializations, in key order.
pub fn list_staged(store: &Store) -> Result<Vec<MaterializationMeta>> {
    Ok(store.catalog().list(STAGING_PREFIX)?)
}
