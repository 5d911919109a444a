//! Similarity search over genome windows: embedding indexes joinable with
//! intervals, tracks and predictions.
//!
//! `omicsdb index create --window-set W --model M` embeds every window of `W` with
//! `M` (the materialize machinery: resumable per chromosome, reused while the
//! model's weights and the window set are unchanged), builds an approximate
//! nearest-neighbour index with [usearch](https://github.com/unum-cloud/usearch)
//! (HNSW) or keeps the vectors for exact search (`--kind flat`), and publishes it as
//! a catalog object: the `embedding_indexes` table lists it, with `stale` set once the
//! model gets a new version or the window set is recomputed.
//!
//! SQL searches it with [`functions`]: `nearest_windows(index, vector, k [, filter])`
//! and `similar_regions(index, region | seq, k [, filter])`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use omicsdb::Database;
//! use omicsdb::embedding_index::{CreateIndex, create_index};
//! use omicsdb::materialize::Silent;
//! let db = Database::open("example.omicsdb")?;
//! let mut req = CreateIndex::new("windows", "micro");
//! req.name = Some("chr20".into());
//! let report = create_index(&db, &req, &Silent).await?;
//! println!("{} windows indexed", report.meta.count);
//! let rows = db
//!     .sql("SELECT s.region, s.distance, w.gc FROM similar_regions('chr20', '20:30,000,001-30,001,024', 5) s \
//!           JOIN windows w USING (chrom, start, \"end\") ORDER BY s.rank")
//!     .await?;
//! # let _ = rows; Ok(()) }
//! ```

pub mod build;
pub mod error;
pub mod functions;
pub mod loaded;
pub mod meta;
pub mod table;

pub use build::{CreateIndex, IndexReport, create_index, drop_index};
pub use error::IndexError;
pub use meta::{HnswParams, IndexKind, IndexMeta, Metric};
pub use omicsdb_vector::VectorError;
