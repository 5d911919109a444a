//! Per-window accumulators: one pass over a chromosome's records (in any
//! order) adds each record to the windows it overlaps, so the cost is
//! O(records + windows × overlapping records) with no per-base arrays.
//!
//! ## Values and NULLs
//!
//! For a window `[start, end)` (the last windows of a chromosome are
//! truncated at its end, so `len = end - start` can be below the width):
//!
//! | aggregation | uncovered bases count as 0 (default) | `missing_skip` |
//! |---|---|---|
//! | `mean` | Σ value·bases / len; 0 when nothing covers the window (bigWigAverageOverBed `mean0`) | Σ value·bases / covered bases; NULL when nothing covers it (bigWigAverageOverBed `mean`, pyBigWig `stats(type="mean", exact=True)`) |
//! | `max` | max over covered bases, and 0 if any base is uncovered | max over covered bases; NULL when nothing covers it |
//! | `sum` | Σ value·bases (0 when nothing covers it) | same, but NULL when nothing covers it |
//! | `coverage` | covered bases / len, never NULL | same |
//!
//! Peak tracks are merged first (overlapping peaks count once), so their
//! coverage is at most 1. The narrowPeak `<name>_score` column is the maximum
//! signalValue of the peaks overlapping the window, NULL when none does.

use crate::meta::{Aggregation, window_count};
use crate::windows::window_bounds;

/// The windows of one window set on one chromosome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Chromosome length in bases.
    pub length: u64,
    /// Window width in bases.
    pub width: u64,
    /// Distance between window starts.
    pub stride: u64,
}

impl Grid {
    /// Number of windows (rows) on the chromosome.
    pub fn count(&self) -> usize {
        window_count(self.length, self.stride) as usize
    }

    /// `[start, end)` of window `i`.
    pub fn bounds(&self, i: usize) -> (u64, u64) {
        window_bounds(i as u64, self.length, self.width, self.stride)
    }

    /// Indices `first..last` of the windows overlapping `[start, end)` (which
    /// must lie inside the chromosome and be non-empty).
    pub fn overlapping(&self, start: u64, end: u64) -> std::ops::Range<usize> {
        // Window i overlaps iff i*stride < end and i*stride + width > start.
        let first = if start >= self.width { (start - self.width) / self.stride + 1 } else { 0 };
        let last = ((end - 1) / self.stride + 1).min(self.count() as u64);
        first as usize..last.max(first) as usize
    }
}

/// Accumulates a signal track (non-overlapping valued intervals) on one grid.
#[derive(Debug)]
pub struct SignalAcc {
    grid: Grid,
    aggregation: Aggregation,
    missing_skip: bool,
    covered: Vec<u32>,
    sum: Vec<f64>,
    max: Vec<f32>,
}

impl SignalAcc {
    /// Empty accumulator for `grid`.
    pub fn new(grid: Grid, aggregation: Aggregation, missing_skip: bool) -> Self {
        let n = grid.count();
        let sum = if matches!(aggregation, Aggregation::Mean | Aggregation::Sum) { vec![0.0; n] } else { Vec::new() };
        let max = if aggregation == Aggregation::Max { vec![f32::NEG_INFINITY; n] } else { Vec::new() };
        Self { grid, aggregation, missing_skip, covered: vec![0; n], sum, max }
    }

    /// Adds `value` over `[start, end)` (clipped to the chromosome by the caller).
    #[inline]
    pub fn add(&mut self, start: u64, end: u64, value: f32) {
        if start >= end {
            return;
        }
        let g = self.grid;
        for i in g.overlapping(start, end) {
            let (ws, we) = g.bounds(i);
            let bases = end.min(we) - start.max(ws);
            self.covered[i] += bases as u32;
            match self.aggregation {
                Aggregation::Mean | Aggregation::Sum => self.sum[i] += value as f64 * bases as f64,
                Aggregation::Max => {
                    if value > self.max[i] {
                        self.max[i] = value;
                    }
                }
                Aggregation::Coverage => {}
            }
        }
    }

    /// The per-window values (see the module docs for NULLs).
    pub fn finish(self) -> Vec<Option<f32>> {
        let g = self.grid;
        (0..g.count())
            .map(|i| {
                let (ws, we) = g.bounds(i);
                let len = (we - ws) as f64;
                let covered = self.covered[i];
                if covered == 0 && self.missing_skip && self.aggregation != Aggregation::Coverage {
                    return None;
                }
                Some(match self.aggregation {
                    Aggregation::Mean if self.missing_skip => (self.sum[i] / covered as f64) as f32,
                    Aggregation::Mean => (self.sum[i] / len) as f32,
                    Aggregation::Sum => self.sum[i] as f32,
                    Aggregation::Max if covered == 0 => 0.0,
                    Aggregation::Max if !self.missing_skip && (covered as f64) < len => self.max[i].max(0.0),
                    Aggregation::Max => self.max[i],
                    Aggregation::Coverage => (covered as f64 / len) as f32,
                })
            })
            .collect()
    }
}

