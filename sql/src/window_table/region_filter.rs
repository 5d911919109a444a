//! Region pushdown: turns `WHERE` conjuncts on `chrom`, `start` and `end` into
//! the chromosomes and window-index ranges a scan must read.

use std::collections::BTreeSet;

use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use datafusion::scalar::ScalarValue;

/// What the pushed-down filters allow (conservative: a superset of the rows
/// that pass them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionFilter {
    /// Allowed chromosomes; `None` = all.
    pub chroms: Option<BTreeSet<String>>,
    /// Smallest allowed `start`.
    pub start_min: Option<i64>,
    /// Largest allowed `start`.
    pub start_max: Option<i64>,
    /// Smallest allowed `end`.
    pub end_min: Option<i64>,
    /// Largest allowed `end`.
    pub end_max: Option<i64>,
}

/// How a single filter expression is used by the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterUse {
    /// Fully applied by the scan (chromosome equality / IN lists).
    Exact,
    /// Narrows what is read; DataFusion re-checks it.
    Inexact,
    /// Not used.
    Unsupported,
}

impl RegionFilter {
    /// Builds the filter from conjuncts; unknown expressions are ignored.
    pub fn from_exprs(exprs: &[Expr]) -> Self {
        let mut f = RegionFilter::default();
        for e in exprs {
            f.add(e);
        }
        f
    }

    /// Classifies one expression without applying it.
    pub fn classify(expr: &Expr) -> FilterUse {
        let mut probe = RegionFilter::default();
        match probe.add(expr) {
            Some(true) => FilterUse::Exact,
            Some(false) => FilterUse::Inexact,
            None => FilterUse::Unsupported,
        }
    }

    /// Adds one conjunct; returns Some(exact?) if understood.
    fn add(&mut self, expr: &Expr) -> Option<bool> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
                let l = self.add(left);
                let r = self.add(right);
                match (l, r) {
                    (Some(a), Some(b)) => Some(a && b),
                    (Some(_), None) | (None, Some(_)) => Some(false),
                    (None, None) => None,
                }
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if let (Some(col), Some(v)) = (column_name(left), literal(right)) {
                    self.compare(col, *op, v)
                } else if let (Some(v), Some(col)) = (literal(left), column_name(right)) {
                    self.compare(col, op.swap()?, v)
                } else {
                    None
                }
            }
            Expr::InList(list) if !list.negated && column_name(&list.expr) == Some("chrom") => {
                let mut set = BTreeSet::new();
                for item in &list.list {
                    set.insert(literal(item)?.as_str()?.to_string());
                }
                self.restrict_chroms(set);
                Some(true)
            }
            Expr::Between(Between { expr, negated: false, low, high }) => {
                let col = column_name(expr)?;
                let (lo, hi) = (literal(low)?, literal(high)?);
                let a = self.compare(col, Operator::GtEq, lo)?;
                let b = self.compare(col, Operator::LtEq, hi)?;
                Some(a && b)
            }
            _ => None,
        }
    }

    /// Keeps only the chromosomes in `set` (intersected with any earlier restriction).
    pub(super) fn restrict_chroms(&mut self, set: BTreeSet<String>) {
        self.chroms = Some(match self.chroms.take() {
            None => set,
            Some(prev) => prev.intersection(&set).cloned().collect(),
        });
    }

    fn compare(&mut self, col: &str, op: Operator, v: Lit) -> Option<bool> {
        match col {
            "chrom" if op == Operator::Eq => {
                self.restrict_chroms(BTreeSet::from([v.as_str()?.to_string()]));
                Some(true)
            }
            "start" | "end" => self.bound(col, op, v.as_i64()?).then_some(false),
            _ => None,
        }
    }

    /// Narrows `start` or `end` by `col op n`; false for an operator it
    /// does not take. Integer bounds make `>`/`<` exact as `>= n + 1` /
    /// `<= n - 1`; a bound that overflows selects nothing.
    pub(super) fn bound(&mut self, col: &str, op: Operator, n: i64) -> bool {
        let (min, max) = if col == "start" {
            (&mut self.start_min, &mut self.start_max)
        } else {
            (&mut self.end_min, &mut self.end_max)
        };
        let raise = |slot: &mut Option<i64>, x: i64| *slot = Some(slot.map_or(x, |s| s.max(x)));
        let lower = |slot: &mut Option<i64>, x: i64| *slot = Some(slot.map_or(x, |s| s.min(x)));
        match op {
            Operator::Eq => {
                raise(min, n);
                lower(max, n);
            }
            Operator::Gt => match n.checked_add(1) {
                Some(m) => raise(min, m),
                None => lower(max, i64::MIN),
            },
            Operator::GtEq => raise(min, n),
            Operator::Lt => match n.checked_sub(1) {
                Some(m) => lower(max, m),
                None => raise(min, i64::MAX),
            },
            Operator::LtEq => lower(max, n),
            _ => return false,
        }
        true
    }

    /// The inclusive range of window indexes on a chromosome of `length` that
    /// can pass the filter, for windows of `width`/`stride`; `None` if empty.
    pub fn window_range(&self, length: u64, width: u64, stride: u64) -> Option<(u64, u64)> {
        let n = length.div_ceil(stride);
        if n == 0 {
            return None;
        }
        let (w, s) = (width as i128, stride as i128);
        let mut lo: i128 = 0;
        let mut hi: i128 = n as i128 - 1;
        let ceil_div = |a: i128, b: i128| if a <= 0 { 0 } else { (a + b - 1) / b };
        if let Some(a) = self.start_min {
            lo = lo.max(ceil_div(a as i128, s));
        }
        if let Some(b) = self.start_max {
            if b < 0 {
                return None;
            }
            hi = hi.min(b as i128 / s);
        }
        // end > start, so `end <= b` implies `start <= b - 1`.
        if let Some(b) = self.end_max {
            if b < 1 {
                return None;
            }
            hi = hi.min((b as i128 - 1) / s);
        }
        // end <= start + width, so `end >= a` implies `start >= a - width`.
        if let Some(a) = self.end_min {
            lo = lo.max(ceil_div(a as i128 - w, s));
        }
        (lo <= hi).then_some((lo as u64, hi as u64))
    }

    /// Whether `chrom` can pass the filter.
    pub fn allows_chrom(&self, chrom: &str) -> bool {
        self.chroms.as_ref().is_none_or(|s| s.contains(chrom))
    }
}

