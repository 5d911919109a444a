//! The `embedding_indexes` catalog table.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampSecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use omicsdb_storage::Store;

use super::error::Result;
use super::meta::list;

/// SQL name of the table.
pub const NAME: &str = "embedding_indexes";

/// `embedding_indexes(name, window_set, model, model_version, function, pooling, metric,
/// kind, dim, windows, bytes, build_seconds, stale, stale_reason, created_at)`.
pub fn table(store: &Store) -> Result<Arc<MemTable>> {
    let all = list(store)?;
    let stale: Vec<Option<String>> = all.iter().map(|m| m.stale_reason(store)).collect::<Result<_>>()?;
    let text = |f: &dyn Fn(&super::IndexMeta) -> String| -> ArrayRef { Arc::new(StringArray::from_iter_values(all.iter().map(f))) };
    let int = |f: &dyn Fn(&super::IndexMeta) -> i64| -> ArrayRef { Arc::new(Int64Array::from_iter_values(all.iter().map(f))) };
    let columns: Vec<ArrayRef> = vec![
        text(&|m| m.name.clone()),
        text(&|m| m.window_set.clone()),
        text(&|m| m.model.clone()),
        int(&|m| i64::from(m.model_version)),
        text(&|m| m.function.clone()),
        text(&|m| m.pooling.clone()),
        text(&|m| m.metric.name().to_string()),
        text(&|m| m.kind.name().to_string()),
        int(&|m| m.dim as i64),
        int(&|m| m.count as i64),
        int(&|m| m.bytes as i64),
        Arc::new(Float64Array::from_iter_values(all.iter().map(|m| m.build_seconds))),
        Arc::new(BooleanArray::from(stale.iter().map(|s| s.is_some()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(stale.clone())),
        Arc::new(TimestampSecondArray::from_iter_values(all.iter().map(|m| m.created_at as i64))),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("window_set", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Int64, false),
        Field::new("function", DataType::Utf8, false),
        Field::new("pooling", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("dim", DataType::Int64, false),
        Field::new("windows", DataType::Int64, false),
        Field::new("bytes", DataType::Int64, false),
        Field::new("build_seconds", DataType::Float64, false),
        Field::new("stale", DataType::Boolean, false),
        Field::new("stale_reason", DataType::Utf8, true),
        Field::new("created_at", DataType::Timestamp(TimeUnit::Second, None), false),
    ]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}
