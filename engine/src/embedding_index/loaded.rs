//! An index opened for search: its windows (key → chrom, start, end and back) and
//! its vectors, as a usearch HNSW graph or a [`Flat`] matrix. Opened indexes are
//! kept per data directory ([`OpenIndexes`]), so a query does not reload them.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use omicsdb_storage::Store;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::error::{IndexError, Result};
use omicsdb_vector::{Flat, Hnsw, Neighbour, TopK, dot};
use super::meta::{HNSW_FILE, IndexKind, IndexMeta, Metric, VECTORS_FILE, WINDOWS_FILE};

/// When a filter keeps at most this share of an HNSW index's windows (or
/// [`EXACT_FILTER_ROWS`] windows, whichever is more), the allowed windows are compared
/// exactly instead of filtering inside the graph walk, where so selective a filter
/// would leave the walk too few candidates.
pub const EXACT_FILTER_SHARE: f64 = 0.05;
/// See [`EXACT_FILTER_SHARE`].
pub const EXACT_FILTER_ROWS: usize = 20_000;

/// The windows of an index in key order.
#[derive(Debug, Default)]
pub struct Windows {
    /// Chromosome names.
    pub chroms: Vec<String>,
    /// Chromosome (index into `chroms`) per key.
    pub chrom: Vec<u32>,
    /// 0-based start per key.
    pub start: Vec<i64>,
    /// End per key.
    pub end: Vec<i64>,
    /// Keys of each chromosome: a range, starts ascending within it.
    ranges: HashMap<String, std::ops::Range<usize>>,
}

