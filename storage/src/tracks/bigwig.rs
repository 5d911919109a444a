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
        check_offsets(path)?;
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

/// Checks that every offset in the bigWig header (data, index, zoom levels)
/// lies inside the file: a file cut short can otherwise still read its data
/// section while its index or zoom levels are gone.
fn check_offsets(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut f = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let len = f.metadata().map_err(|e| StorageError::io(path, e))?.len();
    let mut head = [0u8; 64];
    f.read_exact(&mut head).map_err(|_| StorageError::format(path, None, "truncated bigWig: shorter than its 64-byte header"))?;
    let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) == crate::tracks::format::BIGWIG_MAGIC;
    let u64_at = |b: &[u8], at: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        if le { u64::from_le_bytes(x) } else { u64::from_be_bytes(x) }
    };
    let zoom_levels = if le { u16::from_le_bytes([head[6], head[7]]) } else { u16::from_be_bytes([head[6], head[7]]) } as usize;
    let mut offsets = vec![("chromosome tree", u64_at(&head, 8)), ("data", u64_at(&head, 16)), ("index", u64_at(&head, 24))];
    let mut zooms = vec![0u8; 24 * zoom_levels];
    f.read_exact(&mut zooms).map_err(|_| StorageError::format(path, None, "truncated bigWig: zoom headers missing"))?;
    for z in zooms.chunks(24) {
        offsets.push(("zoom data", u64_at(z, 8)));
        offsets.push(("zoom index", u64_at(z, 16)));
    }
    for (what, off) in offsets {
        if off >= len {
            return Err(StorageError::format(
                path,
                None,
                format!("truncated or corrupt bigWig: its {what} starts at byte {off} but the file has {len} bytes"),
            ));
        }
    }
    Ok(())
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
