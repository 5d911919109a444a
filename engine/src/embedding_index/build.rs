//! Building an index: embed every window of the window set through the
//! materialize machinery (resumable, one committed Parquet partition per
//! chromosome, reused while the model's weights and the window set are the same),
//! then build the ANN graph (or the flat matrix) from the stored embeddings into a
//! fresh data directory and publish it in one catalog commit.
//!
//! While it builds, a staging entry keeps the new directory alive; the live entry
//! (and so the previous index) is replaced only by the final commit. A crash at any
//! step leaves the previous index as it was; the next run starts the build again
//! (the embeddings already committed are not recomputed).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};
use omicsdb_storage::catalog::CatalogBatch;
use omicsdb_storage::layout::now_unix;
use omicsdb_storage::models;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{IndexError, Result};
use super::loaded::Windows;
use super::meta::{self, HNSW_FILE, HnswParams, IndexKind, IndexMeta, Metric, VECTORS_FILE, WINDOWS_FILE};
use omicsdb_vector::{Hnsw, normalize};
use crate::Database;
use crate::materialize::meta::{ColumnSource, MaterializationMeta};
use crate::materialize::plan::parse_model;
use crate::materialize::sql::{quote_ident, quote_str};
use crate::materialize::{Function, Observer, Request, materialize};

/// The embedding functions an index can be built with.
pub const FUNCTIONS: [&str; 2] = ["embed", "hyena_embed"];

/// What `omicsdb index create` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateIndex {
    /// Index name; `None`: `<window_set>_<model>` (see [`default_name`]).
    pub name: Option<String>,
    /// Window set to index.
    pub window_set: String,
    /// Model: `name` (latest version) or `name@version`.
    pub model: String,
    /// `embed` (any family of the model zoo) or `hyena_embed` (HyenaDNA models only).
    pub function: String,
    /// Pooling of the hidden states (`mean`, `last`, `cls`: what the family has).
    pub pooling: String,
    /// Distance.
    pub metric: Metric,
    /// HNSW (approximate) or flat (exact).
    pub kind: IndexKind,
    /// HNSW parameters.
    pub hnsw: HnswParams,
}

impl CreateIndex {
    /// An HNSW cosine index of `model`'s mean-pooled `embed` over `window_set`.
    pub fn new(window_set: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            name: None,
            window_set: window_set.into(),
            model: model.into(),
            function: "embed".into(),
            pooling: "mean".into(),
            metric: Metric::Cosine,
            kind: IndexKind::Hnsw,
            hnsw: HnswParams::default(),
        }
    }
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct IndexReport {
    /// The index as published (or as it was, when up to date).
    pub meta: IndexMeta,
    /// True when an index of the same name, options, model weights and window set
    /// existed: nothing was done.
    pub up_to_date: bool,
    /// Why an index of the same name was replaced, if one was.
    pub replaced: Option<String>,
    /// Windows embedded by this run (0 when the stored embeddings were reused).
    pub embedded_windows: u64,
    /// Seconds spent embedding.
    pub embed_seconds: f64,
}

