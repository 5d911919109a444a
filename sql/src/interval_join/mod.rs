//! Interval-overlap joins planned with per-chromosome interval trees.
//!
//! A join whose condition is overlap on the same chromosome,
//!
//! ```sql
//! SELECT * FROM genes g JOIN peaks p
//!   ON g.chrom = p.chrom AND g.start < p."end" AND p.start < g."end"
//! -- or: ON overlaps(g.chrom, g.start, g."end", p.chrom, p.start, p."end")
//! ```
//!
//! is planned as [`IntervalJoinExec`] rather than a hash join plus filter:
//! the left (build) input is indexed with one COITree per chromosome and the
//! right input is streamed batch by batch. The SQL comparisons keep their SQL
//! meaning exactly (`<` or `<=` as written); `overlaps()` uses bedtools'
//! rules, so its results equal `bedtools intersect -wa -wb` including
//! zero-length intervals ([`crate::coords`]). Install with
//! [`interval_join_rule`] or [`register_interval_join`]; EXPLAIN then shows
//! `IntervalJoinExec`.

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;

mod exec;
mod index;
mod rule;
pub mod spec;
mod stream;

pub use exec::{IntervalColumnsSpec, IntervalJoinExec};
pub use rule::IntervalJoinRule;
pub use spec::OverlapMode;

/// The optimizer rule to add to a session's physical optimizer rules (it
/// must run after DataFusion's own rules, which `with_physical_optimizer_rule`
/// does by appending).
pub fn interval_join_rule() -> Arc<dyn PhysicalOptimizerRule + Send + Sync> {
    Arc::new(IntervalJoinRule)
}

/// Adds [`interval_join_rule`] to a session state under construction:
/// `SessionContext::new_with_state(register_interval_join(SessionStateBuilder::new().with_default_features()).build())`.
pub fn register_interval_join(builder: SessionStateBuilder) -> SessionStateBuilder {
    builder.with_physical_optimizer_rule(interval_join_rule())
}
