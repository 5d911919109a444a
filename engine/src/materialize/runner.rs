//! Running a plan: for each missing (chromosome, tissue) partition, stream
//! the partition's SQL in chunks, write one Parquet file, and commit it to
//! the catalog. A crash loses at most the partition in progress; its
//! half-written file is not in the catalog and is removed by the next run.
//! A new materialization is built under its staging key and published (moved
//! to the live key, replacing the previous entry) only when complete.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use omicsdb_storage::catalog::CatalogBatch;
use omicsdb_storage::layout::now_unix;
use omicsdb_udf::ModelRegistry;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::error::{MaterializeError, Result};
use super::flatten::Flattener;
use super::lock::TargetLock;
use super::meta::{self, MaterializationMeta, PartitionMeta};
use super::plan::{PartitionTask, Plan, parse_model, plan};
use super::progress::{Event, Observer};
use super::request::Request;
use super::sql::chunk_query;
use super::tables;
use crate::Database;

/// Batches buffered between the SQL stream and the Parquet writer: the next
/// batches' sequences are fetched and run through the model while one is written.
const PREFETCH_BATCHES: usize = 2;

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The materialization after the run.
    pub meta: MaterializationMeta,
    /// SQL table name of the latest materialization of the model.
    pub table: String,
    /// True when every requested partition was already committed.
    pub nothing_to_do: bool,
    /// Why an older materialization of the same model version was replaced.
    pub replaced: Option<String>,
    /// Partitions computed in this run.
    pub partitions_computed: usize,
    /// Partitions requested.
    pub partitions_requested: usize,
    /// Windows computed in this run.
    pub windows: u64,
    /// Parquet bytes written in this run.
    pub bytes_written: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Model invocations and cache hits during the run.
    pub model_calls: u64,
    /// Windows answered from the result cache.
    pub cache_hits: u64,
    /// Labels (`model@version` on window set) of the materializations removed by `prune`.
    pub pruned: Vec<String>,
}

impl Report {
    /// Windows computed per second of wall time.
    pub fn windows_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.windows as f64 / s } else { 0.0 }
    }
}

/// Materializes `req`: takes the model's lock, plans, computes the missing
/// partitions, prunes if asked, and registers the predictions tables on `db`.
pub async fn materialize(db: &Database, req: &Request, observer: &dyn Observer) -> Result<Report> {
    materialize_with(db, req, db.models(), observer).await
}

/// [`materialize`], counting model calls on `registry` (the one the session's
/// model functions use, see [`super::device::prepare`]).
pub async fn materialize_with(db: &Database, req: &Request, registry: &ModelRegistry, observer: &dyn Observer) -> Result<Report> {
    let (model_name, _) = parse_model(&req.model)?;
    let _lock = TargetLock::acquire(db.store().root(), &model_name)?;
    let started = Instant::now();
    let plan = plan(db, req).await?;
    let stats = &registry.stats;
    let (calls0, hits0) = (stats.model_calls(), stats.cache_hits());
    let Plan { mut meta, fresh, staged, replaced, stride, requested, todo, .. } = plan.clone();
    let label = meta.label();
    observer.event(&Event::Planned {
        label: &label,
        window_set: &meta.window_set,
        todo_windows: plan.todo_windows(),
        todo_partitions: todo.len(),
        done_windows: plan.done_windows(),
    });
    let key = if staged { meta.staging_key() } else { meta.key() };
    if fresh {
        commit(db, &key, &meta)?;
    } else {
        remove_uncommitted_files(db, &meta)?;
    }
    let mut windows = 0;
    let mut bytes_written = 0;
    let result = async {
        for task in &todo {
            let part = run_partition(db, &meta, task, stride, req.chunk_windows.max(1), observer).await?;
            windows += part.rows;
            bytes_written += part.bytes;
            observer.event(&Event::PartitionCommitted { chrom: &part.chrom, tissue: part.tissue.as_deref(), rows: part.rows, bytes: part.bytes });
            meta.partitions.push(part);
            meta.updated_at = now_unix();
            commit(db, &key, &meta)?;
        }
        Ok::<_, MaterializeError>(())
    }
    .await;
    observer.event(&Event::Finished);
    result?;
    let complete = requested.iter().all(|t| meta.partition(&t.chrom, t.tissue.as_deref()).is_some());
    if staged && complete {
        publish(db, &meta)?;
    }
    let pruned = if req.prune && complete { prune(db, &meta)? } else { Vec::new() };
    db.refresh()?;
    tables::register(db)?;
    Ok(Report {
        table: tables::table_name(&meta.model),
        nothing_to_do: todo.is_empty(),
        replaced,
        partitions_computed: todo.len(),
        partitions_requested: requested.len(),
        windows,
        bytes_written,
        elapsed: started.elapsed(),
        model_calls: stats.model_calls() - calls0,
        cache_hits: stats.cache_hits() - hits0,
        pruned,
        meta,
    })
}

fn commit(db: &Database, key: &str, meta: &MaterializationMeta) -> Result<()> {
    let _guard = db.store().write_guard();
    let mut batch = CatalogBatch::new();
    batch.put(key, meta)?;
    db.store().commit(batch)?;
    Ok(())
}

/// Moves a complete staged entry to the live key in one commit: the previous
/// live entry of the same key (and, by the commit's clean-up, its files) is
/// replaced only now, when the new one has every requested partition.
fn publish(db: &Database, meta: &MaterializationMeta) -> Result<()> {
    let _guard = db.store().write_guard();
    let mut batch = CatalogBatch::new();
    batch.remove(meta.staging_key());
    batch.put(meta.key(), meta)?;
    db.store().commit(batch)?;
    Ok(())
}