/// `<window_set>_<model>` with other characters than letters and digits as `_`.
pub fn default_name(window_set: &str, model: &str) -> String {
    let model = model.split('@').next().unwrap_or(model);
    let clean: String = format!("{window_set}_{model}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    if clean.starts_with(|c: char| c.is_ascii_alphabetic()) { clean } else { format!("idx_{clean}") }
}

/// The catalog value of a build in progress: only its directory (kept from clean-up).
#[derive(Debug, Serialize, Deserialize)]
struct Staging {
    name: String,
    dir: String,
}

/// Aborts the process at the named step when `OMICSDB_CRASH_AT` names it (crash
/// tests: the database must stay consistent at every step).
pub fn crash_point(step: &str) {
    if std::env::var("OMICSDB_CRASH_AT").is_ok_and(|v| v == step) {
        eprintln!("omicsdb: OMICSDB_CRASH_AT={step}: aborting");
        std::process::abort();
    }
}

/// Builds (or rebuilds) the index `req` asks for and publishes it.
pub async fn create_index(db: &Database, req: &CreateIndex, observer: &dyn Observer) -> Result<IndexReport> {
    let store = db.store();
    let name = req.name.clone().unwrap_or_else(|| default_name(&req.window_set, &req.model));
    meta::check_name(&name)?;
    if !FUNCTIONS.contains(&req.function.as_str()) {
        return Err(IndexError::arg("function", format!("'{}' cannot build an index; use embed or hyena_embed", req.function)));
    }
    req.hnsw.check()?;
    let (model_name, version) = parse_model(&req.model)?;
    let model = models::model(store, &model_name, version)?;
    let label = model.label();
    let ws = store.window_set(&req.window_set)?;
    let previous = store.catalog().get::<IndexMeta>(&meta::key(&name))?;
    if let Some(p) = &previous {
        let same = p.window_set == ws.name
            && p.window_set_dir == ws.dir
            && p.model == model.name
            && p.model_version == model.version
            && p.model_sha256 == model.sha256
            && p.function == req.function
            && p.pooling == req.pooling
            && p.metric == req.metric
            && p.kind == req.kind
            && p.hnsw == req.hnsw;
        if same {
            return Ok(IndexReport { meta: p.clone(), up_to_date: true, replaced: None, embedded_windows: 0, embed_seconds: 0.0 });
        }
    }
    // The function's own checks (family, pooling) before any work.
    let probe = format!(
        "SELECT {}(upper(seq), {}, {}) FROM {} LIMIT 0",
        req.function,
        quote_str(&label),
        quote_str(&req.pooling),
        quote_ident(&ws.name)
    );
    db.context().sql(&probe).await?.collect().await?;

    let started = Instant::now();
    let mut mreq = Request::new(label.clone());
    mreq.window_set = ws.name.clone();
    mreq.functions = Some(vec![Function::Embed]);
    mreq.pooling = req.pooling.clone();
    mreq.slot = Some(format!("embedding_{}", req.pooling));
    let embedded = materialize(db, &mreq, observer).await?;
    let embed_seconds = started.elapsed().as_secs_f64();

    let dir = {
        let _guard = store.write_guard();
        let (_, dir) = store.new_data_dir("embedding_index", &name)?;
        let mut batch = CatalogBatch::new();
        batch.put(meta::staging_key(&name), &Staging { name: name.clone(), dir: dir.clone() })?;
        store.commit(batch)?;
        dir
    };
    crash_point("index:staged");

    let build_started = Instant::now();
    let threads = db.context().state().config().target_partitions().max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| IndexError::arg("threads", e.to_string()))?;
    let (windows, mut vectors, dim) = read_embeddings(store.root(), &embedded.meta)?;
    if windows.is_empty() {
        return Err(IndexError::arg("window set", format!("window set {} has no window with an embedding", ws.name)));
    }
    if req.metric == Metric::Cosine {
        pool.install(|| vectors.par_chunks_exact_mut(dim).for_each(normalize));
    }
    let abs = store.path(&dir);
    write_windows(&abs.join(WINDOWS_FILE), &windows)?;
    match req.kind {
        IndexKind::Flat => write_vectors(&abs.join(VECTORS_FILE), &vectors)?,
        IndexKind::Hnsw => {
            let index = Hnsw::build(&vectors, dim, req.metric, req.hnsw, &pool)?;
            let path = abs.join(HNSW_FILE);
            index.save(&path)?;
            File::open(&path).and_then(|f| f.sync_all()).map_err(|e| IndexError::io(&path, e))?;
        }
    }
    let bytes = dir_bytes(&abs);
    let build_seconds = build_started.elapsed().as_secs_f64();
    crash_point("index:files");

    let meta = IndexMeta {
        name: name.clone(),
        window_set: ws.name.clone(),
        window_set_dir: ws.dir.clone(),
        assembly: ws.assembly.clone(),
        model: model.name.clone(),
        model_version: model.version,
        model_sha256: model.sha256.clone(),
        function: req.function.clone(),
        pooling: req.pooling.clone(),
        metric: req.metric,
        kind: req.kind,
        hnsw: req.hnsw,
        dim,
        count: windows.len() as u64,
        dir,
        bytes,
        build_seconds,
        created_at: now_unix(),
    };
    {
        let _guard = store.write_guard();
        let mut batch = CatalogBatch::new();
        batch.put(meta::key(&name), &meta)?;
        batch.remove(meta::staging_key(&name));
        store.commit(batch)?;
    }
    db.refresh().map_err(|e| IndexError::arg("refresh", e.to_string()))?;
    let replaced = previous.map(|p| {
        if p.model_sha256 != meta.model_sha256 || p.model_version != meta.model_version {
            format!("it was built with model {}", p.model_label())
        } else if p.window_set_dir != meta.window_set_dir || p.window_set != meta.window_set {
            format!("it was built on an older version of window set {}", p.window_set)
        } else {
            "its options differed".to_string()
        }
    });
    let embedded_windows = embedded.windows;
    Ok(IndexReport { meta, up_to_date: false, replaced, embedded_windows, embed_seconds })
}

