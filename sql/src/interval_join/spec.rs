//! Recognising an interval-overlap condition in a join filter.

use std::sync::Arc;

use datafusion::common::JoinSide;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column};
use datafusion::physical_expr::utils::{conjunction_opt, split_conjunction};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::joins::utils::JoinFilter;

use crate::functions::overlaps::OVERLAPS_NAME;

/// How a right interval is compared with a left one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverlapMode {
    /// The SQL predicate `L.start OP R.end AND R.start OP L.end`, with `<`
    /// (strict) or `<=` for each comparison, on the raw coordinates.
    Sql {
        /// `L.start < R.end` (true) or `L.start <= R.end` (false).
        left_start_strict: bool,
        /// `R.start < L.end` (true) or `R.start <= L.end` (false).
        right_start_strict: bool,
    },
    /// `overlaps(...)`: half-open with bedtools' zero-length rule
    /// ([`crate::coords::overlaps`]).
    Bedtools,
}

impl OverlapMode {
    /// Whether `[ls, le)` (left) and `[rs, re)` (right) match.
    #[inline]
    pub fn matches(self, ls: i64, le: i64, rs: i64, re: i64) -> bool {
        match self {
            OverlapMode::Sql { left_start_strict, right_start_strict } => {
                (if left_start_strict { ls < re } else { ls <= re })
                    && (if right_start_strict { rs < le } else { rs <= le })
            }
            OverlapMode::Bedtools => crate::coords::overlaps(ls, le, rs, re),
        }
    }

    /// The closed interval indexed for a left row, such that a right row's
    /// [`Self::query`] interval intersects it exactly when they match.
    #[inline]
    pub fn node(self, ls: i64, le: i64) -> (i64, i64) {
        match self {
            OverlapMode::Sql { right_start_strict, .. } => {
                (ls, if right_start_strict { le.saturating_sub(1) } else { le })
            }
            OverlapMode::Bedtools => {
                let (s, e) = crate::coords::bedtools_span(ls, le);
                (s, e.saturating_sub(1))
            }
        }
    }

    /// The closed query interval of a right row (see [`Self::node`]).
    #[inline]
    pub fn query(self, rs: i64, re: i64) -> (i64, i64) {
        match self {
            OverlapMode::Sql { left_start_strict, .. } => {
                (rs, if left_start_strict { re.saturating_sub(1) } else { re })
            }
            OverlapMode::Bedtools => {
                let (s, e) = crate::coords::bedtools_span(rs, re);
                (s, e.saturating_sub(1))
            }
        }
    }
}

/// Column indices (in the left and right children's schemas) of an interval
/// condition, with whatever else the filter required.
#[derive(Debug, Clone)]
pub struct IntervalSpec {
    /// `start` column of the left child.
    pub left_start: usize,
    /// `end` column of the left child.
    pub left_end: usize,
    /// `start` column of the right child.
    pub right_start: usize,
    /// `end` column of the right child.
    pub right_end: usize,
    /// The comparison.
    pub mode: OverlapMode,
    /// `chrom` columns (left, right) named by `overlaps(...)`, if that was
    /// the condition.
    pub chroms: Option<(usize, usize)>,
    /// The filter's other conjuncts, applied to matching pairs.
    pub residual: Option<JoinFilter>,
}

/// The (side, child column index) of `expr` if it is a plain integer column
/// of the filter's intermediate schema.
fn int_column(filter: &JoinFilter, expr: &Arc<dyn PhysicalExpr>) -> Option<(JoinSide, usize)> {
    let c = expr.downcast_ref::<Column>()?;
    let ci = filter.column_indices().get(c.index())?;
    filter.schema().field(c.index()).data_type().is_integer().then_some((ci.side, ci.index))
}

fn text_column(filter: &JoinFilter, expr: &Arc<dyn PhysicalExpr>) -> Option<(JoinSide, usize)> {
    let c = expr.downcast_ref::<Column>()?;
    let ci = filter.column_indices().get(c.index())?;
    let t = filter.schema().field(c.index()).data_type();
    let ok = matches!(
        t,
        arrow::datatypes::DataType::Utf8
            | arrow::datatypes::DataType::LargeUtf8
            | arrow::datatypes::DataType::Utf8View
            | arrow::datatypes::DataType::Dictionary(..)
    );
    ok.then_some((ci.side, ci.index))
}

/// `x < y` / `x <= y` between a left and a right column (either way round,
/// `>`/`>=` flipped): ((side of x, x), (side of y, y), strict).
fn comparison(
    filter: &JoinFilter,
    expr: &Arc<dyn PhysicalExpr>,
) -> Option<((JoinSide, usize), (JoinSide, usize), bool)> {
    let b = expr.downcast_ref::<BinaryExpr>()?;
    let (l, r) = (int_column(filter, b.left())?, int_column(filter, b.right())?);
    if l.0 == r.0 {
        return None;
    }
    match b.op() {
        Operator::Lt => Some((l, r, true)),
        Operator::LtEq => Some((l, r, false)),
        Operator::Gt => Some((r, l, true)),
        Operator::GtEq => Some((r, l, false)),
        _ => None,
    }
}

