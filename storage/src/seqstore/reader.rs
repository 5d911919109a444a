//! Random access to a stored assembly: `sequence(chrom, start, end)` and
//! per-window base statistics, straight from the packed files (memory-mapped).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memmap2::Mmap;

use super::codes::{DECODE, GC_IN_BYTE, LETTERS_OF_BYTE};
use super::{exceptions_file, mask_file, packed_file};
use crate::error::{Result, StorageError};
use crate::meta::AssemblyMeta;

/// Counts of one window's bases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Bases in the window.
    pub length: u64,
    /// Bases that are A, C, G or T (any case).
    pub acgt: u64,
    /// Bases that are G or C.
    pub gc: u64,
    /// Soft-masked (lowercase) bases.
    pub masked: u64,
}

struct ChromData {
    name: String,
    length: u64,
    index: usize,
    loaded: OnceLock<std::result::Result<Loaded, String>>,
}

struct Loaded {
    packed: Option<Mmap>,
    exceptions: Vec<(u64, u64, u8)>,
    masks: Vec<(u64, u64)>,
}

/// A stored assembly opened for random access. Cheap to share across threads.
pub struct Genome {
    name: String,
    dir: PathBuf,
    chroms: Vec<ChromData>,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for Genome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Genome").field("name", &self.name).field("dir", &self.dir).finish()
    }
}

impl Genome {
    /// Opens the sequence files of `meta` under the database root `root`.
    pub fn open(root: &Path, meta: &AssemblyMeta) -> Self {
        let chroms: Vec<ChromData> = meta
            .chroms
            .iter()
            .enumerate()
            .map(|(index, c)| ChromData { name: c.name.clone(), length: c.length, index, loaded: OnceLock::new() })
            .collect();
        let by_name = chroms.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        Self { name: meta.name.clone(), dir: root.join(&meta.dir), chroms, by_name }
    }

    /// The assembly's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Chromosome names and lengths in FASTA order.
    pub fn chroms(&self) -> impl Iterator<Item = (&str, u64)> {
        self.chroms.iter().map(|c| (c.name.as_str(), c.length))
    }

    /// Length of `chrom`, if the assembly has it.
    pub fn chrom_length(&self, chrom: &str) -> Option<u64> {
        self.by_name.get(chrom).map(|&i| self.chroms[i].length)
    }

    fn chrom(&self, chrom: &str) -> Result<&ChromData> {
        self.by_name.get(chrom).map(|&i| &self.chroms[i]).ok_or_else(|| StorageError::NotFound {
            kind: "chromosome",
            name: format!("{chrom}' in assembly '{}", self.name),
            known: self.chroms.iter().take(8).map(|c| c.name.clone()).collect(),
        })
    }

