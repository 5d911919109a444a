//! omicsdb storage: the database directory and everything in it.
//!
//! - a compact **sequence store** (2 bits per base plus runs for N/IUPAC codes
//!   and soft-masking) with random access by `(chrom, start, end)`;
//! - **window sets**: fixed-width windows with sequence statistics, as Parquet
//!   partitioned by chromosome with small row groups for region pruning;
//! - **tracks**: omics features aggregated per window, in separate Parquet
//!   files row-aligned with their window set;
//! - a **sled catalog** committed atomically after data files are written, so
//!   a crash at any point leaves the previous state.
//!
//! ```no_run
//! use omicsdb_storage::{GenomeIngest, Store};
//! let store = Store::open("my.omicsdb")?;
//! store.ingest_genome(&GenomeIngest {
//!     assembly: "hg19".into(),
//!     path: "chr20.fa.gz".into(),
//!     width: 1024,
//!     stride: 1024,
//!     window_set: None,
//!     replace: false,
//! })?;
//! let genome = store.genome("hg19")?;
//! let seq = genome.sequence("20", 1_000_000, 1_000_100, true)?;
//! assert_eq!(seq.len(), 100);
//! # Ok::<(), omicsdb_storage::StorageError>(())
//! ```

pub mod catalog;
pub mod error;
pub mod fasta;
pub mod input;
pub mod layout;
pub mod meta;
pub mod models;
pub mod parquet_io;
pub mod progress;
pub mod region;
pub mod seqstore;
pub mod store;
pub mod tracks;
pub mod users;
pub mod annotation;
pub mod variants;
pub mod windows;

pub use error::{Result, StorageError};
pub use meta::*;
pub use seqstore::{Genome, WindowStats};
pub use store::{DEFAULT_WINDOW_SET, GenomeIngest, GenomeReport, Store};

#[cfg(test)]
mod durability_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod test_util;
