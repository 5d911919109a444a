//! BED, narrowPeak and broadPeak: intervals, in any order, overlaps allowed
//! (they are merged before computing coverage). The score kept per peak is
//! column 7 (signalValue) for narrowPeak and broadPeak, column 5 for BED5+,
//! and 1 otherwise.

use std::path::Path;

use crate::error::Result;
use crate::tracks::collect::Collector;
use crate::tracks::format::TrackFormat;
use crate::tracks::text::{Lines, err, bed3, fields, value};

/// Reads every record of the peak/interval file at `path` into `sink`.
pub fn read_peaks(path: &Path, format: TrackFormat, sink: &mut Collector<'_>) -> Result<()> {
    let mut lines = Lines::open(path)?;
    let (min_cols, score_col) = match format {
        TrackFormat::NarrowPeak => (10, Some(6)),
        TrackFormat::BroadPeak => (9, Some(6)),
        _ => (3, None),
    };
    while let Some((no, line)) = lines.next_line(false)? {
        let f = fields(line);
        let (chrom, start, end) = bed3(&f).map_err(|m| err(path, no, m))?;
        if f.len() < min_cols {
            return Err(err(path, no, format!("expected {min_cols} columns for {}, found {}", format.name(), f.len())));
        }
        let score = match score_col {
            Some(c) => value(f[c], "signalValue (column 7)").map_err(|m| err(path, no, m))?,
            None => match f.get(4) {
                Some(s) if *s != "." => value(s, "score (column 5)").map_err(|m| err(path, no, m))?,
                _ => 1.0,
            },
        };
        let line_no = no;
        sink.add(chrom, start, end, score, line_no)?;
    }
    Ok(())
}
