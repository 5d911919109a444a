//! The build side of an interval join: one COITree per chromosome over the
//! rows of the build batch.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use coitrees::{COITree, GenericInterval, Interval, IntervalTree};
use datafusion::common::{exec_err, Result};

use super::spec::OverlapMode;

/// Key, start and end columns of a batch, as Utf8 and Int64.
pub(crate) struct IntervalColumns {
    pub(crate) chrom: StringArray,
    pub(crate) start: Int64Array,
    pub(crate) end: Int64Array,
}

impl IntervalColumns {
    /// Casts the `chrom`/`start`/`end` columns (by index) of `batch`.
    pub(crate) fn new(batch: &RecordBatch, chrom: usize, start: usize, end: usize) -> Result<Self> {
        let as_utf8 = |c: &ArrayRef| -> Result<StringArray> {
            Ok(cast(c, &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let as_i64 = |c: &ArrayRef| -> Result<Int64Array> {
            Ok(cast(c, &DataType::Int64)?.as_primitive::<Int64Type>().clone())
        };
        Ok(Self {
            chrom: as_utf8(batch.column(chrom))?,
            start: as_i64(batch.column(start))?,
            end: as_i64(batch.column(end))?,
        })
    }

    /// Row `i` as (chrom, start, end), `None` if any is NULL.
    #[inline]
    pub(crate) fn row(&self, i: usize) -> Option<(&str, i64, i64)> {
        if self.chrom.is_null(i) || self.start.is_null(i) || self.end.is_null(i) {
            return None;
        }
        Some((self.chrom.value(i), self.start.value(i), self.end.value(i)))
    }
}

fn to_i32(v: i64, chrom: &str) -> Result<i32> {
    match i32::try_from(v) {
        Ok(x) => Ok(x),
        Err(_) => exec_err!("interval join: coordinate {v} on {chrom} is outside the supported range"),
    }
}

/// Per-chromosome interval trees over the build rows. Each tree's metadata
/// is the build row index.
pub(crate) struct BuildIndex {
    /// The build rows, all in one batch.
    pub(crate) batch: RecordBatch,
    trees: HashMap<String, COITree<u32, u32>>,
    mode: OverlapMode,
    starts: Int64Array,
    ends: Int64Array,
}

impl std::fmt::Debug for BuildIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildIndex")
            .field("rows", &self.batch.num_rows())
            .field("chroms", &self.trees.len())
            .field("mode", &self.mode)
            .finish()
    }
}

impl BuildIndex {
    /// Indexes every row of `batch` whose chrom, start and end are non-NULL.
    pub(crate) fn new(
        batch: RecordBatch,
        cols: (usize, usize, usize),
        mode: OverlapMode,
    ) -> Result<Self> {
        if batch.num_rows() >= u32::MAX as usize {
            return exec_err!("interval join: build side has more than 2^32 rows");
        }
        let c = IntervalColumns::new(&batch, cols.0, cols.1, cols.2)?;
        let mut groups: HashMap<&str, Vec<Interval<u32>>> = HashMap::new();
        for i in 0..batch.num_rows() {
            let Some((chrom, s, e)) = c.row(i) else { continue };
            let (first, last) = mode.node(s, e);
            let node = Interval::new(to_i32(first, chrom)?, to_i32(last, chrom)?, i as u32);
            groups.entry(chrom).or_default().push(node);
        }
        let trees = groups
            .into_iter()
            .map(|(chrom, nodes)| (chrom.to_string(), COITree::new(&nodes)))
            .collect();
        Ok(Self { batch, trees, mode, starts: c.start, ends: c.end })
    }

    /// The tree of `chrom`, if the build side has rows on it.
    #[inline]
    pub(crate) fn tree(&self, chrom: &str) -> Option<&COITree<u32, u32>> {
        self.trees.get(chrom)
    }

    /// Calls `hit` with every build row matching the probe interval
    /// `[start, end)` in `tree`.
    #[inline]
    pub(crate) fn query(
        &self,
        tree: &COITree<u32, u32>,
        chrom: &str,
        start: i64,
        end: i64,
        mut hit: impl FnMut(u32),
    ) -> Result<()> {
        let (qf, ql) = self.mode.query(start, end);
        let (qf, ql) = (to_i32(qf, chrom)?, to_i32(ql, chrom)?);
        let (starts, ends, mode) = (self.starts.values(), self.ends.values(), self.mode);
        tree.query(qf, ql, |node| {
            let row = *node.metadata();
            let r = row as usize;
            // The tree works on closed intervals; re-check the exact predicate.
            if mode.matches(starts[r], ends[r], start, end) {
                hit(row);
            }
        });
        Ok(())
    }
}
