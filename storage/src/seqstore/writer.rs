//! Streaming encoder: one chromosome's letters in, packed files out.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::codes::{ENCODE, INVALID, LOWER, OTHER};
use super::{exceptions_file, mask_file, packed_file};
use crate::error::{Result, StorageError};

/// A letter outside the IUPAC nucleotide codes at a 0-based position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBase {
    /// 0-based position within the sequence.
    pub position: u64,
    /// The offending byte.
    pub byte: u8,
}

/// What [`ChromWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenChrom {
    /// Number of bases.
    pub length: u64,
    /// Bases that are not A/C/G/T (N and other IUPAC codes).
    pub n_count: u64,
    /// Soft-masked (lowercase) bases.
    pub masked_count: u64,
}

/// Encodes one chromosome into the store's packed, exception and mask files.
pub struct ChromWriter {
    dir: PathBuf,
    index: usize,
    packed: BufWriter<File>,
    byte: u8,
    pos: u64,
    exceptions: Vec<(u64, u64, u64)>,
    masks: Vec<(u64, u64)>,
    n_count: u64,
    masked_count: u64,
}

impl ChromWriter {
    /// Starts chromosome number `index` in `dir`.
    pub fn create(dir: &Path, index: usize) -> Result<Self> {
        let path = dir.join(packed_file(index));
        let file = File::create(&path).map_err(|e| StorageError::io(&path, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
            packed: BufWriter::with_capacity(1 << 20, file),
            byte: 0,
            pos: 0,
            exceptions: Vec::new(),
            masks: Vec::new(),
            n_count: 0,
            masked_count: 0,
        })
    }

    /// Bases written so far.
    pub fn len(&self) -> u64 {
        self.pos
    }

    /// True when nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Appends letters. On a non-IUPAC letter returns its position and stops.
    pub fn push(&mut self, letters: &[u8]) -> Result<Result<(), InvalidBase>> {
        for &letter in letters {
            let code = ENCODE[letter as usize];
            if code == INVALID {
                return Ok(Err(InvalidBase { position: self.pos, byte: letter }));
            }
            let pos = self.pos;
            if code & LOWER != 0 {
                self.masked_count += 1;
                match self.masks.last_mut() {
                    Some(run) if run.1 == pos => run.1 += 1,
                    _ => self.masks.push((pos, pos + 1)),
                }
            }
            let base = code & !LOWER;
            let bits = if base == OTHER {
                self.n_count += 1;
                let upper = letter.to_ascii_uppercase() as u64;
                match self.exceptions.last_mut() {
                    Some(run) if run.1 == pos && run.2 == upper => run.1 += 1,
                    _ => self.exceptions.push((pos, pos + 1, upper)),
                }
                0
            } else {
                base
            };
            self.byte |= bits << ((pos & 3) * 2);
            if pos & 3 == 3 {
                let b = self.byte;
                self.write_byte(b)?;
                self.byte = 0;
            }
            self.pos += 1;
        }
        Ok(Ok(()))
    }

    fn write_byte(&mut self, b: u8) -> Result<()> {
        self.packed
            .write_all(&[b])
            .map_err(|e| StorageError::io(self.dir.join(packed_file(self.index)), e))
    }

    /// Flushes and fsyncs the files of this chromosome.
    pub fn finish(mut self) -> Result<WrittenChrom> {
        if self.pos & 3 != 0 {
            let b = self.byte;
            self.write_byte(b)?;
        }
        let packed_path = self.dir.join(packed_file(self.index));
        let file = self.packed.into_inner().map_err(|e| StorageError::io(&packed_path, e.into_error()))?;
        file.sync_all().map_err(|e| StorageError::io(&packed_path, e))?;
        let mut exc = Vec::with_capacity(self.exceptions.len() * 24);
        for (s, e, l) in &self.exceptions {
            exc.extend_from_slice(&s.to_le_bytes());
            exc.extend_from_slice(&e.to_le_bytes());
            exc.extend_from_slice(&l.to_le_bytes());
        }
        write_synced(&self.dir.join(exceptions_file(self.index)), &exc)?;
        let mut mask = Vec::with_capacity(self.masks.len() * 16);
        for (s, e) in &self.masks {
            mask.extend_from_slice(&s.to_le_bytes());
            mask.extend_from_slice(&e.to_le_bytes());
        }
        write_synced(&self.dir.join(mask_file(self.index)), &mask)?;
        Ok(WrittenChrom { length: self.pos, n_count: self.n_count, masked_count: self.masked_count })
    }
}

/// Writes `bytes` to `path` and fsyncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| StorageError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StorageError::io(path, e))?;
    f.sync_all().map_err(|e| StorageError::io(path, e))
}