impl Windows {
    /// Windows stored.
    pub fn len(&self) -> usize {
        self.start.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    /// Appends a window (keys are given in order: chromosome by chromosome, start ascending).
    pub fn push(&mut self, chrom: &str, start: i64, end: i64) {
        let key = self.start.len();
        let c = match self.chroms.last() {
            Some(last) if last == chrom => self.chroms.len() - 1,
            _ => {
                self.chroms.push(chrom.to_string());
                self.chroms.len() - 1
            }
        };
        self.ranges.entry(chrom.to_string()).or_insert(key..key).end = key + 1;
        self.chrom.push(c as u32);
        self.start.push(start);
        self.end.push(end);
    }

    /// The key of the window starting at `start` on `chrom`, if it is indexed.
    pub fn key_of(&self, chrom: &str, start: i64) -> Option<usize> {
        let range = self.ranges.get(chrom)?.clone();
        let i = self.start[range.clone()].binary_search(&start).ok()?;
        Some(range.start + i)
    }

    /// The chromosome of `key`.
    pub fn chrom_of(&self, key: usize) -> &str {
        &self.chroms[self.chrom[key] as usize]
    }

    /// Reads [`WINDOWS_FILE`].
    pub fn read(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| IndexError::io(path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        let mut out = Windows::default();
        for batch in reader {
            let batch: RecordBatch = batch?;
            let (Some(c), Some(s), Some(e)) = (batch.column_by_name("chrom"), batch.column_by_name("start"), batch.column_by_name("end")) else {
                return Err(IndexError::Corrupt { name: path.display().to_string(), message: "windows file lacks chrom, start or end".into() });
            };
            let (c, s, e) = (c.as_string::<i32>(), s.as_primitive::<Int64Type>(), e.as_primitive::<Int64Type>());
            for i in 0..batch.num_rows() {
                if c.is_null(i) {
                    continue;
                }
                out.push(c.value(i), s.value(i), e.value(i));
            }
        }
        Ok(out)
    }
}

/// How an opened index finds neighbours.
#[derive(Debug)]
pub enum Backend {
    /// usearch's HNSW graph (it stores the vectors too).
    Hnsw(Hnsw),
    /// Exact search over the vectors.
    Flat(Flat),
}

/// An index ready for search.
#[derive(Debug)]
pub struct LoadedIndex {
    /// Its catalog entry.
    pub meta: IndexMeta,
    /// Its windows.
    pub windows: Windows,
    /// Its vectors.
    pub backend: Backend,
}

impl LoadedIndex {
    /// Opens the files of `meta` under `root`.
    pub fn open(root: &Path, meta: &IndexMeta) -> Result<Self> {
        let dir = root.join(&meta.dir);
        let corrupt = |message: String| IndexError::Corrupt { name: meta.name.clone(), message };
        let windows = Windows::read(&dir.join(WINDOWS_FILE))?;
        if windows.len() as u64 != meta.count {
            return Err(corrupt(format!("{} windows on disk, the catalog says {}", windows.len(), meta.count)));
        }
        let backend = match meta.kind {
            IndexKind::Hnsw => {
                let path = dir.join(HNSW_FILE);
                let index = Hnsw::open(&path, meta.metric, meta.hnsw.expansion_search).map_err(|e| corrupt(format!("{}: {e}", path.display())))?;
                if index.len() as u64 != meta.count || index.dim() != meta.dim {
                    return Err(corrupt(format!(
                        "{} holds {} vectors of {} dimensions, the catalog says {} of {}",
                        path.display(), index.len(), index.dim(), meta.count, meta.dim
                    )));
                }
                Backend::Hnsw(index)
            }
            IndexKind::Flat => {
                let path = dir.join(VECTORS_FILE);
                let bytes = std::fs::read(&path).map_err(|e| IndexError::io(&path, e))?;
                let want = meta.count as usize * meta.dim * 4;
                if bytes.len() != want {
                    return Err(corrupt(format!("{} has {} bytes, {want} expected", path.display(), bytes.len())));
                }
                let vectors = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                Backend::Flat(Flat::new(meta.dim, meta.metric, vectors))
            }
        };
        Ok(Self { meta: meta.clone(), windows, backend })
    }

    /// The stored (prepared) vector of `key`.
    pub fn vector(&self, key: usize) -> Result<Vec<f32>> {
        match &self.backend {
            Backend::Flat(f) => f.vector(key as u64).map(<[f32]>::to_vec).ok_or_else(|| IndexError::arg("key", format!("no key {key}"))),
            Backend::Hnsw(index) => Ok(index.vector(key as u64)?),
        }
    }

    /// The `k` nearest windows to `query` (prepared with [`omicsdb_vector::prepare_query`]),
    /// restricted to `allowed` keys when given, nearest first.
    pub fn search(&self, query: &[f32], k: usize, allowed: Option<&[bool]>, pool: &rayon::ThreadPool) -> Result<Vec<Neighbour>> {
        match &self.backend {
            Backend::Flat(f) => Ok(f.search(query, k, allowed, pool).pop().unwrap_or_default()),
            Backend::Hnsw(index) => {
                let Some(allowed) = allowed else {
                    return Ok(index.search(query, k, None)?);
                };
                let kept = allowed.iter().filter(|&&a| a).count();
                let small = (self.windows.len() as f64 * EXACT_FILTER_SHARE) as usize;
                if kept <= small.max(EXACT_FILTER_ROWS) {
                    return self.exact_among(query, k, allowed);
                }
                let keep = |key: u64| allowed.get(key as usize).copied().unwrap_or(false);
                Ok(index.search(query, k, Some(&keep))?)
            }
        }
    }

    /// Exact comparison with the allowed windows only (a selective filter).
    fn exact_among(&self, query: &[f32], k: usize, allowed: &[bool]) -> Result<Vec<Neighbour>> {
        let q2 = dot(query, query);
        let mut top = TopK::new(k);
        for (key, _) in allowed.iter().enumerate().filter(|(_, a)| **a) {
            let v = self.vector(key)?;
            let s = dot(query, &v);
            let distance = match self.meta.metric {
                Metric::Cosine | Metric::Dot => 1.0 - s,
                Metric::L2 => (q2 + dot(&v, &v) - 2.0 * s).max(0.0).sqrt(),
            };
            top.push(Neighbour { key: key as u64, distance });
        }
        Ok(top.into_sorted())
    }
}

/// Opened indexes by data directory, shared by the session's search functions.
#[derive(Debug, Default)]
pub struct OpenIndexes {
    open: Mutex<HashMap<String, Arc<LoadedIndex>>>,
}

impl OpenIndexes {
    /// The opened index of `meta` (opening it on first use; an index rebuilt into
    /// another directory is opened afresh and the old one is dropped).
    pub fn get(&self, store: &Store, meta: &IndexMeta) -> Result<Arc<LoadedIndex>> {
        {
            let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ix) = open.get(&meta.dir) {
                return Ok(Arc::clone(ix));
            }
        }
        let loaded = Arc::new(LoadedIndex::open(store.root(), meta)?);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, ix| ix.meta.name != meta.name);
        open.insert(meta.dir.clone(), Arc::clone(&loaded));
        Ok(loaded)
    }
}
