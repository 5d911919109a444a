//! The compact sequence store: 2 bits per base, plus runs for N and other
//! IUPAC codes and for soft-masked (lowercase) bases.
//!
//! Per chromosome `i` of an assembly's data directory:
//! - `i.2bit`: bases packed 4 per byte, base `p` in bits `2*(p%4)..` of byte `p/4`
//!   (A=0, C=1, G=2, T=3; positions covered by an exception hold 0);
//! - `i.exc`: runs of non-ACGT letters, little-endian `u64 start, u64 end, u64 letter`;
//! - `i.mask`: soft-masked runs, little-endian `u64 start, u64 end`.
//!
//! All runs are 0-based half-open, sorted and non-overlapping.

mod codes;
mod reader;
mod writer;

pub use reader::{Genome, WindowStats};
pub use writer::{ChromWriter, InvalidBase, WrittenChrom};

/// File name of the packed bases of chromosome `index`.
pub(crate) fn packed_file(index: usize) -> String {
    format!("{index}.2bit")
}

/// File name of the exception runs of chromosome `index`.
pub(crate) fn exceptions_file(index: usize) -> String {
    format!("{index}.exc")
}

/// File name of the soft-mask runs of chromosome `index`.
pub(crate) fn mask_file(index: usize) -> String {
    format!("{index}.mask")
}
