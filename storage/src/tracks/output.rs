//! Track feature files: one Parquet file per chromosome per window set, with
//! one nullable Float32 column per track column, row-aligned with the window
//! set's file (same rows in the same order, row groups of
//! [`ROW_GROUP_ROWS`]).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{Result, StorageError};
use crate::parquet_io::ParquetSink;
use crate::windows::ROW_GROUP_ROWS;

/// Schema of a track file: the given columns, Float32, nullable.
pub fn track_schema(columns: &[String]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(|c| Field::new(c, DataType::Float32, true)).collect::<Vec<_>>()))
}

/// Writes `values[column][window]` to `path`; returns the file size.
pub fn write_track_file(path: &Path, schema: &SchemaRef, values: &[Vec<Option<f32>>]) -> Result<u64> {
    let rows = values.first().map_or(0, |v| v.len());
    let mut sink = ParquetSink::create(path, Arc::clone(schema), ROW_GROUP_ROWS as usize)?;
    let mut at = 0;
    while at < rows {
        let n = (rows - at).min(ROW_GROUP_ROWS as usize);
        let arrays: Vec<ArrayRef> =
            values.iter().map(|col| Arc::new(Float32Array::from(col[at..at + n].to_vec())) as ArrayRef).collect();
        let batch = RecordBatch::try_new(Arc::clone(schema), arrays)
            .map_err(|e| StorageError::Data { path: path.to_path_buf(), message: e.to_string() })?;
        sink.write(&batch)?;
        at += n;
    }
    sink.finish()
}

/// Reads a track file back: `values[column][window]`, in schema order.
pub fn read_track_file(path: &Path) -> Result<Vec<Vec<Option<f32>>>> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let data_err = |e: &dyn std::fmt::Display| StorageError::Data { path: path.to_path_buf(), message: e.to_string() };
    let file = std::fs::File::open(path).map_err(|e| StorageError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| data_err(&e))?.build().map_err(|e| data_err(&e))?;
    let mut out: Vec<Vec<Option<f32>>> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| data_err(&e))?;
        out.resize(batch.num_columns(), Vec::new());
        for (i, col) in batch.columns().iter().enumerate() {
            let a = col.as_any().downcast_ref::<Float32Array>().ok_or_else(|| data_err(&"not a Float32 track column"))?;
            out[i].extend(a.iter());
        }
    }
    Ok(out)
}
