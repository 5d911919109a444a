//! Opening input files: plain, gzip or bgzip (detected from the magic bytes),
//! with a byte counter for progress reporting.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, StorageError};

/// Counts the bytes read from the underlying (possibly compressed) file.
#[derive(Debug, Clone, Default)]
pub struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input: a buffered reader over the decompressed bytes.
pub struct Input {
    /// Decompressed contents.
    pub reader: Box<dyn BufRead + Send>,
    /// Size of the file on disk.
    pub file_bytes: u64,
    /// Compressed bytes consumed so far.
    pub counter: ByteCounter,
    /// Whether the file is gzip/bgzip compressed.
    pub compressed: bool,
}

/// Opens `path`, transparently decompressing gzip and bgzip.
pub fn open_input(path: &Path) -> Result<Input> {
    let mut file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let file_bytes = file.metadata().map_err(|e| StorageError::io(path, e))?.len();
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(StorageError::format(path, None, "is a directory, not a file"));
    }
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(|e| StorageError::io(path, e))?;
    let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let counter = ByteCounter::default();
    let counting = Counting { inner: file, counter: counter.clone() };
    let compressed = n == 2 && magic == [0x1f, 0x8b];
    let reader: Box<dyn BufRead + Send> = if compressed {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, counting))))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, counting))
    };
    Ok(Input { reader, file_bytes, counter, compressed })
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        let n = file.read(&mut buf[total..])?;
        if n == 0 {
            break;
        }
        total += n;
    }
    Ok(total)
}