/// A peak: `[start, end)` with its score (signalValue for narrowPeak).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// 0-based start.
    pub start: u64,
    /// 0-based exclusive end.
    pub end: u64,
    /// Score used for the `<name>_score` column.
    pub score: f32,
}

/// Fraction of each window covered by the union of `peaks` (any order).
pub fn peak_coverage(grid: Grid, peaks: &mut [Peak]) -> Vec<Option<f32>> {
    peaks.sort_by_key(|p| (p.start, p.end));
    let mut acc = SignalAcc::new(grid, Aggregation::Coverage, false);
    let mut current: Option<(u64, u64)> = None;
    for p in peaks.iter().filter(|p| p.start < p.end) {
        match current {
            Some((s, e)) if p.start <= e => current = Some((s, e.max(p.end))),
            Some((s, e)) => {
                acc.add(s, e, 1.0);
                current = Some((p.start, p.end));
            }
            None => current = Some((p.start, p.end)),
        }
    }
    if let Some((s, e)) = current {
        acc.add(s, e, 1.0);
    }
    acc.finish()
}

/// Maximum score of the peaks overlapping each window; NULL where none does.
pub fn peak_max_score(grid: Grid, peaks: &[Peak]) -> Vec<Option<f32>> {
    let mut out: Vec<Option<f32>> = vec![None; grid.count()];
    for p in peaks.iter().filter(|p| p.start < p.end) {
        for i in grid.overlapping(p.start, p.end) {
            out[i] = Some(out[i].map_or(p.score, |m| m.max(p.score)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(length: u64, width: u64, stride: u64) -> Grid {
        Grid { length, width, stride }
    }

    #[test]
    fn overlapping_windows_of_an_interval() {
        let g = grid(10_000, 1000, 1000);
        assert_eq!(g.overlapping(1500, 1600), 1..2);
        assert_eq!(g.overlapping(1000, 2000), 1..2);
        assert_eq!(g.overlapping(999, 1001), 0..2);
        assert_eq!(g.overlapping(9999, 10_000), 9..10);
        // Sliding windows of 1000 every 500: [1500,1600) is in windows 2 ([1000,2000)) and 3 ([1500,2500)).
        let s = grid(10_000, 1000, 500);
        assert_eq!(s.overlapping(1500, 1600), 2..4);
        assert_eq!(s.overlapping(0, 1), 0..1);
    }

    #[test]
    fn mean_counts_uncovered_bases_as_zero_unless_skipped() {
        let g = grid(25, 10, 10);
        let mut a = SignalAcc::new(g, Aggregation::Mean, false);
        a.add(2, 7, 2.0); // window 0: 5 bases of 2.0
        a.add(8, 12, 1.0); // windows 0 and 1: 2 + 2 bases
        assert_eq!(a.finish(), vec![Some(1.2), Some(0.2), Some(0.0)]);
        let mut b = SignalAcc::new(g, Aggregation::Mean, true);
        b.add(2, 7, 2.0);
        b.add(8, 12, 1.0);
        assert_eq!(b.finish(), vec![Some(12.0 / 7.0), Some(1.0), None]);
    }

    #[test]
    fn truncated_last_window_divides_by_its_own_length() {
        let g = grid(25, 10, 10);
        let mut a = SignalAcc::new(g, Aggregation::Mean, false);
        a.add(20, 25, 4.0);
        assert_eq!(a.finish()[2], Some(4.0));
    }

    #[test]
    fn max_sum_and_coverage() {
        let g = grid(20, 10, 10);
        let mut m = SignalAcc::new(g, Aggregation::Max, false);
        m.add(0, 10, -3.0);
        m.add(10, 15, -1.0);
        // window 0 fully covered by -3; window 1 half uncovered so 0 wins.
        assert_eq!(m.finish(), vec![Some(-3.0), Some(0.0)]);
        let mut ms = SignalAcc::new(g, Aggregation::Max, true);
        ms.add(10, 15, -1.0);
        assert_eq!(ms.finish(), vec![None, Some(-1.0)]);
        let mut s = SignalAcc::new(g, Aggregation::Sum, false);
        s.add(5, 15, 0.5);
        assert_eq!(s.finish(), vec![Some(2.5), Some(2.5)]);
        let mut c = SignalAcc::new(g, Aggregation::Coverage, false);
        c.add(5, 15, 7.0);
        assert_eq!(c.finish(), vec![Some(0.5), Some(0.5)]);
    }

    #[test]
    fn peaks_are_merged_before_coverage() {
        let g = grid(20, 10, 10);
        let mut peaks = vec![
            Peak { start: 12, end: 18, score: 1.0 },
            Peak { start: 2, end: 6, score: 5.0 },
            Peak { start: 4, end: 8, score: 3.0 },
        ];
        assert_eq!(peak_coverage(g, &mut peaks), vec![Some(0.6), Some(0.6)]);
        assert_eq!(peak_max_score(g, &peaks), vec![Some(5.0), Some(1.0)]);
        assert_eq!(peak_max_score(grid(30, 10, 10), &peaks)[2], None);
    }
}
