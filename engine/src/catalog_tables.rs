//! The catalog as SQL tables: `assemblies`, `chroms`, `window_sets`, `tracks`.
//! Built as in-memory tables from the catalog on every refresh.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampSecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use omicsdb_storage::{AssemblyMeta, TrackMeta, WindowSetMeta};

use crate::error::Result;

fn table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Arc<MemTable>> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

fn ts(field: &str) -> Field {
    Field::new(field, DataType::Timestamp(TimeUnit::Second, None), false)
}

/// `assemblies(name, chroms, total_length, source, created_at)`.
pub fn assemblies(list: &[AssemblyMeta]) -> Result<Arc<MemTable>> {
    table(
        vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("chroms", DataType::Int64, false),
            Field::new("total_length", DataType::Int64, false),
            Field::new("source", DataType::Utf8, false),
            ts("created_at"),
        ],
        vec![
            Arc::new(StringArray::from_iter_values(list.iter().map(|a| a.name.as_str()))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|a| a.chroms.len() as i64))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|a| a.total_length() as i64))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|a| a.source.as_str()))),
            Arc::new(TimestampSecondArray::from_iter_values(list.iter().map(|a| a.created_at as i64))),
        ],
    )
}

/// `chroms(assembly, chrom, length, n_count, softmasked)`.
pub fn chroms(list: &[AssemblyMeta]) -> Result<Arc<MemTable>> {
    let rows: Vec<(&str, &omicsdb_storage::ChromMeta)> =
        list.iter().flat_map(|a| a.chroms.iter().map(move |c| (a.name.as_str(), c))).collect();
    table(
        vec![
            Field::new("assembly", DataType::Utf8, false),
            Field::new("chrom", DataType::Utf8, false),
            Field::new("length", DataType::Int64, false),
            Field::new("n_count", DataType::Int64, false),
            Field::new("softmasked", DataType::Int64, false),
        ],
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1.name.as_str()))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.length as i64))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.n_count as i64))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.masked_count as i64))),
        ],
    )
}

/// `window_sets(name, assembly, width, stride, windows, bytes, created_at)`.
pub fn window_sets(list: &[WindowSetMeta]) -> Result<Arc<MemTable>> {
    table(
        vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("assembly", DataType::Utf8, false),
            Field::new("width", DataType::Int64, false),
            Field::new("stride", DataType::Int64, false),
            Field::new("windows", DataType::Int64, false),
            Field::new("bytes", DataType::Int64, false),
            ts("created_at"),
        ],
        vec![
            Arc::new(StringArray::from_iter_values(list.iter().map(|w| w.name.as_str()))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|w| w.assembly.as_str()))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|w| w.width as i64))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|w| w.stride as i64))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|w| w.rows() as i64))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|w| w.bytes() as i64))),
            Arc::new(TimestampSecondArray::from_iter_values(list.iter().map(|w| w.created_at as i64))),
        ],
    )
}

/// `tracks(name, assembly, assay, target, tissue, kind, aggregation, source, records, skipped, ingested_at)`.
pub fn tracks(list: &[TrackMeta]) -> Result<Arc<MemTable>> {
    table(
        vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("assembly", DataType::Utf8, false),
            Field::new("assay", DataType::Utf8, false),
            Field::new("target", DataType::Utf8, true),
            Field::new("tissue", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("aggregation", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("records", DataType::Int64, false),
            Field::new("skipped", DataType::Int64, false),
            ts("ingested_at"),
        ],
        vec![
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| t.name.as_str()))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| t.assembly.as_str()))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| t.assay.as_str()))),
            Arc::new(StringArray::from(list.iter().map(|t| t.target.clone()).collect::<Vec<_>>())),
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| t.tissue.as_str()))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| enum_name(&t.kind)))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| enum_name(&t.aggregation)))),
            Arc::new(StringArray::from_iter_values(list.iter().map(|t| t.source.as_str()))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|t| t.records as i64))),
            Arc::new(Int64Array::from_iter_values(list.iter().map(|t| t.skipped as i64))),
            Arc::new(TimestampSecondArray::from_iter_values(list.iter().map(|t| t.created_at as i64))),
        ],
    )
}

/// The serde name of a unit enum variant (e.g. `signal`, `mean`).
fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
