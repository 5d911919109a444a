//! bigWig input (crate bigtools): chromosome list and streaming a
//! chromosome's intervals; and a small writer used by tests and benchmarks.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use bigtools::beddata::BedParserStreamingIterator;
use bigtools::utils::reopen::ReopenableFile;
use bigtools::{BigWigRead, BigWigWrite, Value};

use crate::error::{Result, StorageError};

/// An open bigWig file (one per thread: readers are not shared).
pub struct BigWigReader {
    path: PathBuf,
    inner: BigWigRead<ReopenableFile>,
}

impl BigWigReader {
    /// Opens `path`; a truncated or corrupt header is a format error.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let inner = BigWigRead::open(ReopenableFile { path: path.to_path_buf(), file })
            .map_err(|e| StorageError::format(path, None, format!("not a readable bigWig (truncated or corrupt?): {e}")))?;
        Ok(Self { path: path.to_path_buf(), inner })
    }

    /// The file's chromosomes and their lengths, in file order.
    pub fn chroms(&self) -> Vec<(String, u64)> {
        self.inner.chroms().iter().map(|c| (c.name.clone(), c.length as u64)).collect()
    }

    /// Calls `f(start, end, value)` for every interval of the file chromosome
    /// `chrom`, in file order; returns how many there were. Read errors
    /// (truncated data blocks, bad compression) are format errors.
    pub fn for_each(&mut self, chrom: &str, mut f: impl FnMut(u64, u64, f32)) -> Result<u64> {
        let length = self.inner.chroms().iter().find(|c| c.name == chrom).map(|c| c.length).unwrap_or(u32::MAX);
        let path = &self.path;
        let corrupt = |e: &dyn std::fmt::Display| {
            StorageError::format(path, None, format!("cannot read the data of {chrom} (truncated or corrupt bigWig?): {e}"))
        };
        let iter = self.inner.get_interval(chrom, 0, length.max(1)).map_err(|e| corrupt(&e))?;
        let mut n = 0;
        for v in iter {
            let v = v.map_err(|e| corrupt(&e))?;
            n += 1;
            f(v.start as u64, v.end as u64, v.value);
        }
        Ok(n)
    }
}

/// Writes a bigWig at `path` with chromosome sizes `chroms`, from `values`
/// `(chrom, start, end, value)` sorted by chromosome (in `chroms` order) and
/// start, non-overlapping. Used to build test and benchmark inputs.
pub fn write_bigwig(path: &Path, chroms: &[(String, u32)], values: impl Iterator<Item = (String, u32, u32, f32)> + Send + 'static) -> Result<()> {
    let sizes: HashMap<String, u32> = chroms.iter().cloned().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .map_err(|e| StorageError::io(path, e))?;
    let out = BigWigWrite::create_file(path, sizes).map_err(|e| StorageError::io(path, e))?;
    let vals = BedParserStreamingIterator::wrap_infallible_iter(values.map(|(c, start, end, value)| (c, Value { start, end, value })), false);
    out.write(vals, runtime).map_err(|e| StorageError::Data { path: path.to_path_buf(), message: format!("writing bigWig: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tracks").join(name)
    }

    #[test]
    fn reads_the_real_bigwig() {
        let mut r = BigWigReader::open(&data("times100.bw")).unwrap();
        assert_eq!(r.chroms(), vec![("chr21".to_string(), 48_129_895)]);
        let mut first = None;
        let mut covered = 0;
        let n = r
            .for_each("chr21", |s, e, v| {
                first.get_or_insert((s, e, v));
                covered += e - s;
            })
            .unwrap();
        // bioframe's docs: 2,000 intervals of 5 bp over chr21:10,000,000-10,010,000.
        assert_eq!(n, 2000);
        assert_eq!(covered, 10_000);
        assert_eq!(first.map(|f| (f.0, f.1)), Some((10_000_000, 10_000_005)));
    }

    #[test]
    fn truncated_bigwig_is_a_clear_error() {
        let bytes = std::fs::read(data("times100.bw")).unwrap();
        let dir = std::env::temp_dir().join(format!("omicsdb-bw-trunc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cut = dir.join("half.bw");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let err = BigWigReader::open(&cut).and_then(|mut r| r.for_each("chr21", |_, _, _| {}));
        let msg = err.expect_err("half a bigWig must not read").to_string();
        assert!(msg.contains("half.bw") && msg.contains("truncated or corrupt"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn written_bigwig_reads_back() {
        let dir = std::env::temp_dir().join(format!("omicsdb-bw-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.bw");
        let vals = vec![("c1".to_string(), 0, 10, 1.5f32), ("c1".to_string(), 20, 25, -2.0), ("c2".to_string(), 5, 6, 3.0)];
        write_bigwig(&path, &[("c1".into(), 100), ("c2".into(), 50)], vals.into_iter()).unwrap();
        let mut r = BigWigReader::open(&path).unwrap();
        let mut got = Vec::new();
        r.for_each("c1", |s, e, v| got.push((s, e, v))).unwrap();
        assert_eq!(got, vec![(0, 10, 1.5), (20, 25, -2.0)]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
