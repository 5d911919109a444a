//! Interval arithmetic with bedtools' conventions, shared by `overlaps()`,
//! `interval_distance()`, the interval join and `closest()`.
//!
//! Intervals are 0-based half-open. bedtools treats a zero-length interval
//! `[p, p)` (an insertion point) as if it were `[p-1, p+1)`: it overlaps every
//! interval that touches position `p` from either side, including another
//! zero-length interval at `p` (checked against bedtools v2.30).
//!
//! Coordinates come from SQL, so they may be any `i64`: the widening
//! saturates at the ends of the range (which changes no overlap, since no
//! interval lies beyond them), and distances are computed in `i128` and are
//! `None` when they do not fit in an `i64`.

/// The span bedtools compares for `[start, end)`: zero-length intervals widen
/// by one base on each side (saturating at the ends of the `i64` range).
#[inline]
pub fn bedtools_span(start: i64, end: i64) -> (i64, i64) {
    if start == end { (start.saturating_sub(1), end.saturating_add(1)) } else { (start, end) }
}

/// [`bedtools_span`] without saturation.
#[inline]
fn wide_span(start: i64, end: i64) -> (i128, i128) {
    let (s, e) = (i128::from(start), i128::from(end));
    if s == e { (s - 1, e + 1) } else { (s, e) }
}

/// Whether `[a_start, a_end)` and `[b_start, b_end)` on the same chromosome
/// overlap in bedtools' sense (half-open, zero-length intervals widened).
#[inline]
pub fn overlaps(a_start: i64, a_end: i64, b_start: i64, b_end: i64) -> bool {
    let (a0, a1) = bedtools_span(a_start, a_end);
    let (b0, b1) = bedtools_span(b_start, b_end);
    a0 < b1 && b0 < a1
}

/// `bedtools closest -d` distance between two intervals on the same
/// chromosome: 0 when they overlap, otherwise the number of bases in the gap
/// plus one (book-ended intervals are at distance 1). `None` when the
/// distance does not fit in an `i64` (only possible with coordinates far
/// outside any genome, e.g. negative ones).
#[inline]
pub fn distance(a_start: i64, a_end: i64, b_start: i64, b_end: i64) -> Option<i64> {
    let (a0, a1) = wide_span(a_start, a_end);
    let (b0, b1) = wide_span(b_start, b_end);
    let d = if a0 < b1 && b0 < a1 {
        0
    } else if b0 >= a1 {
        b0 - a1 + 1
    } else {
        a0 - b1 + 1
    };
    i64::try_from(d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values are bedtools v2.30 `intersect -wa -wb` and
    /// `closest -d` outputs on the same intervals.
    #[test]
    fn matches_bedtools() {
        // Book-ended: no overlap, distance 1.
        assert!(!overlaps(10, 20, 20, 30));
        assert_eq!(distance(10, 20, 20, 30), Some(1));
        assert_eq!(distance(100, 200, 60, 70), Some(31));
        assert_eq!(distance(100, 200, 230, 240), Some(31));
        // Nested.
        assert!(overlaps(0, 100, 10, 20));
        assert_eq!(distance(10, 20, 0, 100), Some(0));
        // Zero-length at 5 overlaps [0,5), [4,5), [5,10) and [5,5).
        for (s, e) in [(0, 5), (4, 5), (5, 10), (5, 5)] {
            assert!(overlaps(5, 5, s, e), "[5,5) vs [{s},{e})");
        }
        assert!(!overlaps(5, 5, 6, 10));
        assert!(!overlaps(5, 5, 3, 4));
        assert_eq!(distance(5, 5, 8, 10), Some(3));
        assert_eq!(distance(50, 50, 40, 44), Some(6));
        assert!(overlaps(0, 0, 0, 1));
    }

    #[test]
    fn extreme_coordinates_neither_wrap_nor_panic() {
        assert_eq!(bedtools_span(i64::MIN, i64::MIN), (i64::MIN, i64::MIN + 1));
        assert_eq!(bedtools_span(i64::MAX, i64::MAX), (i64::MAX - 1, i64::MAX));
        assert!(overlaps(i64::MAX, i64::MAX, i64::MAX - 1, i64::MAX));
        assert!(overlaps(i64::MIN, i64::MIN, i64::MIN, i64::MIN));
        assert_eq!(distance(i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX), None);
        assert_eq!(distance(0, 1, i64::MAX - 1, i64::MAX), Some(i64::MAX - 1));
        assert_eq!(distance(i64::MAX, i64::MAX, 0, 0), Some(i64::MAX - 1));
    }
}
