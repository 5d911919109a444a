//! Export of a materialization's scalar columns as genome-browser tracks: one
//! bigWig (and optionally one bedGraph) per (tissue, column), with the
//! assembly's chromosome sizes. Files are written under a temporary name and
//! renamed, so a reader never sees half a file.
//!
//! Each window becomes the interval `[start, min(end, next start))`, so
//! overlapping windows (stride < width) give non-overlapping intervals as
//! bigWig requires; windows with a NULL or NaN value are left out.
//!
//! bigWig writing runs its own small runtime: call [`export`] outside an
//! async context (e.g. from `spawn_blocking`).

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float32Type, Int64Type};
use omicsdb_storage::Store;
use omicsdb_storage::tracks::bigwig::write_bigwig;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::error::{MaterializeError, Result};
use super::meta::MaterializationMeta;

/// Where and what to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Output directory (created if absent).
    pub dir: PathBuf,
    /// Write bigWig files.
    pub bigwig: bool,
    /// Write bedGraph files.
    pub bedgraph: bool,
    /// Rewrite files that already exist (otherwise they are kept).
    pub overwrite: bool,
}

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// The file.
    pub path: PathBuf,
    /// Tissue (`None` for tissue-independent columns).
    pub tissue: Option<String>,
    /// Predictions column.
    pub column: String,
    /// Intervals written.
    pub intervals: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// False when an existing file was kept.
    pub written: bool,
}

/// File name stem of (tissue, column): `<model>_v<version>[.<tissue>].<column>`.
pub fn file_stem(meta: &MaterializationMeta, tissue: Option<&str>, column: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
    };
    match tissue {
        Some(t) => format!("{}_v{}.{}.{}", clean(&meta.model), meta.model_version, clean(t), clean(column)),
        None => format!("{}_v{}.{}", clean(&meta.model), meta.model_version, clean(column)),
    }
}

/// Exports every scalar column of every tissue of `meta` (its committed partitions).
pub fn export(store: &Store, meta: &MaterializationMeta, opts: &ExportOptions) -> Result<Vec<ExportedFile>> {
    std::fs::create_dir_all(&opts.dir).map_err(|e| MaterializeError::io(&opts.dir, e))?;
    let assembly = store.assembly(&meta.assembly)?;
    let mut sizes = Vec::with_capacity(assembly.chroms.len());
    for c in &assembly.chroms {
        let len = u32::try_from(c.length).map_err(|_| MaterializeError::Argument {
            option: "--bigwig-dir",
            message: format!("chromosome {} of {} is {} bp, longer than bigWig allows (4 Gbp)", c.name, meta.assembly, c.length),
        })?;
        sizes.push((c.name.clone(), len));
    }
    let order: HashMap<&str, usize> = assembly.chroms.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut tissues: Vec<Option<String>> = Vec::new();
    for p in &meta.partitions {
        if !tissues.contains(&p.tissue) {
            tissues.push(p.tissue.clone());
        }
    }
    let mut out = Vec::new();
    for tissue in &tissues {
        let mut parts: Vec<(String, PathBuf)> = meta
            .partitions
            .iter()
            .filter(|p| &p.tissue == tissue)
            .map(|p| (p.chrom.clone(), store.path(&p.path)))
            .collect();
        parts.sort_by_key(|(c, _)| order.get(c.as_str()).copied().unwrap_or(usize::MAX));
        for column in meta.columns.iter().filter(|c| c.is_scalar()) {
            let stem = file_stem(meta, tissue.as_deref(), &column.name);
            let formats = [(opts.bigwig, "bw"), (opts.bedgraph, "bedGraph")];
            for (wanted, ext) in formats {
                if !wanted {
                    continue;
                }
                let path = opts.dir.join(format!("{stem}.{ext}"));
                let file = ExportedFile { path: path.clone(), tissue: tissue.clone(), column: column.name.clone(), intervals: 0, bytes: 0, written: false };
                if path.exists() && !opts.overwrite {
                    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    out.push(ExportedFile { bytes, ..file });
                    continue;
                }
                let tmp = path.with_extension(format!("{ext}.tmp"));
                let intervals = if ext == "bw" {
                    write_bw(&tmp, &sizes, parts.clone(), &column.name)?
                } else {
                    write_bedgraph(&tmp, &parts, &column.name)?
                };
                std::fs::rename(&tmp, &path).map_err(|e| MaterializeError::io(&path, e))?;
                let bytes = std::fs::metadata(&path).map_err(|e| MaterializeError::io(&path, e))?.len();
                out.push(ExportedFile { intervals, bytes, written: true, ..file });
            }
        }
    }
    Ok(out)
}

