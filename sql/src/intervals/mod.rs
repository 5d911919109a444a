//! The interval algebra as table functions: every range operation of bedtools
//! over any interval source (a query, a table or view, a BED file; see
//! [`source`]), each with bedtools' flags in an options string and results equal
//! to bedtools' (tests/it/intervals.rs checks each against bedtools 2.30).
//!
//! | function | bedtools |
//! |---|---|
//! | `intersect(a, b [, '-u'/'-v' -f -F -r -e -s -S -bp])` | `intersect -wo`, `-u`, `-v` |
//! | `count_overlaps(a, b [, opts])` | `intersect -c` |
//! | `coverage(a, b [, '-hist' -s -S])` | `coverage`, `coverage -hist` |
//! | `nearest(a, b [, '-k -t -D -io -iu -id -s -S -maxdist'])` | `closest -d`, `-k`, `-D` |
//! | `window(a, b [, '-w -l -r -sw -u -v -sm -Sm'])` | `window` |
//! | `subtract(a, b [, '-A -f -s -S'])` | `subtract` |
//! | `merge(src [, '-d -s'])` | `merge` |
//! | `cluster(src [, '-d -s'])` | `cluster` |
//! | `complement(src, genome)` | `complement` |
//! | `slop(src, genome, '-b/-l/-r -s -pct')` | `slop` |
//! | `flank(src, genome, '-b/-l/-r -s -pct')` | `flank` |
//! | `makewindows(src_or_genome [, '-w -s' / '-n'])` | `makewindows -b` / `-g` |
//!
//! Inputs need not be sorted. Two-source functions read B into a
//! per-chromosome index and stream A ([`exec::build_then_probe`]); the
//! one-source ones that sort (`merge`, `cluster`, `complement`) read their
//! source whole. Work is spread over the session's `target_partitions`
//! threads ([`crate::workers::Workers`]): B's chromosomes are indexed side by
//! side and long A batches are probed in pieces; results keep A's order.

use std::sync::Arc;

use datafusion::prelude::SessionContext;

pub mod exec;
pub mod flags;
pub mod genome;
pub mod index;
pub mod merge;
pub mod nearest;
pub mod overlap;
pub mod shape;
pub mod source;

/// Registers every interval function in `ctx`.
pub fn register_interval_functions(ctx: &SessionContext) {
    ctx.register_udtf("intersect", Arc::new(overlap::IntersectFunc));
    ctx.register_udtf("count_overlaps", Arc::new(overlap::CountOverlapsFunc));
    ctx.register_udtf("coverage", Arc::new(overlap::CoverageFunc));
    ctx.register_udtf("window", Arc::new(overlap::WindowFunc));
    ctx.register_udtf("subtract", Arc::new(overlap::SubtractFunc));
    ctx.register_udtf("nearest", Arc::new(nearest::NearestFunc));
    ctx.register_udtf("merge", Arc::new(merge::MergeFunc));
    ctx.register_udtf("cluster", Arc::new(merge::ClusterFunc));
    ctx.register_udtf("complement", Arc::new(merge::ComplementFunc));
    ctx.register_udtf("slop", Arc::new(shape::SlopFunc));
    ctx.register_udtf("flank", Arc::new(shape::FlankFunc));
    ctx.register_udtf("makewindows", Arc::new(shape::MakeWindowsFunc));
}