/// Removes index `name` (its files go with the next clean-up).
pub fn drop_index(db: &Database, name: &str) -> Result<()> {
    let store = db.store();
    meta::get(store, name)?;
    {
        let _guard = store.write_guard();
        let mut batch = CatalogBatch::new();
        batch.remove(meta::key(name));
        batch.remove(meta::staging_key(name));
        store.commit(batch)?;
    }
    db.refresh().map_err(|e| IndexError::arg("refresh", e.to_string()))
}

/// The windows and embeddings (row by row) of a materialization, chromosome by
/// chromosome in assembly order; windows whose embedding is NULL are left out.
pub fn read_embeddings(root: &Path, m: &MaterializationMeta) -> Result<(Windows, Vec<f32>, usize)> {
    let column = m
        .columns
        .iter()
        .find(|c| matches!(c.source, ColumnSource::Embed { .. } | ColumnSource::HyenaEmbed { .. }))
        .ok_or_else(|| IndexError::arg("materialization", format!("{} holds no embedding", m.label())))?;
    let dim = match column.source {
        ColumnSource::Embed { width, .. } | ColumnSource::HyenaEmbed { width } => width as usize,
        _ => 0,
    };
    let mut windows = Windows::default();
    let mut vectors = Vec::new();
    for p in &m.partitions {
        let path = root.join(&p.path);
        let file = File::open(&path).map_err(|e| IndexError::io(&path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let schema = builder.parquet_schema();
        let wanted = ["chrom", "start", "end", column.name.as_str()];
        let mask = ProjectionMask::columns(schema, wanted.iter().copied());
        for batch in builder.with_projection(mask).build()? {
            let batch: RecordBatch = batch?;
            let get = |n: &str| {
                batch.column_by_name(n).cloned().ok_or_else(|| IndexError::Corrupt { name: m.label(), message: format!("{} lacks column {n}", path.display()) })
            };
            let (c, s, e, v) = (get("chrom")?, get("start")?, get("end")?, get(&column.name)?);
            let (c, s, e) = (c.as_string::<i32>(), s.as_primitive::<Int64Type>(), e.as_primitive::<Int64Type>());
            let list = v.as_fixed_size_list();
            let values = list.values().as_primitive::<Float32Type>();
            for i in 0..batch.num_rows() {
                if list.is_null(i) || c.is_null(i) {
                    continue;
                }
                let row = &values.values()[i * dim..(i + 1) * dim];
                if row.iter().any(|x| !x.is_finite()) {
                    continue;
                }
                windows.push(c.value(i), s.value(i), e.value(i));
                vectors.extend_from_slice(row);
            }
        }
    }
    Ok((windows, vectors, dim))
}

fn write_vectors(path: &Path, vectors: &[f32]) -> Result<()> {
    let mut file = std::io::BufWriter::new(File::create(path).map_err(|e| IndexError::io(path, e))?);
    for v in vectors {
        file.write_all(&v.to_le_bytes()).map_err(|e| IndexError::io(path, e))?;
    }
    let file = file.into_inner().map_err(|e| IndexError::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| IndexError::io(path, e))
}

fn write_windows(path: &Path, w: &Windows) -> Result<()> {
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("chrom", DataType::Utf8, false),
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
    ]));
    let chroms: ArrayRef = std::sync::Arc::new(StringArray::from_iter_values((0..w.len()).map(|k| w.chrom_of(k))));
    let batch = RecordBatch::try_new(
        std::sync::Arc::clone(&schema),
        vec![chroms, std::sync::Arc::new(Int64Array::from(w.start.clone())), std::sync::Arc::new(Int64Array::from(w.end.clone()))],
    )?;
    let file = File::create(path).map_err(|e| IndexError::io(path, e))?;
    let mut writer = ArrowWriter::try_new(file, schema, None)?;
    writer.write(&batch)?;
    let file = writer.into_inner()?;
    file.sync_all().map_err(|e| IndexError::io(path, e))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_index_names() {
        assert_eq!(default_name("windows", "micro@2"), "windows_micro");
        assert_eq!(default_name("w1k", "Hyena-DNA.v1"), "w1k_hyena_dna_v1");
        assert_eq!(default_name("1kb", "m"), "idx_1kb_m");
        assert!(meta::check_name(&default_name("1kb", "m")).is_ok());
    }
}
