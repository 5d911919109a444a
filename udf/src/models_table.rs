//! The `models` SQL table: one row per registered model version.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampSecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use omicsdb_storage::Store;
use omicsdb_storage::models::{self, ModelMeta};

use crate::error::{Result, UdfError};

/// The SQL name of the table.
pub const MODELS_TABLE: &str = "models";

/// `models(name, version, architecture, d_model, n_layer, max_seq_len, tracks,
/// sha256, weights_file, source, note, metrics, is_default, created_at)`,
/// built from the catalog (call again after the catalog changed).
pub fn models_table(store: &Store) -> Result<Arc<MemTable>> {
    let list = models::list_models(store)?;
    let default = models::default_embedding_model(store)?;
    let int = |f: fn(&ModelMeta) -> Option<usize>| -> ArrayRef {
        Arc::new(Int64Array::from(
            list.iter()
                .map(|m| f(m).map(|v| v as i64))
                .collect::<Vec<_>>(),
        ))
    };
    let text = |f: fn(&ModelMeta) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(list.iter().map(f)))
    };
    let fields = vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("architecture", DataType::Utf8, false),
        Field::new("d_model", DataType::Int64, true),
        Field::new("n_layer", DataType::Int64, true),
        Field::new("max_seq_len", DataType::Int64, true),
        Field::new("tracks", DataType::Utf8, false),
        Field::new("sha256", DataType::Utf8, false),
        Field::new("weights_file", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("note", DataType::Utf8, false),
        Field::new("metrics", DataType::Utf8, false),
        Field::new("is_default", DataType::Boolean, false),
        Field::new(
            "created_at",
            DataType::Timestamp(TimeUnit::Second, None),
            false,
        ),
    ];
    let columns: Vec<ArrayRef> = vec![
        text(|m| m.name.clone()),
        Arc::new(Int64Array::from_iter_values(
            list.iter().map(|m| m.version as i64),
        )),
        text(|m| m.architecture.clone()),
        int(ModelMeta::d_model),
        int(|m| m.config_usize("n_layer")),
        int(ModelMeta::max_seq_len),
        text(|m| m.tracks.join(",")),
        text(|m| m.sha256.clone()),
        text(|m| m.weights_file.clone()),
        text(|m| m.source.clone()),
        text(|m| m.note.clone()),
        text(|m| m.metrics.to_string()),
        Arc::new(BooleanArray::from_iter(
            list.iter()
                .map(|m| Some(default.as_deref() == Some(m.name.as_str()))),
        )),
        Arc::new(TimestampSecondArray::from_iter_values(
            list.iter().map(|m| m.created_at as i64),
        )),
    ];
    let schema = Arc::new(Schema::new(fields));
    let table =
        |e: arrow::error::ArrowError| UdfError::Cache(format!("building the models table: {e}"));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(table)?;
    let mem = MemTable::try_new(schema, vec![vec![batch]])
        .map_err(|e| UdfError::Cache(format!("building the models table: {e}")))?;
    Ok(Arc::new(mem))
}
