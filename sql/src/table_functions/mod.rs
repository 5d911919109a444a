//! Table functions over local files: `read_bed`, `read_fasta`, `closest`.
//!
//! They read only files under the directories of the session's
//! [`access::FileAccess`] policy; a context without one reads none.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::error::SqlError;

pub mod access;
pub mod bed;
pub mod closest;
pub mod read_bed;
pub mod read_fasta;
pub mod source;

/// Rows per record batch of the in-memory tables the functions return.
const BATCH_ROWS: usize = 8192;

/// Registers `read_bed`, `read_fasta`, `closest` and the interval algebra
/// ([`crate::intervals`]) in `ctx`. They read no file until a
/// [`access::FileAccess`] policy is installed.
pub fn register_table_functions(ctx: &SessionContext) {
    ctx.register_udtf("read_bed", Arc::new(read_bed::ReadBedFunc));
    ctx.register_udtf("read_fasta", Arc::new(read_fasta::ReadFastaFunc));
    ctx.register_udtf("closest", Arc::new(closest::ClosestFunc));
    crate::intervals::register_interval_functions(ctx);
}

/// An in-memory table over `batch`, cut into [`BATCH_ROWS`]-row slices.
pub(crate) fn mem_table(function: &'static str, batch: RecordBatch) -> Result<Arc<MemTable>, SqlError> {
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = BATCH_ROWS.min(batch.num_rows() - offset);
        parts.push(batch.slice(offset, len));
        offset += len;
    }
    MemTable::try_new(batch.schema(), vec![parts])
        .map(Arc::new)
        .map_err(|e| SqlError::Argument { function, message: e.to_string() })
}