/// The intervals of one column in one partition file: `(start, end, value)`,
/// ends clipped to the next start, NULL and NaN left out.
pub fn partition_intervals(path: &Path, column: &str) -> Result<Vec<(u32, u32, f32)>> {
    let file = File::open(path).map_err(|e| MaterializeError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| MaterializeError::parquet(path, e))?;
    let schema = builder.schema().clone();
    let index = |name: &str| {
        schema.index_of(name).map_err(|_| MaterializeError::Partition {
            model: String::new(),
            chrom: path.display().to_string(),
            tissue: "-".into(),
            message: format!("no column {name}"),
        })
    };
    let cols = [index("start")?, index("end")?, index(column)?];
    let mask = ProjectionMask::roots(builder.parquet_schema(), cols);
    let reader = builder.with_projection(mask).build().map_err(|e| MaterializeError::parquet(path, e))?;
    let mut rows: Vec<(i64, i64, Option<f32>)> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| MaterializeError::Engine(e.into()))?;
        let (s, e, v) = (
            batch.column(0).as_primitive::<Int64Type>(),
            batch.column(1).as_primitive::<Int64Type>(),
            batch.column(2).as_primitive::<Float32Type>(),
        );
        for i in 0..batch.num_rows() {
            rows.push((s.value(i), e.value(i), v.is_valid(i).then(|| v.value(i))));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut out = Vec::with_capacity(rows.len());
    for (i, &(start, end, value)) in rows.iter().enumerate() {
        let end = rows.get(i + 1).map_or(end, |next| end.min(next.0));
        match value {
            Some(v) if !v.is_nan() && end > start => out.push((start as u32, end as u32, v)),
            _ => {}
        }
    }
    Ok(out)
}

/// Streams partitions chromosome by chromosome into bigtools (one chromosome in memory).
struct Intervals {
    parts: VecDeque<(String, PathBuf)>,
    column: String,
    chrom: String,
    buf: std::vec::IntoIter<(u32, u32, f32)>,
    error: Arc<Mutex<Option<MaterializeError>>>,
}

impl Iterator for Intervals {
    type Item = (String, u32, u32, f32);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((s, e, v)) = self.buf.next() {
                return Some((self.chrom.clone(), s, e, v));
            }
            let (chrom, path) = self.parts.pop_front()?;
            match partition_intervals(&path, &self.column) {
                Ok(v) => {
                    self.chrom = chrom;
                    self.buf = v.into_iter();
                }
                Err(e) => {
                    *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return None;
                }
            }
        }
    }
}

fn write_bw(path: &Path, sizes: &[(String, u32)], parts: Vec<(String, PathBuf)>, column: &str) -> Result<u64> {
    let error = Arc::new(Mutex::new(None));
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&count);
    let iter = Intervals { parts: parts.into(), column: column.to_string(), chrom: String::new(), buf: Vec::new().into_iter(), error: Arc::clone(&error) }
        .inspect(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
    let written = write_bigwig(path, sizes, iter);
    if let Some(e) = error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    written?;
    Ok(count.load(std::sync::atomic::Ordering::Relaxed))
}

fn write_bedgraph(path: &Path, parts: &[(String, PathBuf)], column: &str) -> Result<u64> {
    let file = File::create(path).map_err(|e| MaterializeError::io(path, e))?;
    let mut w = BufWriter::new(file);
    let mut n = 0;
    for (chrom, p) in parts {
        for (s, e, v) in partition_intervals(p, column)? {
            writeln!(w, "{chrom}\t{s}\t{e}\t{v}").map_err(|e| MaterializeError::io(path, e))?;
            n += 1;
        }
    }
    let file = w.into_inner().map_err(|e| MaterializeError::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| MaterializeError::io(path, e))?;
    Ok(n)
}
