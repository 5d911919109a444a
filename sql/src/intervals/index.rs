//! The build side of the two-source functions: every B row, grouped per
//! chromosome, with a COITree over bedtools spans for overlap queries and the
//! rows in start and end order for nearest-interval search.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use coitrees::{COITree, GenericInterval, Interval, IntervalTree};
use datafusion::common::Result;

use super::source::Intervals;
use crate::coords::bedtools_span;
use crate::error::SqlError;
use crate::workers::Workers;

/// A B row as indexed: (span start, span end, row).
type Span = (i64, i64, u32);

/// B rows of one chromosome.
pub struct ChromIndex {
    tree: COITree<u32, u32>,
    /// (span start, span end, row), by span start.
    pub by_start: Vec<(i64, i64, u32)>,
    /// (span end, span start, row), by span end.
    pub by_end: Vec<(i64, i64, u32)>,
}

impl ChromIndex {
    /// Indexes the rows `(span start, span end, row)` of one chromosome.
    fn new(function: &'static str, mut by_start: Vec<(i64, i64, u32)>) -> Result<Self, SqlError> {
        by_start.sort_unstable();
        let mut by_end: Vec<_> = by_start.iter().map(|&(s, e, r)| (e, s, r)).collect();
        by_end.sort_unstable();
        let nodes = by_start
            .iter()
            .map(|&(s, e, r)| Ok(Interval::new(to_i32(function, s)?, to_i32(function, e - 1)?, r)))
            .collect::<Result<Vec<_>, SqlError>>()?;
        Ok(Self { tree: COITree::new(&nodes), by_start, by_end })
    }
}

/// Every B row, indexed.
pub struct Index {
    /// The rows.
    pub batch: RecordBatch,
    /// Their interval columns.
    pub ivs: Intervals,
    chroms: HashMap<String, ChromIndex>,
}

/// A coordinate as the tree stores it.
pub fn to_i32(function: &'static str, v: i64) -> Result<i32, SqlError> {
    i32::try_from(v).map_err(|_| SqlError::Argument { function, message: format!("coordinate {v} is outside the supported range (below 2^31)") })
}

impl Index {
    /// Indexes `batch`, the rows of source `source`, one chromosome per worker
    /// at a time.
    pub fn new(function: &'static str, source: &str, batch: RecordBatch, workers: &Workers) -> Result<Self> {
        if batch.num_rows() >= u32::MAX as usize {
            return Err(SqlError::Argument { function, message: format!("source '{source}' has more than 2^32 rows") }.into());
        }
        let ivs = Intervals::new(function, source, &batch)?;
        let mut groups: HashMap<&str, Vec<(i64, i64, u32)>> = HashMap::new();
        for i in 0..ivs.len() {
            let (s, e) = bedtools_span(ivs.start[i], ivs.end[i]);
            groups.entry(ivs.chrom.value(i)).or_default().push((s, e, i as u32));
        }
        let mut groups: Vec<(&str, Vec<Span>)> = groups.into_iter().collect();
        // Largest first, so no worker is left with a big chromosome at the end.
        groups.sort_unstable_by_key(|g| std::cmp::Reverse(g.1.len()));
        let built = workers.map(groups, |(chrom, by_start)| Ok::<_, SqlError>((chrom.to_string(), ChromIndex::new(function, by_start)?)));
        let chroms = built.into_iter().collect::<Result<HashMap<_, _>, SqlError>>()?;
        Ok(Self { batch, ivs, chroms })
    }

    /// The rows on `chrom`, if any.
    pub fn chrom(&self, chrom: &str) -> Option<&ChromIndex> {
        self.chroms.get(chrom)
    }

    /// Calls `hit(row)` for every B row whose span overlaps the span
    /// `[s, e)` (already widened by the caller where bedtools widens).
    pub fn overlapping(&self, function: &'static str, chrom: &str, s: i64, e: i64, mut hit: impl FnMut(u32)) -> Result<()> {
        let Some(c) = self.chroms.get(chrom) else { return Ok(()) };
        if e <= s {
            return Ok(());
        }
        let (qf, ql) = (to_i32(function, s.max(0))?, to_i32(function, e - 1)?);
        c.tree.query(qf, ql, |n| hit(*n.metadata()));
        Ok(())
    }

    /// [`Index::overlapping`], the rows sorted by B's position (start, end, row).
    pub fn overlapping_sorted(&self, function: &'static str, chrom: &str, s: i64, e: i64, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        self.overlapping(function, chrom, s, e, |r| out.push(r))?;
        let ivs = &self.ivs;
        out.sort_unstable_by_key(|&r| (ivs.start[r as usize], ivs.end[r as usize], r));
        Ok(())
    }
}

/// The overlap in bases of the spans `[a0, a1)` and `[b0, b1)` (0 when apart).
#[inline]
pub fn overlap_bp(a0: i64, a1: i64, b0: i64, b1: i64) -> i64 {
    (a1.min(b1) - a0.max(b0)).max(0)
}

/// The stream of a two-source function: B (`inputs[1]`, named `b` in errors)
/// indexed, then each batch of A (`inputs[0]`) mapped by `step`, on `workers`.
pub fn index_then_probe(
    function: &'static str,
    b: String,
    mut inputs: Vec<datafusion::physical_plan::SendableRecordBatchStream>,
    workers: Workers,
    step: impl Fn(&Index, RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
) -> futures::stream::BoxStream<'static, Result<RecordBatch>> {
    let (a, bs) = (inputs.remove(0), inputs.remove(0));
    super::exec::build_then_probe(bs, a, workers, move |rows, w| Index::new(function, &b, rows, w), step)
}
