//! bedGraph: `chrom start end value`, 0-based half-open. Records must be
//! sorted and non-overlapping within each chromosome (as UCSC requires for
//! bedGraphToBigWig); a violation is an error naming the line, because the
//! per-window values of such a file cannot be trusted.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::tracks::collect::Collector;
use crate::tracks::text::{Lines, err, bed3, fields, value};

/// Reads every record of the bedGraph at `path` into `sink`.
pub fn read_bedgraph(path: &Path, sink: &mut Collector<'_>) -> Result<()> {
    let mut lines = Lines::open(path)?;
    // Per file chromosome: end of the previous record and its line.
    let mut prev: HashMap<String, (u64, u64)> = HashMap::new();
    let mut last_chrom = String::new();
    let mut last_end = (0u64, 0u64);
    while let Some((no, line)) = lines.next_line(false)? {
        let f = fields(line);
        let (chrom, start, end) = match bed3(&f) {
            Ok(r) => r,
            Err(m) => return Err(err(path, no, m)),
        };
        let Some(v) = f.get(3) else {
            return Err(err(path, no, "expected 4 columns (chrom, start, end, value), found 3"));
        };
        let v = value(v, "value").map_err(|m| err(path, no, m))?;
        let (chrom, start, end) = (chrom.to_string(), start, end);
        if chrom != last_chrom {
            if !last_chrom.is_empty() {
                prev.insert(std::mem::take(&mut last_chrom), last_end);
            }
            last_end = prev.remove(&chrom).unwrap_or((0, 0));
            last_chrom = chrom.clone();
        }
        let line_no = no;
        if start < last_end.0 {
            return Err(err(path, no, format!(
                "records are not sorted or overlap: {chrom}:{start}-{end} starts before the end ({}) of the record on line {} (sort with `sort -k1,1 -k2,2n`)",
                last_end.0, last_end.1
            )));
        }
        last_end = (end, line_no);
        sink.add(&chrom, start, end, v, line_no)?;
    }
    Ok(())
}
