//! `closest('a.bed', 'b.bed')`: for each interval of A, the nearest intervals
//! of B, with `bedtools closest -d` semantics.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Builder, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema};
use coitrees::{COITree, GenericInterval, Interval, IntervalTree};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::TableProvider;

use super::bed::{self, interval_columns};
use super::{mem_table, source};
use crate::coords::bedtools_span;
use crate::error::SqlError;

const NAME: &str = "closest";

/// `closest('a.bed', 'b.bed')`: like `bedtools closest -d -a a.bed -b b.bed`
/// (default tie mode `all`). For every interval of A, the B intervals on the
/// same chromosome at the smallest distance: all overlapping B (distance 0)
/// if any, otherwise the nearest on the left and/or right (distance = gap + 1,
/// so book-ended intervals are at 1; both sides when tied). Zero-length
/// intervals are widened by one base on each side as bedtools does. An A
/// interval whose chromosome has no B interval gets one row with NULL B
/// columns and distance -1 (bedtools prints `. -1 -1` and -1).
///
/// Columns: A's columns as `read_bed` names them, B's prefixed with `b_`,
/// then `distance`. Inputs need not be sorted. Rows come in A's order; ties in
/// B's coordinate order. Both files must lie under a directory the session's
/// [`FileAccess`](super::access::FileAccess) allows.
#[derive(Debug, Default)]
pub struct ClosestFunc;

/// B intervals of one chromosome, in two orders.
struct ChromB {
    /// (span start, span end, row) by span start, for overlap and right.
    by_start: Vec<(i64, i64, u32)>,
    /// (span end, span start, row) by span end, for the left side.
    by_end: Vec<(i64, i64, u32)>,
    tree: COITree<u32, u32>,
}

fn to_i32(path: &str, v: i64) -> Result<i32, SqlError> {
    i32::try_from(v).map_err(|_| SqlError::Argument {
        function: NAME,
        message: format!("{path}: coordinate {v} is outside the supported range"),
    })
}

fn index_b(path: &str, b: &RecordBatch) -> Result<HashMap<String, ChromB>, SqlError> {
    let (chrom, start, end) = interval_columns(b).ok_or_else(|| SqlError::Argument {
        function: NAME,
        message: format!("{path}: missing chrom/start/end columns"),
    })?;
    let mut groups: HashMap<&str, Vec<(i64, i64, u32)>> = HashMap::new();
    for i in 0..b.num_rows() {
        let (s, e) = bedtools_span(start.value(i), end.value(i));
        groups.entry(chrom.value(i)).or_default().push((s, e, i as u32));
    }
    let mut out = HashMap::new();
    for (c, mut by_start) in groups {
        by_start.sort_unstable();
        let mut by_end: Vec<_> = by_start.iter().map(|&(s, e, r)| (e, s, r)).collect();
        by_end.sort_unstable();
        let nodes = by_start
            .iter()
            .map(|&(s, e, r)| Ok(Interval::new(to_i32(path, s)?, to_i32(path, e.saturating_sub(1))?, r)))
            .collect::<Result<Vec<_>, SqlError>>()?;
        out.insert(c.to_string(), ChromB { by_start, by_end, tree: COITree::new(&nodes) });
    }
    Ok(out)
}

/// (A row, B row or None, distance) for every output row.
fn pairs(
    a_path: &str,
    a: &RecordBatch,
    b: &HashMap<String, ChromB>,
) -> Result<(Vec<u32>, Vec<Option<u32>>, Vec<i64>), SqlError> {
    let (chrom, start, end) = interval_columns(a).ok_or_else(|| SqlError::Argument {
        function: NAME,
        message: format!("{a_path}: missing chrom/start/end columns"),
    })?;
    let (mut ai, mut bi, mut dist) = (Vec::new(), Vec::new(), Vec::new());
    let mut hits: Vec<(i64, i64, u32)> = Vec::new();
    for i in 0..a.num_rows() {
        let Some(cb) = b.get(chrom.value(i)) else {
            ai.push(i as u32);
            bi.push(None);
            dist.push(-1);
            continue;
        };
        let (a0, a1) = bedtools_span(start.value(i), end.value(i));
        hits.clear();
        let (qf, ql) = (to_i32(a_path, a0)?, to_i32(a_path, a1.saturating_sub(1))?);
        cb.tree.query(qf, ql, |n| {
            let r = *n.metadata();
            hits.push((i64::from(n.first()), i64::from(n.last()) + 1, r));
        });
        let mut d = 0;
        if hits.is_empty() {
            // Nothing overlaps, so every B lies wholly left or wholly right.
            let l = cb.by_end.partition_point(|&(e, _, _)| e <= a0);
            let left = (l > 0).then(|| cb.by_end[l - 1].0);
            let r = cb.by_start.partition_point(|&(s, _, _)| s < a1);
            let right = cb.by_start.get(r).map(|x| x.0);
            let dl = left.map(|e| a0 - e + 1);
            let dr = right.map(|s| s - a1 + 1);
            d = match (dl, dr) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) | (None, Some(x)) => x,
                // A chromosome in the index has at least one interval.
                (None, None) => continue,
            };
            if dl == Some(d) {
                let e = cb.by_end[l - 1].0;
                let first = cb.by_end[..l].partition_point(|&(x, _, _)| x < e);
                hits.extend(cb.by_end[first..l].iter().map(|&(e, s, row)| (s, e, row)));
            }
            if dr == Some(d) {
                let s = cb.by_start[r].0;
                let last = r + cb.by_start[r..].partition_point(|&(x, _, _)| x == s);
                hits.extend(cb.by_start[r..last].iter().copied());
            }
        }
        hits.sort_unstable();
        for &(_, _, row) in &hits {
            ai.push(i as u32);
            bi.push(Some(row));
            dist.push(d);
        }
    }
    Ok((ai, bi, dist))
}