enum Lit<'a> {
    Str(&'a str),
    Int(i64),
}

impl Lit<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Lit::Str(s) => Some(s),
            Lit::Int(_) => None,
        }
    }
    fn as_i64(&self) -> Option<i64> {
        match self {
            Lit::Int(n) => Some(*n),
            Lit::Str(_) => None,
        }
    }
}

fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) => Some(c.name.as_str()),
        Expr::Cast(c) => column_name(&c.expr),
        _ => None,
    }
}

fn literal(e: &Expr) -> Option<Lit<'_>> {
    match e {
        Expr::Literal(v, _) => match v {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
                Some(Lit::Str(s))
            }
            ScalarValue::Int8(Some(n)) => Some(Lit::Int(*n as i64)),
            ScalarValue::Int16(Some(n)) => Some(Lit::Int(*n as i64)),
            ScalarValue::Int32(Some(n)) => Some(Lit::Int(*n as i64)),
            ScalarValue::Int64(Some(n)) => Some(Lit::Int(*n)),
            ScalarValue::UInt8(Some(n)) => Some(Lit::Int(*n as i64)),
            ScalarValue::UInt16(Some(n)) => Some(Lit::Int(*n as i64)),
            ScalarValue::UInt32(Some(n)) => Some(Lit::Int(*n as i64)),
            ScalarValue::UInt64(Some(n)) => i64::try_from(*n).ok().map(Lit::Int),
            _ => None,
        },
        Expr::Cast(c) => literal(&c.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn chrom_equality_and_in_lists_are_exact() {
        let f = RegionFilter::from_exprs(&[col("chrom").eq(lit("chr7"))]);
        assert!(f.allows_chrom("chr7") && !f.allows_chrom("chr1"));
        assert_eq!(RegionFilter::classify(&col("chrom").eq(lit("chr7"))), FilterUse::Exact);
        let f = RegionFilter::from_exprs(&[col("chrom").in_list(vec![lit("a"), lit("b")], false)]);
        assert!(f.allows_chrom("a") && f.allows_chrom("b") && !f.allows_chrom("c"));
    }

    #[test]
    fn start_end_bounds_select_window_indexes() {
        // 1 kb windows on a 10 kb chromosome: starts 0, 1000, ..., 9000.
        let f = RegionFilter::from_exprs(&[col("start").gt_eq(lit(2000i64)), col("end").lt_eq(lit(5000i64))]);
        assert_eq!(f.window_range(10_000, 1000, 1000), Some((2, 4)));
        let f = RegionFilter::from_exprs(&[col("start").between(lit(2500i64), lit(2600i64))]);
        assert_eq!(f.window_range(10_000, 1000, 1000), None);
        let f = RegionFilter::from_exprs(&[lit(3000i64).lt(col("end"))]);
        assert_eq!(f.window_range(10_000, 1000, 1000), Some((3, 9)));
        assert_eq!(RegionFilter::classify(&col("start").gt(lit(1i64))), FilterUse::Inexact);
        assert_eq!(RegionFilter::classify(&col("gc").gt(lit(1i64))), FilterUse::Unsupported);
    }

    #[test]
    fn overlapping_windows_keep_every_candidate() {
        // width 1000, stride 500: window i covers [500 i, 500 i + 1000).
        let f = RegionFilter::from_exprs(&[col("end").gt_eq(lit(2100i64)), col("start").lt(lit(2100i64))]);
        // windows starting at 1500 and 2000 overlap 2100.
        assert_eq!(f.window_range(10_000, 1000, 500), Some((3, 4)));
    }
}
