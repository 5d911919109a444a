//! Genomic SQL for omicsdb on Apache DataFusion: table providers with region
//! pushdown, genomic scalar functions, file table functions and interval joins.
//!
//! ```
//! use std::sync::Arc;
//! use datafusion::prelude::SessionContext;
//! use omicsdb_sql::functions::{register_functions, MemorySequenceSource};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let ctx = SessionContext::new();
//! let genome = MemorySequenceSource::new("toy", [("chr1", "ACGTACGTGG")]);
//! register_functions(&ctx, Some(Arc::new(genome)));
//! let batches = ctx
//!     .sql("SELECT region('chr1', 0, 4) AS r, gc_content(sequence('chr1', 6, 10)) AS gc")
//!     .await?
//!     .collect()
//!     .await?;
//! assert_eq!(batches[0].num_rows(), 1);
//! # Ok::<(), datafusion::error::DataFusionError>(())
//! # }).unwrap();
//! ```

pub mod coords;
pub mod error;
pub mod functions;
pub mod interval_join;
pub mod intervals;
pub mod options;
pub mod table_functions;
pub mod window_table;
pub mod workers;

pub use error::SqlError;
