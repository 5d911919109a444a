//! Wiggle (`fixedStep` / `variableStep`), 1-based positions in the file,
//! stored 0-based half-open. Like bedGraph, records must not overlap or go
//! backwards within a chromosome.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::tracks::collect::Collector;
use crate::tracks::text::{Lines, err, coordinate, value};

enum Mode {
    None,
    Fixed { chrom: String, next: u64, step: u64, span: u64 },
    Variable { chrom: String, span: u64 },
}

fn params(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace().skip(1).filter_map(|kv| kv.split_once('=')).collect()
}

/// Reads every data line of the wig file at `path` into `sink`.
pub fn read_wig(path: &Path, sink: &mut Collector<'_>) -> Result<()> {
    let mut lines = Lines::open(path)?;
    let mut mode = Mode::None;
    let mut prev_end: HashMap<String, u64> = HashMap::new();
    while let Some((no, line)) = lines.next_line(false)? {
        if line.starts_with("fixedStep") || line.starts_with("variableStep") {
            let p = params(line);
            let chrom = p.get("chrom").ok_or_else(|| err(path, no, "declaration without chrom="))?.to_string();
            let num = |k: &str, default: Option<u64>| -> Result<u64> {
                match (p.get(k), default) {
                    (Some(v), _) => coordinate(v, k).map_err(|m| err(path, no, m)),
                    (None, Some(d)) => Ok(d),
                    (None, None) => Err(err(path, no, format!("declaration without {k}="))),
                }
            };
            let span = num("span", Some(1))?;
            if line.starts_with("fixedStep") {
                let start = num("start", None)?;
                if start == 0 {
                    return Err(err(path, no, "fixedStep start is 1-based and must be at least 1"));
                }
                mode = Mode::Fixed { chrom, next: start - 1, step: num("step", None)?, span };
            } else {
                mode = Mode::Variable { chrom, span };
            }
            continue;
        }
        let (chrom, start, span, v) = match &mut mode {
            Mode::None => return Err(err(path, no, "data line before any fixedStep/variableStep declaration")),
            Mode::Fixed { chrom, next, step, span } => {
                let v = value(line, "value").map_err(|m| err(path, no, m))?;
                let start = *next;
                *next += *step;
                (chrom.clone(), start, *span, v)
            }
            Mode::Variable { chrom, span } => {
                let mut it = line.split_whitespace();
                let pos = coordinate(it.next().unwrap_or(""), "position").map_err(|m| err(path, no, m))?;
                if pos == 0 {
                    return Err(err(path, no, "variableStep positions are 1-based and must be at least 1"));
                }
                let v = value(it.next().unwrap_or(""), "value").map_err(|m| err(path, no, m))?;
                (chrom.clone(), pos - 1, *span, v)
            }
        };
        let end = start + span;
        let prev = prev_end.entry(chrom.clone()).or_insert(0);
        if start < *prev {
            return Err(err(path, no, format!("records are not sorted or overlap on {chrom}: position {} is before the end of the previous one", start + 1)));
        }
        *prev = end;
        let line_no = no;
        sink.add(&chrom, start, end, v, line_no)?;
    }
    Ok(())
}