fn residual_of(filter: &JoinFilter, rest: Vec<Arc<dyn PhysicalExpr>>) -> Option<JoinFilter> {
    conjunction_opt(rest).map(|expr| {
        JoinFilter::new(expr, filter.column_indices().to_vec(), Arc::clone(filter.schema()))
    })
}

/// Finds `L.a OP R.b AND R.c OP L.d` (the SQL overlap test, any order, `<` or
/// `<=`) or `overlaps(...)` among the conjuncts of `filter`.
pub fn from_filter(filter: &JoinFilter) -> Option<IntervalSpec> {
    let conjuncts = split_conjunction(filter.expression());
    if let Some(spec) = from_overlaps_call(filter, &conjuncts) {
        return Some(spec);
    }
    let mut left_start_cmp = None; // L.start OP R.end
    let mut right_start_cmp = None; // R.start OP L.end
    let mut rest = Vec::new();
    for c in &conjuncts {
        match comparison(filter, c) {
            Some((x, y, strict)) if x.0 == JoinSide::Left && left_start_cmp.is_none() => {
                left_start_cmp = Some((x.1, y.1, strict));
            }
            Some((x, y, strict)) if x.0 == JoinSide::Right && right_start_cmp.is_none() => {
                right_start_cmp = Some((x.1, y.1, strict));
            }
            _ => rest.push(Arc::clone(*c)),
        }
    }
    let (left_start, right_end, left_start_strict) = left_start_cmp?;
    let (right_start, left_end, right_start_strict) = right_start_cmp?;
    Some(IntervalSpec {
        left_start,
        left_end,
        right_start,
        right_end,
        mode: OverlapMode::Sql { left_start_strict, right_start_strict },
        chroms: None,
        residual: residual_of(filter, rest),
    })
}

fn from_overlaps_call(
    filter: &JoinFilter,
    conjuncts: &[&Arc<dyn PhysicalExpr>],
) -> Option<IntervalSpec> {
    for (i, c) in conjuncts.iter().enumerate() {
        let Some(f) = c.downcast_ref::<ScalarFunctionExpr>() else { continue };
        if f.name() != OVERLAPS_NAME || f.args().len() != 6 {
            continue;
        }
        let a = f.args();
        let (Some(ca), Some(sa), Some(ea), Some(cb), Some(sb), Some(eb)) = (
            text_column(filter, &a[0]),
            int_column(filter, &a[1]),
            int_column(filter, &a[2]),
            text_column(filter, &a[3]),
            int_column(filter, &a[4]),
            int_column(filter, &a[5]),
        ) else {
            continue;
        };
        // overlaps() is symmetric: put whichever interval is on the left first.
        let ((lc, ls, le), (rc, rs, re)) = if ca.0 == JoinSide::Left {
            ((ca, sa, ea), (cb, sb, eb))
        } else {
            ((cb, sb, eb), (ca, sa, ea))
        };
        let left_ok = [lc, ls, le].iter().all(|x| x.0 == JoinSide::Left);
        let right_ok = [rc, rs, re].iter().all(|x| x.0 == JoinSide::Right);
        if !(left_ok && right_ok) {
            continue;
        }
        let rest =
            conjuncts.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, e)| Arc::clone(*e)).collect();
        return Some(IntervalSpec {
            left_start: ls.1,
            left_end: le.1,
            right_start: rs.1,
            right_end: re.1,
            mode: OverlapMode::Bedtools,
            chroms: Some((lc.1, rc.1)),
            residual: residual_of(filter, rest),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The node/query mapping must agree with `matches` for every small case,
    /// including zero-length and touching intervals.
    #[test]
    fn node_and_query_agree_with_matches() {
        let modes = [
            OverlapMode::Bedtools,
            OverlapMode::Sql { left_start_strict: true, right_start_strict: true },
            OverlapMode::Sql { left_start_strict: false, right_start_strict: true },
            OverlapMode::Sql { left_start_strict: true, right_start_strict: false },
            OverlapMode::Sql { left_start_strict: false, right_start_strict: false },
        ];
        for mode in modes {
            for ls in 0..6 {
                for le in ls..7 {
                    for rs in 0..6 {
                        for re in rs..7 {
                            let (nf, nl) = mode.node(ls, le);
                            let (qf, ql) = mode.query(rs, re);
                            let closed = nf <= ql && nl >= qf;
                            assert_eq!(
                                closed,
                                mode.matches(ls, le, rs, re),
                                "{mode:?} [{ls},{le}) vs [{rs},{re})"
                            );
                        }
                    }
                }
            }
        }
    }
}
