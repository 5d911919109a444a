//! The long form of a window set's track columns: a view
//! `<window_set>_track_values(chrom, start, end, track, value)` with one row
//! per window and track, for queries over many tracks.

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::common::Column;
use datafusion::datasource::{TableProvider, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
use omicsdb_storage::TrackMeta;

use crate::error::Result;

/// Name of the long-form view of window set `ws`.
pub fn view_name(ws: &str) -> String {
    format!("{ws}_track_values")
}

/// Builds the view over `table` (the window set `ws`) for the tracks that have
/// files on it; `None` when there are none.
pub fn view(ws: &str, table: Arc<dyn TableProvider>, tracks: &[TrackMeta]) -> Result<Option<Arc<ViewTable>>> {
    let source = provider_as_source(table);
    let mut plan: Option<LogicalPlanBuilder> = None;
    for t in tracks.iter().filter(|t| t.files.contains_key(ws)) {
        for c in &t.columns {
            let col = |n: &str| Expr::Column(Column::from_name(n));
            let part = LogicalPlanBuilder::scan(ws, Arc::clone(&source), None)?
                .project(vec![
                    col("chrom"),
                    col("start"),
                    col("end"),
                    lit(c.as_str()).alias("track"),
                    col(c).alias("value"),
                ])?
                .build()?;
            plan = Some(match plan {
                None => LogicalPlanBuilder::from(part),
                Some(b) => b.union(part)?,
            });
        }
    }
    match plan {
        None => Ok(None),
        Some(b) => Ok(Some(Arc::new(ViewTable::new(b.build()?, None)))),
    }
}