    fn loaded<'a>(&self, c: &'a ChromData) -> Result<&'a Loaded> {
        c.loaded
            .get_or_init(|| load(&self.dir, c.index, c.length).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| StorageError::Catalog(format!("sequence store of {}: {e}", c.name)))
    }

    fn check_range(c: &ChromData, start: u64, end: u64) -> Result<()> {
        let message = if start > end {
            "start is after end"
        } else if end > c.length {
            "end is past the chromosome's end"
        } else {
            return Ok(());
        };
        Err(StorageError::Range {
            chrom: c.name.clone(),
            start,
            end,
            message: format!("{message} (length {})", c.length),
        })
    }

    /// The letters of `chrom[start..end)` exactly as in the FASTA; with
    /// `soft_mask` false every letter is uppercase.
    pub fn sequence(&self, chrom: &str, start: u64, end: u64, soft_mask: bool) -> Result<Vec<u8>> {
        let c = self.chrom(chrom)?;
        Self::check_range(c, start, end)?;
        let mut out = Vec::with_capacity((end - start) as usize);
        if start == end {
            return Ok(out);
        }
        let data = self.loaded(c)?;
        let packed = data.packed.as_deref().unwrap_or(&[]);
        let mut pos = start;
        while pos < end && pos & 3 != 0 {
            out.push(DECODE[((packed[(pos >> 2) as usize] >> ((pos & 3) * 2)) & 3) as usize]);
            pos += 1;
        }
        let full_end = end & !3;
        if pos < full_end {
            for &byte in &packed[(pos >> 2) as usize..(full_end >> 2) as usize] {
                out.extend_from_slice(&LETTERS_OF_BYTE[byte as usize]);
            }
            pos = full_end;
        }
        while pos < end {
            out.push(DECODE[((packed[(pos >> 2) as usize] >> ((pos & 3) * 2)) & 3) as usize]);
            pos += 1;
        }
        for &(s, e, letter) in runs_overlapping(&data.exceptions, start, end, |r| (r.0, r.1)) {
            for p in s.max(start)..e.min(end) {
                out[(p - start) as usize] = letter;
            }
        }
        if soft_mask {
            for &(s, e) in runs_overlapping(&data.masks, start, end, |r| (r.0, r.1)) {
                for p in s.max(start)..e.min(end) {
                    out[(p - start) as usize] = out[(p - start) as usize].to_ascii_lowercase();
                }
            }
        }
        Ok(out)
    }

    /// Base counts of `chrom[start..end)` without decoding letters.
    pub fn window_stats(&self, chrom: &str, start: u64, end: u64) -> Result<WindowStats> {
        let c = self.chrom(chrom)?;
        Self::check_range(c, start, end)?;
        if start == end {
            return Ok(WindowStats::default());
        }
        let data = self.loaded(c)?;
        let packed = data.packed.as_deref().unwrap_or(&[]);
        let mut gc = 0u64;
        let mut pos = start;
        while pos < end && pos & 3 != 0 {
            let code = (packed[(pos >> 2) as usize] >> ((pos & 3) * 2)) & 3;
            gc += (code == 1 || code == 2) as u64;
            pos += 1;
        }
        let full_end = end & !3;
        if pos < full_end {
            gc += packed[(pos >> 2) as usize..(full_end >> 2) as usize]
                .iter()
                .map(|&b| GC_IN_BYTE[b as usize] as u64)
                .sum::<u64>();
            pos = full_end;
        }
        while pos < end {
            let code = (packed[(pos >> 2) as usize] >> ((pos & 3) * 2)) & 3;
            gc += (code == 1 || code == 2) as u64;
            pos += 1;
        }
        // Exceptions are stored as code 0 (A), so they never add to `gc`.
        let other: u64 = runs_overlapping(&data.exceptions, start, end, |r| (r.0, r.1))
            .iter()
            .map(|r| r.1.min(end) - r.0.max(start))
            .sum();
        let masked: u64 = runs_overlapping(&data.masks, start, end, |r| (r.0, r.1))
            .iter()
            .map(|r| r.1.min(end) - r.0.max(start))
            .sum();
        Ok(WindowStats { length: end - start, acgt: end - start - other, gc, masked })
    }
}

/// The slice of sorted, non-overlapping runs that overlap `[start, end)`.
fn runs_overlapping<T>(runs: &[T], start: u64, end: u64, bounds: impl Fn(&T) -> (u64, u64)) -> &[T] {
    let first = runs.partition_point(|r| bounds(r).1 <= start);
    let last = first + runs[first..].partition_point(|r| bounds(r).0 < end);
    &runs[first..last]
}

fn load(dir: &Path, index: usize, length: u64) -> Result<Loaded> {
    let path = dir.join(packed_file(index));
    let file = File::open(&path).map_err(|e| StorageError::io(&path, e))?;
    let expected = length.div_ceil(4);
    let actual = file.metadata().map_err(|e| StorageError::io(&path, e))?.len();
    if actual != expected {
        return Err(StorageError::format(&path, None, format!("packed file has {actual} bytes, expected {expected}")));
    }
    // SAFETY: data files are immutable once committed; nothing writes to them.
    let packed = if expected == 0 { None } else { Some(unsafe { Mmap::map(&file) }.map_err(|e| StorageError::io(&path, e))?) };
    let exc_path = dir.join(exceptions_file(index));
    let exc = std::fs::read(&exc_path).map_err(|e| StorageError::io(&exc_path, e))?;
    let exceptions = exc
        .chunks_exact(24)
        .map(|c| (u64_at(c, 0), u64_at(c, 8), u64_at(c, 16) as u8))
        .collect();
    let mask_path = dir.join(mask_file(index));
    let mask = std::fs::read(&mask_path).map_err(|e| StorageError::io(&mask_path, e))?;
    let masks = mask.chunks_exact(16).map(|c| (u64_at(c, 0), u64_at(c, 8))).collect();
    Ok(Loaded { packed, exceptions, masks })
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}
