//! `read_bed('path' [, 'format'])`: a BED-like file as a table.

use std::sync::Arc;

use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::{MemTable, TableProvider};

use super::bed::{self, BedFormat};
use super::{mem_table, source};
use crate::error::SqlError;
use crate::workers::Workers;

const NAME: &str = "read_bed";

/// `read_bed('path' [, 'format'])`: reads BED3–BED12, narrowPeak or
/// broadPeak, plain, gzip or bgzip. Columns: `chrom`, `start`, `end` (0-based
/// half-open, as in the file), then `name`, `score`, `strand`, `thick_start`,
/// `thick_end`, `item_rgb`, `block_count`, `block_sizes`, `block_starts`
/// (lists of Int64) as present, or for peaks `signal_value`, `p_value`,
/// `q_value` (and `peak`). `score` is Int64 when every score is an integer,
/// Float64 when every score is a number, text otherwise; `.` is NULL.
/// Columns past the format's are text `field_<n>`. `format` (`bed3`..`bed12`,
/// `narrowPeak`, `broadPeak`) overrides detection ([`BedFormat::detect`]).
/// The file is read when the query is planned, and only if it lies under a
/// directory the session's [`FileAccess`](super::access::FileAccess) allows.
#[derive(Debug, Default)]
pub struct ReadBedFunc;

/// Reads `path`, if `session` may, into a table provider.
fn load(session: &dyn Session, path: &str, format: Option<BedFormat>) -> Result<Arc<MemTable>, SqlError> {
    let reader = source::open_allowed(session, NAME, path)?;
    let batch = bed::read_bed_on(path, reader, format, &Workers::new(session.config().target_partitions())?)?;
    mem_table(NAME, batch)
}

impl TableFunctionImpl for ReadBedFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.is_empty() || exprs.len() > 2 {
            return Err(SqlError::Argument {
                function: NAME,
                message: format!("expects 1 or 2 arguments (path [, format]), got {}", exprs.len()),
            }
            .into());
        }
        let path = source::string_arg(NAME, exprs, 0, "path")?;
        let format = match exprs.len() {
            2 => {
                let name = source::string_arg(NAME, exprs, 1, "format")?;
                Some(BedFormat::from_name(&name).ok_or_else(|| SqlError::Argument {
                    function: NAME,
                    message: format!(
                        "unknown format '{name}' (expected bed3..bed12, narrowPeak or broadPeak)"
                    ),
                })?)
            }
            _ => None,
        };
        Ok(load(args.session(), &path, format)?)
    }
}
