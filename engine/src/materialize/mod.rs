//! Batch materialization of model predictions over a whole window set: the
//! nightly pipeline job.
//!
//! A materialization is one model version over one window set. It is computed
//! through SQL (`predict_omics`, `hyena_embed`, `hyena_loglik` over the window
//! set, chromosome by chromosome), so it uses the functions' batching,
//! deduplication and result cache, and written as Parquet: one file per
//! (chromosome, tissue) partition, each committed to the catalog on its own.
//!
//! - resumable: a killed run leaves the committed partitions; re-running the
//!   same request computes only the missing ones, so each window is stored
//!   exactly once;
//! - idempotent: with every requested partition present, a run does nothing
//!   ([`Report::nothing_to_do`]);
//! - versioned: a new model version gets its own materialization; older ones
//!   stay until a run with [`Request::prune`];
//! - locked: one run per model at a time ([`lock`]);
//! - queryable as `predictions_<model>` ([`tables`]); exportable as bigWig and
//!   bedGraph ([`export`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use omicsdb::Database;
//! use omicsdb::materialize::{Function, Request, Silent, materialize};
//! let db = Database::open("my.omicsdb")?;
//! let mut req = Request::new("micro");
//! req.window_set = "w256".into();
//! req.functions = Some(vec![Function::HyenaEmbed]);
//! let report = materialize(&db, &req, &Silent).await?;
//! println!("{} windows at {:.1} windows/s into {}", report.windows, report.windows_per_s(), report.table);
//! # Ok(()) }
//! ```

pub mod device;
pub mod error;
pub mod export;
pub mod flatten;
pub mod lock;
pub mod meta;
pub mod plan;
pub mod progress;
pub mod request;
pub mod runner;
pub mod sql;
pub mod tables;

pub use error::{MaterializeError, Result};
pub use export::{ExportOptions, ExportedFile, export};
pub use meta::{MaterializationMeta, PartitionMeta};
pub use progress::{Console, Event, Observer, Silent};
pub use request::{Function, Request, Tissues};
pub use device::{DeviceChoice, prepare};
pub use runner::{Report, materialize, materialize_with};
pub use tables::{register, table_name, tables};
