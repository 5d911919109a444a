//! Interval arithmetic with bedtools' conventions, shared by `overlaps()`,
//! `interval_distance()`, the interval join and `closest()`.
//!
//! Intervals are 0-based half-open. bedtools treats a zero-length interval
//! `[p, p)` (an insertion point) as if it were `[p-1, p+1)`: it overlaps every
//! interval that touches position `p` from either side, including another
//! zero-length interval at `p` (checked against bedtools v2.30).

/// The span bedtools compares for `[start, end)`: zero-length intervals widen
/// by one base on each side.
#[inline]
pub fn bedtools_span(start: i64, end: i64) -> (i64, i64) {
    if start == end { (start - 1, end + 1) } else { (start, end) }
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
/// plus one (book-ended intervals are at distance 1).
#[inline]
pub fn distance(a_start: i64, a_end: i64, b_start: i64, b_end: i64) -> i64 {
    let (a0, a1) = bedtools_span(a_start, a_end);
    let (b0, b1) = bedtools_span(b_start, b_end);
    if a0 < b1 && b0 < a1 {
        0
    } else if b0 >= a1 {
        b0 - a1 + 1
    } else {
        a0 - b1 + 1
    }
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
        assert_eq!(distance(10, 20, 20, 30), 1);
        assert_eq!(distance(100, 200, 60, 70), 31);
        assert_eq!(distance(100, 200, 230, 240), 31);
        // Nested.
        assert!(overlaps(0, 100, 10, 20));
        assert_eq!(distance(10, 20, 0, 100), 0);
        // Zero-length at 5 overlaps [0,5), [4,5), [5,10) and [5,5).
        for (s, e) in [(0, 5), (4, 5), (5, 10), (5, 5)] {
            assert!(overlaps(5, 5, s, e), "[5,5) vs [{s},{e})");
        }
        assert!(!overlaps(5, 5, 6, 10));
        assert!(!overlaps(5, 5, 3, 4));
        assert_eq!(distance(5, 5, 8, 10), 3);
        assert_eq!(distance(50, 50, 40, 44), 6);
        assert!(overlaps(0, 0, 0, 1));
    }
}