/// Joins A and B files into the closest table.
pub fn closest(a_path: &str, a: &RecordBatch, b_path: &str, b: &RecordBatch) -> Result<RecordBatch, SqlError> {
    let err = |e: arrow::error::ArrowError| SqlError::Argument { function: NAME, message: e.to_string() };
    let index = index_b(b_path, b)?;
    let (ai, bi, dist) = pairs(a_path, a, &index)?;
    let ai = UInt32Array::from(ai);
    let bi = UInt32Array::from(bi);
    let mut fields: Vec<Field> = a.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols: Vec<ArrayRef> =
        a.columns().iter().map(|c| take(c, &ai, None)).collect::<Result<_, _>>().map_err(err)?;
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        fields.push(Field::new(format!("b_{}", f.name()), f.data_type().clone(), true));
        cols.push(take(c, &bi, None).map_err(err)?);
    }
    fields.push(Field::new("distance", DataType::Int64, false));
    let mut d = Int64Builder::with_capacity(dist.len());
    d.append_slice(&dist);
    cols.push(Arc::new(d.finish()));
    debug_assert_eq!(cols[0].len(), ai.len());
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(err)
}

impl TableFunctionImpl for ClosestFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 2 {
            return Err(SqlError::Argument {
                function: NAME,
                message: format!("expects 2 arguments (a_path, b_path), got {}", exprs.len()),
            }
            .into());
        }
        let a_path = source::string_arg(NAME, exprs, 0, "a_path")?;
        let b_path = source::string_arg(NAME, exprs, 1, "b_path")?;
        let a = bed::read_bed(&a_path, source::open_allowed(args.session(), NAME, &a_path)?, None)?;
        let b = bed::read_bed(&b_path, source::open_allowed(args.session(), NAME, &b_path)?, None)?;
        let out = closest(&a_path, &a, &b_path, &b)?;
        Ok(mem_table(NAME, out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    /// The expected rows are `bedtools closest -d` v2.30 output on the
    /// same intervals.
    #[test]
    fn matches_bedtools_closest() {
        let a = "chr1\t5\t5\tz1\nchr1\t10\t20\ta1\nchr1\t100\t200\ta3\nchr3\t1\t5\tq\n";
        let b = "chr1\t20\t30\tb1\nchr1\t0\t5\tb2\nchr1\t5\t10\tb3\nchr1\t5\t5\tbz\n\
                 chr1\t4\t5\tb4\nchr1\t230\t240\tb5\nchr1\t60\t70\tb6\nchr1\t250\t260\tb7\nchr2\t1\t2\tb8\n";
        let a = bed::read_bed("a", a.as_bytes(), None).unwrap();
        let b = bed::read_bed("b", b.as_bytes(), None).unwrap();
        let out = closest("a", &a, "b", &b).unwrap();
        let names = out.column(3).as_string::<i32>();
        let bnames = out.column(7).as_string::<i32>();
        let d = out.column(8).as_primitive::<Int64Type>();
        let mut rows: Vec<String> = (0..out.num_rows())
            .map(|i| {
                let b = if bnames.is_null(i) { "." } else { bnames.value(i) };
                format!("{} {} {}", names.value(i), b, d.value(i))
            })
            .collect();
        rows.sort();
        let mut want = vec![
            "z1 b2 0", "z1 b4 0", "z1 b3 0", "z1 bz 0", "a1 b3 1", "a1 b1 1", "a3 b6 31",
            "a3 b5 31", "q . -1",
        ];
        want.sort();
        assert_eq!(rows, want);
    }
}
