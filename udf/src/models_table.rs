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

/// `models(name, version, architecture, family, tokenizer, d_model, n_layer, max_seq_len,
/// max_len, bidirectional, rc_equivariant, tracks, sha256, weights_file, source, note,
/// metrics, is_default, created_at)`: `family` is the model zoo's family (`hyenadna`,
/// `dnabert`, ...; omics models run a `hyenadna` backbone), `max_len` the most bases one
/// input may have (`max_seq_len` is the same number, kept for older queries),
/// `bidirectional` and `rc_equivariant` properties of the architecture,
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
    let flag = |f: fn(&ModelMeta) -> bool| -> ArrayRef {
        Arc::new(BooleanArray::from_iter(list.iter().map(|m| Some(f(m)))))
    };
    let text = |f: fn(&ModelMeta) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(list.iter().map(f)))
    };
    let fields = vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("architecture", DataType::Utf8, false),
        Field::new("family", DataType::Utf8, false),
        Field::new("tokenizer", DataType::Utf8, false),
        Field::new("d_model", DataType::Int64, true),
        Field::new("n_layer", DataType::Int64, true),
        Field::new("max_seq_len", DataType::Int64, true),
        Field::new("max_len", DataType::Int64, true),
        Field::new("bidirectional", DataType::Boolean, false),
        Field::new("rc_equivariant", DataType::Boolean, false),
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
        text(|m| m.family_facts().family),
        text(|m| m.family_facts().tokenizer),
        int(ModelMeta::d_model),
        int(ModelMeta::n_layer),
        int(ModelMeta::max_seq_len),
        int(ModelMeta::max_seq_len),
        flag(|m| m.family_facts().bidirectional),
        flag(|m| m.family_facts().rc_equivariant),
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
