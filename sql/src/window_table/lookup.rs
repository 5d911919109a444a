//! Region lookups answered without a query plan.
//!
//! `SELECT cols FROM windows WHERE chrom = '20' AND start >= a AND "end" <= b`
//! is the bread and butter of a genome browser or a pipeline asking the
//! server for one region, and planning it with DataFusion (optimizer passes,
//! physical planning, a task per partition) costs far more than reading the
//! few windows it returns. [`WindowTable::lookup`] answers the filters it can
//! evaluate *exactly* (plain comparisons of `chrom`, `start` and `end` with
//! literals) by window arithmetic plus a re-check of every returned row, and
//! declines everything else, so a caller falls back to the planned query.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::error::Result;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use datafusion::scalar::ScalarValue;

use super::{RegionFilter, WindowScanExec, WindowTable};

/// A lookup's answer: the result's batches, or why it was declined.
#[derive(Debug)]
pub enum Lookup {
    /// The rows, in chromosome and window order, projected as asked.
    Rows(Vec<RecordBatch>),
    /// A filter is not a plain region comparison: plan the query instead.
    NotExact,
    /// More candidate windows than the caller's bound: plan (and stream) the query instead.
    TooLarge,
}

impl WindowTable {
    /// Evaluates `SELECT projection FROM this WHERE filters [LIMIT limit]`
    /// if every filter is a plain comparison of `chrom` (=, IN) or `start`
    /// / `end` (=, <, <=, >, >=, BETWEEN) with a non-NULL literal of the
    /// column's type, and at most `max_rows` windows can match.
    pub fn lookup(&self, projection: &[usize], filters: &[Expr], limit: Option<usize>, max_rows: u64) -> Result<Lookup> {
        let Some(region) = exact_region(filters) else {
            return Ok(Lookup::NotExact);
        };
        // Read start and end too when they must be re-checked.
        let recheck = region.start_min.is_some()
            || region.start_max.is_some()
            || region.end_min.is_some()
            || region.end_max.is_some();
        let mut cols = projection.to_vec();
        let (start_at, end_at) = if recheck {
            (push_column(&mut cols, 1), push_column(&mut cols, 2))
        } else {
            (0, 0)
        };
        // The scan's own limit is only safe when no row is dropped afterwards.
        let scan_limit = if recheck { None } else { limit };
        let scan = WindowScanExec::new(
            self.meta.clone(),
            self.root.clone(),
            Arc::clone(&self.genome),
            self.tracks.clone(),
            Arc::clone(&self.schema),
            cols,
            region.clone(),
            scan_limit,
            1,
        )?;
        let candidates = match scan_limit {
            Some(l) => scan.candidate_rows().min(l as u64),
            None => scan.candidate_rows(),
        };
        if candidates > max_rows {
            return Ok(Lookup::TooLarge);
        }
        let keep: Vec<usize> = (0..projection.len()).collect();
        let mut left = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut failed = None;
        // Stops reading as soon as the limit is reached.
        scan.for_each_inline(|batch| {
            let batch = if recheck {
                let starts = batch.column(start_at).as_primitive::<Int64Type>();
                let ends = batch.column(end_at).as_primitive::<Int64Type>();
                let mask: BooleanArray = starts
                    .values()
                    .iter()
                    .zip(ends.values())
                    .map(|(&s, &e)| Some(in_bounds(s, region.start_min, region.start_max) && in_bounds(e, region.end_min, region.end_max)))
                    .collect();
                match filter_record_batch(&batch, &mask).and_then(|b| b.project(&keep)) {
                    Ok(b) => b,
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                }
            } else {
                batch
            };
            let batch = if batch.num_rows() > left { batch.slice(0, left) } else { batch };
            left -= batch.num_rows();
            if batch.num_rows() > 0 {
                out.push(batch);
            }
            left > 0
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(Lookup::Rows(out))
    }
}

/// Appends column `c` to the projection unless present; its position.
fn push_column(cols: &mut Vec<usize>, c: usize) -> usize {
    cols.iter().position(|&x| x == c).unwrap_or_else(|| {
        cols.push(c);
        cols.len() - 1
    })
}

fn in_bounds(v: i64, min: Option<i64>, max: Option<i64>) -> bool {
    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
}

/// The region a conjunction of filters selects, if every filter is one the
/// lookup evaluates exactly; `None` otherwise.
pub fn exact_region(filters: &[Expr]) -> Option<RegionFilter> {
    let mut region = RegionFilter::default();
    for f in filters {
        add_exact(&mut region, f)?;
    }
    Some(region)
}

fn add_exact(region: &mut RegionFilter, e: &Expr) -> Option<()> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            add_exact(region, left)?;
            add_exact(region, right)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (col, op, value) = match (column(left), column(right)) {
                (Some(c), None) => (c, *op, right.as_ref()),
                (None, Some(c)) => (c, op.swap()?, left.as_ref()),
                _ => return None,
            };
            if !matches!(op, Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq) {
                return None;
            }
            match col {
                "chrom" if op == Operator::Eq => {
                    let chrom = string(value)?;
                    region.restrict_chroms(BTreeSet::from([chrom.to_string()]));
                    Some(())
                }
                "start" | "end" => {
                    region.bound(col, op, integer(value)?);
                    Some(())
                }
                _ => None,
            }
        }
        Expr::InList(list) if !list.negated && column(&list.expr) == Some("chrom") => {
            let chroms = list.list.iter().map(|v| string(v).map(str::to_string)).collect::<Option<BTreeSet<_>>>()?;
            region.restrict_chroms(chroms);
            Some(())
        }
        Expr::Between(Between { expr, negated: false, low, high }) => {
            let col = column(expr).filter(|c| *c == "start" || *c == "end")?;
            let (lo, hi) = (integer(low)?, integer(high)?);
            region.bound(col, Operator::GtEq, lo);
            region.bound(col, Operator::LtEq, hi);
            Some(())
        }
        _ => None,
    }
}

