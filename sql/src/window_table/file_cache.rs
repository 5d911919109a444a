//! Decoded window-set and track files, kept in memory for repeated scans.
//!
//! A window set's files (and its tracks' files) never change once written:
//! ingest writes new files and swaps the catalog entry. So the decoded
//! columns of a file can be kept and sliced by later scans instead of
//! opening the file, parsing its footer and decompressing pages again, which
//! is most of the cost of a small region query. Entries are keyed by path,
//! length and modification time (a rewritten file is a different entry) and
//! evicted least recently used beyond a byte budget; a file larger than a
//! quarter of the budget is never cached and is read from Parquet as before.
//!
//! The budget is [`DEFAULT_BUDGET_BYTES`], or `OMICSDB_SCAN_CACHE_MB` from the
//! environment (0 turns the cache off).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Default byte budget of the decoded-file cache (256 MiB).
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

struct Entry {
    batch: Arc<RecordBatch>,
    bytes: usize,
    used: u64,
}

/// LRU map of decoded files under a byte budget.
struct FileCache {
    budget: usize,
    bytes: usize,
    clock: u64,
    entries: HashMap<Key, Entry>,
}

impl FileCache {
    fn get(&mut self, key: &Key) -> Option<Arc<RecordBatch>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|e| {
            e.used = clock;
            Arc::clone(&e.batch)
        })
    }

    fn insert(&mut self, key: Key, batch: Arc<RecordBatch>, bytes: usize) {
        // Older versions of the same path are dead: drop them first.
        let stale: Vec<Key> = self.entries.keys().filter(|k| k.path == key.path).cloned().collect();
        for k in stale {
            if let Some(e) = self.entries.remove(&k) {
                self.bytes -= e.bytes;
            }
        }
        while self.bytes + bytes > self.budget {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(key, Entry { batch, bytes, used: self.clock });
    }
}

/// The byte budget, read from the environment once.
fn budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("OMICSDB_SCAN_CACHE_MB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(DEFAULT_BUDGET_BYTES, |mb| mb.saturating_mul(1 << 20))
    })
}

fn cache() -> &'static Mutex<FileCache> {
    static CACHE: OnceLock<Mutex<FileCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(FileCache { budget: budget(), bytes: 0, clock: 0, entries: HashMap::new() }))
}

/// All rows and columns of the Parquet file at `path`, decoded, if the file
/// has at most `rows` rows and fits the cache; `None` means "read it from
/// Parquet instead" (too large, or the cache is off).
///
/// `rows` is the row count the catalog records for the file; a file that
/// decodes to another count is an error (the database is inconsistent).
pub fn cached_file(path: &Path, rows: u64, bytes_per_row: usize) -> Result<Option<Arc<RecordBatch>>> {
    let budget = budget();
    let estimate = (rows as usize).saturating_mul(bytes_per_row);
    if budget == 0 || estimate > budget / 4 {
        return Ok(None);
    }
    let meta = std::fs::metadata(path).map_err(|e| DataFusionError::Execution(format!("{}: {e}", path.display())))?;
    let key = Key { path: path.to_path_buf(), len: meta.len(), modified: meta.modified().ok() };
    if let Some(batch) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(Some(batch));
    }
    // Decode outside the lock: other scans go on meanwhile (two scans may
    // both decode a cold file; the second insert replaces the first).
    let batch = read_whole(path)?;
    if batch.num_rows() as u64 != rows {
        return Err(DataFusionError::Execution(format!(
            "{}: {} rows, the catalog says {rows}",
            path.display(),
            batch.num_rows()
        )));
    }
    let size = batch.get_array_memory_size();
    if size > budget / 4 {
        return Ok(Some(Arc::new(batch)));
    }
    let batch = Arc::new(batch);
    cache().lock().unwrap_or_else(|p| p.into_inner()).insert(key, Arc::clone(&batch), size);
    Ok(Some(batch))
}

fn read_whole(path: &Path) -> Result<RecordBatch> {
    let err = |e: &dyn std::fmt::Display| DataFusionError::Execution(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| err(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let schema = Arc::clone(builder.schema());
    let batches = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| err(&e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| err(&e))?;
    concat_batches(&schema, &batches).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch(n: i64) -> Arc<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        Arc::new(RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))]).unwrap())
    }

    fn key(p: &str, len: u64) -> Key {
        Key { path: PathBuf::from(p), len, modified: None }
    }

    #[test]
    fn evicts_least_recently_used_beyond_the_budget_and_replaces_rewritten_files() {
        let mut c = FileCache { budget: 300, bytes: 0, clock: 0, entries: HashMap::new() };
        c.insert(key("a", 1), batch(1), 100);
        c.insert(key("b", 1), batch(2), 100);
        c.insert(key("c", 1), batch(3), 100);
        assert!(c.get(&key("a", 1)).is_some()); // a is now the most recent
        c.insert(key("d", 1), batch(4), 100); // evicts b
        assert!(c.get(&key("b", 1)).is_none());
        assert!(c.get(&key("a", 1)).is_some() && c.get(&key("c", 1)).is_some());
        assert_eq!(c.bytes, 300);
        // The same path with another length is a rewritten file: the old entry goes.
        c.insert(key("a", 2), batch(5), 100);
        assert!(c.get(&key("a", 1)).is_none());
        assert_eq!(c.get(&key("a", 2)).unwrap().num_rows(), 5);
        assert_eq!(c.bytes, 300);
    }
}
