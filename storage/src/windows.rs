//! Window sets: fixed-width windows over an assembly with their sequence
//! statistics, one Parquet file per chromosome, computed from the sequence
//! store (never from the FASTA).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Float32Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{Result, StorageError};
use crate::meta::{ChromFile, window_count};
use crate::parquet_io::ParquetSink;
use crate::seqstore::Genome;

/// Rows per Parquet row group in window-set files and the track files aligned with them.
pub const ROW_GROUP_ROWS: u64 = 4096;

/// Schema of a window-set file: `chrom, start, end, gc, n_frac, softmask_frac`.
pub fn window_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("chrom", DataType::Utf8, false),
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("gc", DataType::Float32, true),
        Field::new("n_frac", DataType::Float32, false),
        Field::new("softmask_frac", DataType::Float32, false),
    ]))
}

/// The `[start, end)` of window `i` on a chromosome of `length`.
pub fn window_bounds(i: u64, length: u64, width: u64, stride: u64) -> (u64, u64) {
    let start = i * stride;
    (start, (start + width).min(length))
}

/// Checks a width/stride pair.
pub fn check_width_stride(width: u64, stride: u64) -> Result<()> {
    if width == 0 {
        return Err(StorageError::invalid("--window", "window width must be at least 1"));
    }
    if stride == 0 {
        return Err(StorageError::invalid("--stride", "stride must be at least 1"));
    }
    const MAX: u64 = 1 << 30;
    if width > MAX || stride > MAX {
        return Err(StorageError::invalid("--window/--stride", format!("at most {MAX} bases")));
    }
    Ok(())
}

/// Writes the window files of `genome` into `dir` (absolute), naming them
/// relative to the database root as `rel_dir/<i>.parquet`. Uses two threads;
/// `on_chrom_done` is called with the bases of each finished chromosome.
pub fn write_window_set(
    genome: &Genome,
    dir: &Path,
    rel_dir: &str,
    width: u64,
    stride: u64,
    on_chrom_done: &(dyn Fn(u64) + Sync),
) -> Result<Vec<ChromFile>> {
    check_width_stride(width, stride)?;
    let chroms: Vec<(String, u64)> = genome.chroms().map(|(n, l)| (n.to_string(), l)).collect();
    let next = AtomicUsize::new(0);
    let results: Vec<Result<Vec<(usize, ChromFile)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((chrom, length)) = chroms.get(i) else { break };
                        let file = format!("{i}.parquet");
                        let bytes = write_chrom(genome, &dir.join(&file), chrom, *length, width, stride)?;
                        done.push((
                            i,
                            ChromFile {
                                chrom: chrom.clone(),
                                path: format!("{rel_dir}/{file}"),
                                rows: window_count(*length, stride),
                                bytes,
                            },
                        ));
                        on_chrom_done(*length);
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(StorageError::Catalog("window worker panicked".into()))))
            .collect()
    });
    let mut files = Vec::with_capacity(chroms.len());
    for r in results {
        files.extend(r?);
    }
    files.sort_by_key(|(i, _)| *i);
    Ok(files.into_iter().map(|(_, f)| f).collect())
}

fn write_chrom(genome: &Genome, path: &Path, chrom: &str, length: u64, width: u64, stride: u64) -> Result<u64> {
    let schema = window_schema();
    let mut sink = ParquetSink::create(path, Arc::clone(&schema), ROW_GROUP_ROWS as usize)?;
    let n = window_count(length, stride);
    let mut i = 0;
    while i < n {
        let rows = (n - i).min(ROW_GROUP_ROWS);
        let mut chroms = StringBuilder::with_capacity(rows as usize, rows as usize * chrom.len());
        let mut starts = Int64Builder::with_capacity(rows as usize);
        let mut ends = Int64Builder::with_capacity(rows as usize);
        let mut gc = Float32Builder::with_capacity(rows as usize);
        let mut n_frac = Float32Builder::with_capacity(rows as usize);
        let mut mask = Float32Builder::with_capacity(rows as usize);
        for w in i..i + rows {
            let (start, end) = window_bounds(w, length, width, stride);
            let st = genome.window_stats(chrom, start, end)?;
            chroms.append_value(chrom);
            starts.append_value(start as i64);
            ends.append_value(end as i64);
            if st.acgt == 0 {
                gc.append_null();
            } else {
                gc.append_value(st.gc as f32 / st.acgt as f32);
            }
            let len = st.length.max(1) as f32;
            n_frac.append_value((st.length - st.acgt) as f32 / len);
            mask.append_value(st.masked as f32 / len);
        }
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(chroms.finish()),
                Arc::new(starts.finish()),
                Arc::new(ends.finish()),
                Arc::new(gc.finish()),
                Arc::new(n_frac.finish()),
                Arc::new(mask.finish()),
            ],
        )
        .map_err(|e| StorageError::Data { path: path.to_path_buf(), message: e.to_string() })?;
        sink.write(&batch)?;
        i += rows;
    }
    sink.finish()
}