/// Files in the data directory that no committed partition names: left by
/// a run killed while writing. Safe to delete under the model's lock.
fn remove_uncommitted_files(db: &Database, meta: &MaterializationMeta) -> Result<()> {
    let dir = db.store().path(&meta.dir);
    let keep: HashSet<String> = meta.partitions.iter().map(|p| p.path.clone()).collect();
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let rel = format!("{}/{}", meta.dir, entry.file_name().to_string_lossy());
        if !keep.contains(&rel) {
            std::fs::remove_file(entry.path()).map_err(|e| MaterializeError::io(entry.path(), e))?;
        }
    }
    Ok(())
}

async fn run_partition(
    db: &Database,
    meta: &MaterializationMeta,
    task: &PartitionTask,
    stride: u64,
    chunk: u64,
    observer: &dyn Observer,
) -> Result<PartitionMeta> {
    let tissue = task.tissue.as_deref();
    observer.event(&Event::PartitionStarted { chrom: &task.chrom, tissue });
    let fail = |message: String| MaterializeError::Partition {
        model: meta.label(),
        chrom: task.chrom.clone(),
        tissue: tissue.unwrap_or("-").to_string(),
        message,
    };
    let flattener = Flattener::new(meta, tissue);
    let name = format!("part-{:x}-{:x}.parquet", now_nanos(), std::process::id());
    let rel = format!("{}/{name}", meta.dir);
    let path = db.store().path(&rel);
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| MaterializeError::io(&tmp, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(16 * 1024))
        .build();
    let mut writer = ArrowWriter::try_new(file, Arc::clone(flattener.schema()), Some(props))
        .map_err(|e| MaterializeError::parquet(&tmp, e))?;

    // The producer runs the chunk queries on its own task, so the model works
    // on the next batches while this task flattens and writes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(PREFETCH_BATCHES);
    let queries: Vec<String> = (0..task.rows)
        .step_by(chunk as usize)
        .map(|first| chunk_query(meta, &task.chrom, tissue, stride, first, chunk))
        .collect();
    let producer_db = db.clone();
    let producer = tokio::spawn(async move {
        for q in queries {
            let mut stream = match producer_db.sql_stream(&q).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| MaterializeError::from(crate::Error::from(e)));
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        }
    });
    let mut rows = 0u64;
    let mut last_start: Option<i64> = None;
    let written: Result<()> = async {
        while let Some(batch) = rx.recv().await {
            let out = flattener.flatten(&batch?)?;
            check_order(&out, &mut last_start).map_err(&fail)?;
            writer.write(&out).map_err(|e| MaterializeError::parquet(&tmp, e))?;
            rows += out.num_rows() as u64;
            observer.event(&Event::Windows(out.num_rows() as u64));
        }
        Ok(())
    }
    .await;
    drop(rx);
    let joined = producer.await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = joined {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(format!("the query task failed: {e}")));
    }
    let file = writer.into_inner().map_err(|e| MaterializeError::parquet(&tmp, e))?;
    file.sync_all().map_err(|e| MaterializeError::io(&tmp, e))?;
    drop(file);
    if rows != task.rows {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(format!("the queries returned {rows} windows; the window set has {}", task.rows)));
    }
    std::fs::rename(&tmp, &path).map_err(|e| MaterializeError::io(&path, e))?;
    // The rename must be durable before the catalog names the file.
    omicsdb_storage::layout::sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    let bytes = std::fs::metadata(&path).map_err(|e| MaterializeError::io(&path, e))?.len();
    Ok(PartitionMeta { chrom: task.chrom.clone(), tissue: task.tissue.clone(), path: rel, rows, bytes })
}

/// Starts must increase strictly: each window once, in order (bigWig export relies on it).
fn check_order(batch: &RecordBatch, last: &mut Option<i64>) -> std::result::Result<(), String> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let Some(starts) = batch.column_by_name("start").and_then(|c| c.as_primitive_opt::<Int64Type>()) else {
        return Err("the query returned no Int64 start column".into());
    };
    for s in starts.values().iter().copied() {
        if last.is_some_and(|l| s <= l) {
            return Err(format!("window start {s} came after {}: windows out of order or repeated", last.unwrap_or(0)));
        }
        *last = Some(s);
    }
    Ok(())
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Removes the materializations of older versions of `current`'s model,
/// and any staged (unfinished) runs of those versions.
fn prune(db: &Database, current: &MaterializationMeta) -> Result<Vec<String>> {
    let old: Vec<MaterializationMeta> = meta::of_model(db.store(), &current.model)?
        .into_iter()
        .filter(|m| m.model_version < current.model_version && m.slot == current.slot)
        .collect();
    let old_staged: Vec<MaterializationMeta> = meta::list_staged(db.store())?
        .into_iter()
        .filter(|m| m.model == current.model && m.model_version < current.model_version && m.slot == current.slot)
        .collect();
    if old.is_empty() && old_staged.is_empty() {
        return Ok(Vec::new());
    }
    let _guard = db.store().write_guard();
    let mut batch = CatalogBatch::new();
    for m in &old {
        batch.remove(m.key());
    }
    for m in &old_staged {
        batch.remove(m.staging_key());
    }
    db.store().commit(batch)?;
    Ok(old.iter().map(|m| format!("{} on {}", m.label(), m.window_set)).collect())
}