/// A plain column reference (no cast, no expression).
fn column(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) => Some(c.name.as_str()),
        _ => None,
    }
}

fn string(e: &Expr) -> Option<&str> {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
            Some(s)
        }
        _ => None,
    }
}

fn integer(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => match v {
            ScalarValue::Int8(Some(n)) => Some(*n as i64),
            ScalarValue::Int16(Some(n)) => Some(*n as i64),
            ScalarValue::Int32(Some(n)) => Some(*n as i64),
            ScalarValue::Int64(Some(n)) => Some(*n),
            ScalarValue::UInt8(Some(n)) => Some(*n as i64),
            ScalarValue::UInt16(Some(n)) => Some(*n as i64),
            ScalarValue::UInt32(Some(n)) => Some(*n as i64),
            ScalarValue::UInt64(Some(n)) => i64::try_from(*n).ok(),
            _ => None,
        },
        // `-5` is planned as a negation of the literal 5.
        Expr::Negative(inner) => integer(inner)?.checked_neg(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{cast, col, lit};

    #[test]
    fn only_plain_region_comparisons_are_exact() {
        let r = exact_region(&[col("chrom").eq(lit("20")), col("start").gt(lit(99i64)), lit(500i64).gt_eq(col("end"))]).unwrap();
        assert!(r.allows_chrom("20") && !r.allows_chrom("21"));
        assert_eq!((r.start_min, r.end_max), (Some(100), Some(500)));
        let r = exact_region(&[col("start").between(lit(10i32), lit(20i32)), col("start").lt(lit(15i64))]).unwrap();
        assert_eq!((r.start_min, r.start_max), (Some(10), Some(14)));
        let r = exact_region(&[col("start").gt_eq(Expr::Negative(Box::new(lit(7i64))))]).unwrap();
        assert_eq!(r.start_min, Some(-7));
        let r = exact_region(&[col("start").between(lit(10i32), lit(20i32)), col("start").lt(lit(15i64))]).unwrap();
        assert_eq!((r.start_min, r.start_max), (Some(10), Some(14)));
        // Casts, other columns, other operators, NULLs, strings for integers: not exact.
        for f in [
            cast(col("start"), datafusion::arrow::datatypes::DataType::Utf8).eq(lit("5")),
            col("gc").gt(lit(0.5f32)),
            col("start").not_eq(lit(5i64)),
            col("start").eq(lit(ScalarValue::Int64(None))),
            col("start").eq(lit("5")),
            col("chrom").lt(lit("5")),
            col("start").eq(lit(1.5f64)),
            col("chrom").in_list(vec![lit("1")], true),
        ] {
            assert!(exact_region(&[f.clone()]).is_none(), "{f} must not be exact");
        }
    }

    #[test]
    fn overflowing_strict_bounds_select_nothing() {
        let r = exact_region(&[col("start").gt(lit(i64::MAX))]).unwrap();
        assert!(!in_bounds(0, r.start_min, r.start_max) && !in_bounds(i64::MAX, r.start_min, r.start_max));
        let r = exact_region(&[col("end").lt(lit(i64::MIN))]).unwrap();
        assert!(!in_bounds(0, r.end_min, r.end_max));
    }
}
