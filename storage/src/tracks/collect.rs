//! Collecting a track's records per assembly chromosome, and turning them into
//! per-window columns for every window set.

use std::path::Path;

use crate::error::{Result, StorageError};
use crate::meta::{Aggregation, TrackKind};
use crate::tracks::accumulate::{Grid, Peak, SignalAcc, peak_coverage, peak_max_score};
use crate::tracks::chroms::{ChromResolver, Skipped};

/// How a track's records become window values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Signal or peaks.
    pub kind: TrackKind,
    /// Per-window aggregation (peaks: always coverage).
    pub aggregation: Aggregation,
    /// Skip uncovered bases instead of counting them as 0.
    pub missing_skip: bool,
    /// Also produce the max-score column (narrowPeak).
    pub score: bool,
}

/// Window width and stride of one window set.
pub type SetShape = (u64, u64);

/// Per-window columns of one chromosome: `[set][column][window]`.
pub type ChromColumns = Vec<Vec<Vec<Option<f32>>>>;

/// Accumulated records of one assembly chromosome for all window sets.
#[derive(Debug)]
pub enum ChromAcc {
    /// One signal accumulator per window set.
    Signal(Vec<SignalAcc>),
    /// The chromosome's peaks (shared by all window sets).
    Peaks(Vec<Peak>),
}

impl ChromAcc {
    /// An empty accumulator for a chromosome of `length`.
    pub fn new(plan: &Plan, sets: &[SetShape], length: u64) -> Self {
        match plan.kind {
            TrackKind::Signal => ChromAcc::Signal(
                sets.iter()
                    .map(|&(width, stride)| SignalAcc::new(Grid { length, width, stride }, plan.aggregation, plan.missing_skip))
                    .collect(),
            ),
            TrackKind::Peaks => ChromAcc::Peaks(Vec::new()),
        }
    }

    /// Adds a record (already clipped to the chromosome).
    #[inline]
    pub fn add(&mut self, start: u64, end: u64, value: f32) {
        match self {
            ChromAcc::Signal(accs) => accs.iter_mut().for_each(|a| a.add(start, end, value)),
            ChromAcc::Peaks(peaks) => peaks.push(Peak { start, end, score: value }),
        }
    }

    /// The per-window columns on every window set.
    pub fn finish(self, plan: &Plan, sets: &[SetShape], length: u64) -> ChromColumns {
        match self {
            ChromAcc::Signal(accs) => accs.into_iter().map(|a| vec![a.finish()]).collect(),
            ChromAcc::Peaks(mut peaks) => sets
                .iter()
                .map(|&(width, stride)| {
                    let grid = Grid { length, width, stride };
                    let mut cols = vec![peak_coverage(grid, &mut peaks)];
                    if plan.score {
                        cols.push(peak_max_score(grid, &peaks));
                    }
                    cols
                })
                .collect(),
        }
    }
}

/// Receives the records of a text track in file order: resolves chromosome
/// names (alias rule), clips or skips records past the end, and accumulates.
pub struct Collector<'a> {
    path: &'a Path,
    resolver: &'a ChromResolver,
    plan: Plan,
    sets: &'a [SetShape],
    strict: bool,
    chroms: Vec<Option<ChromAcc>>,
    last: Option<(String, Option<usize>)>,
    /// Records that did not fit.
    pub skipped: Skipped,
    /// Records read.
    pub records: u64,
}

impl<'a> Collector<'a> {
    /// A collector for `sets` on the assembly of `resolver`. With `strict`,
    /// the first record that does not fit is an error.
    pub fn new(path: &'a Path, resolver: &'a ChromResolver, plan: Plan, sets: &'a [SetShape], strict: bool) -> Self {
        Self { path, resolver, plan, sets, strict, chroms: (0..resolver.len()).map(|_| None).collect(), last: None, skipped: Skipped::default(), records: 0 }
    }

    /// Adds one record at `line` of the file.
    pub fn add(&mut self, chrom: &str, start: u64, end: u64, value: f32, line: u64) -> Result<()> {
        self.records += 1;
        let idx = match &self.last {
            Some((name, idx)) if name == chrom => *idx,
            _ => {
                let idx = self.resolver.resolve(chrom);
                self.last = Some((chrom.to_string(), idx));
                idx
            }
        };
        let Some(idx) = idx else {
            if self.strict {
                return Err(StorageError::format(self.path, Some(line), format!("chromosome '{chrom}' is not in the assembly (--strict)")));
            }
            *self.skipped.unknown.entry(chrom.to_string()).or_default() += 1;
            return Ok(());
        };
        let length = self.resolver.length(idx);
        if start >= length || end > length {
            if self.strict {
                return Err(StorageError::format(
                    self.path,
                    Some(line),
                    format!("record {chrom}:{start}-{end} runs past the end of {} ({length} bp) (--strict)", self.resolver.name(idx)),
                ));
            }
            if start >= length {
                self.skipped.past_end += 1;
                return Ok(());
            }
            self.skipped.clipped += 1;
        }
        let (plan, sets) = (self.plan, self.sets);
        self.chroms[idx].get_or_insert_with(|| ChromAcc::new(&plan, sets, length)).add(start, end.min(length), value);
        Ok(())
    }

    /// The accumulators per assembly chromosome (`None` where no record fell).
    pub fn into_chroms(self) -> Vec<Option<ChromAcc>> {
        self.chroms
    }
}
