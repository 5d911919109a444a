//! Writing the Parquet files of window sets and tracks: fixed row-group size
//! (so files of one window set stay row-aligned), page statistics for pruning,
//! fsync before the catalog commit makes them visible.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::error::{Result, StorageError};

/// Streams record batches into one Parquet file.
pub struct ParquetSink {
    path: std::path::PathBuf,
    writer: ArrowWriter<File>,
}

impl ParquetSink {
    /// Creates `path` for `schema`, with `row_group_rows` rows per row group.
    pub fn create(path: &Path, schema: SchemaRef, row_group_rows: usize) -> Result<Self> {
        let file = File::create(path).map_err(|e| StorageError::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| data_err(path, e))?;
        Ok(Self { path: path.to_path_buf(), writer })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| data_err(&self.path, e))
    }

    /// Closes and fsyncs the file; returns its size in bytes.
    pub fn finish(self) -> Result<u64> {
        let path = self.path;
        let file = self.writer.into_inner().map_err(|e| data_err(&path, e))?;
        file.sync_all().map_err(|e| StorageError::io(&path, e))?;
        Ok(file.metadata().map_err(|e| StorageError::io(&path, e))?.len())
    }
}

/// Writes `batches` to `path` in one go; returns the file size.
pub fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch], row_group_rows: usize) -> Result<u64> {
    let mut sink = ParquetSink::create(path, Arc::clone(&schema), row_group_rows)?;
    for b in batches {
        sink.write(b)?;
    }
    sink.finish()
}

fn data_err(path: &Path, e: impl std::fmt::Display) -> StorageError {
    StorageError::Data { path: path.to_path_buf(), message: e.to_string() }
}
