//! Omics tracks: reading signal and peak files and aggregating them per window.
//!
//! - formats: [`format::TrackFormat`] — bigWig ([`bigwig`]), bedGraph
//!   ([`bedgraph`]), wig ([`wig`]), BED/narrowPeak/broadPeak ([`peaks`]);
//! - chromosome names: [`chroms`] (exact, then the `chr`/`MT` alias rule);
//! - per-window values and their NULLs: [`accumulate`];
//! - files: one Parquet file per chromosome per window set ([`output`]);
//! - commands: [`ingest_track`], [`drop_track`], [`aggregate_stored_track`].
//!
//! ```no_run
//! use omicsdb_storage::Store;
//! use omicsdb_storage::tracks::{TrackIngest, ingest_track};
//! let store = Store::open("my.omicsdb")?;
//! let mut opts = TrackIngest::new("hg19", "atac_gm12878", "SRR891275.peaks.gz", "ATAC-seq", "GM12878");
//! opts.strict = false;
//! let report = ingest_track(&store, &opts)?;
//! if let Some(w) = report.warning() {
//!     eprintln!("warning: {w}");
//! }
//! # Ok::<(), omicsdb_storage::StorageError>(())
//! ```

pub mod accumulate;
pub mod bedgraph;
pub mod bigwig;
pub mod chroms;
pub mod collect;
pub mod format;
pub mod ingest;
pub mod output;
pub mod peaks;
pub mod run;
pub mod text;
pub mod wig;

pub use chroms::{ChromResolver, Skipped};
pub use format::TrackFormat;
pub use ingest::{RESERVED_COLUMNS, TrackIngest, TrackReport, aggregate_stored_track, drop_track, ingest_track};

#[cfg(test)]
mod tests;
