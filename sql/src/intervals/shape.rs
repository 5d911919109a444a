//! Functions that reshape each interval: `slop`, `flank` (clipped to the
//! chromosome ends of a genome) and `makewindows`. They stream their source.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::exec::{Columns, build_then_probe, rows_with_coords, IntervalOp, IntervalTable};
use super::flags::{Flags, Takes};
use super::genome::{self, ChromSizes};
use super::source::{with_int64_coords, Intervals, Source};
use crate::coords::bedtools_span;
use crate::table_functions::source::string_arg;
use crate::SqlError;
use crate::workers::Workers;

/// Bases to add on the left and right: fixed, or fractions of each length.
#[derive(Debug, Clone, Copy)]
struct Sides {
    left: f64,
    right: f64,
    pct: bool,
    stranded: bool,
    /// Which sides were asked for (`flank` makes only those).
    has_left: bool,
    has_right: bool,
}

impl Sides {
    fn from_flags(f: &Flags) -> Result<Self, SqlError> {
        let pct = f.has("-pct");
        let num = |n: &str| -> Result<Option<f64>, SqlError> {
            let v = f.number(n)?;
            match v {
                Some(x) if x < 0.0 => Err(f.error(format!("option {n} needs a size of at least 0, got {x}"))),
                Some(x) if !pct && x.fract() != 0.0 => Err(f.error(format!("option {n} needs whole bases (or -pct), got {x}"))),
                other => Ok(other),
            }
        };
        let (b, l, r) = (num("-b")?, num("-l")?, num("-r")?);
        if b.is_some() && (l.is_some() || r.is_some()) {
            return Err(f.error("option -b excludes -l and -r".into()));
        }
        if b.is_none() && l.is_none() && r.is_none() {
            return Err(f.error("needs -b N, or -l N and/or -r N".into()));
        }
        Ok(Self {
            left: b.or(l).unwrap_or(0.0),
            right: b.or(r).unwrap_or(0.0),
            pct,
            stranded: f.has("-s"),
            has_left: b.is_some() || l.is_some(),
            has_right: b.is_some() || r.is_some(),
        })
    }

    /// (left, right, has_left, has_right) in bases for an interval of `len`
    /// bases on `strand` (with `-s`, a `-` interval swaps them).
    fn bases(&self, len: i64, strand: u8) -> (i64, i64, bool, bool) {
        let size = |x: f64| if self.pct { (x * len as f64) as i64 } else { x as i64 };
        let (l, r) = (size(self.left), size(self.right));
        if self.stranded && strand == b'-' { (r, l, self.has_right, self.has_left) } else { (l, r, self.has_left, self.has_right) }
    }
}

const SIDE_FLAGS: [(&str, Takes); 5] =
    [("-b", Takes::Value), ("-l", Takes::Value), ("-r", Takes::Value), ("-s", Takes::Nothing), ("-pct", Takes::Nothing)];

#[derive(Debug)]
struct Reshape {
    function: &'static str,
    source: String,
    genome: String,
    sides: Sides,
    flank: bool,
}

impl Reshape {
    fn step(&self, sizes: &ChromSizes, batch: RecordBatch, out: &Columns) -> Result<RecordBatch> {
        let ivs = Intervals::new(self.function, &self.source, &batch)?;
        let (mut rows, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..ivs.len() {
            let len_chrom = sizes.length(self.function, &self.genome, ivs.chrom.value(i))?;
            let (s, e) = (ivs.start[i], ivs.end[i]);
            // -pct sizes a zero-length interval by its widened length, 2, as bedtools does.
            let (w0, w1) = bedtools_span(s, e);
            let (l, r, hl, hr) = self.sides.bases(w1 - w0, ivs.strand[i]);
            let mut push = |x: i64, y: i64| {
                rows.push(i as u32);
                starts.push(x);
                ends.push(y);
            };
            if self.flank {
                // With -s, bedtools narrows the flanks of a zero-length `-` interval by a
                // base on each side.
                let z = i64::from(s == e && self.sides.stranded && ivs.strand[i] == b'-');
                let (x, y) = ((w0 - l).max(0) + z, w0.min(len_chrom) - z);
                if hl && x < y {
                    push(x, y);
                }
                let (x, y) = (w1.min(len_chrom) + z, w1.saturating_add(r).min(len_chrom) - z);
                if hr && x < y {
                    push(x, y);
                }
            } else {
                // bedtools widens a zero-length interval to [p-1, p+1), slops and clips
                // that, then narrows it back by one base on each side.
                let z = i64::from(s == e);
                let x = (s - z - l).max(0) + z;
                let y = (e.saturating_add(z + r).min(len_chrom) - z).max(x);
                push(x, y);
            }
        }
        rows_with_coords(&batch, &rows, starts, ends, out)
    }
}

impl IntervalOp for Reshape {
    fn run(self: Arc<Self>, mut inputs: Vec<SendableRecordBatchStream>, out: Columns, workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        let (rows, genome) = (inputs.remove(0), inputs.remove(0));
        let this = Arc::clone(&self);
        build_then_probe(genome, rows, workers, move |g, _| ChromSizes::new(this.function, &this.genome, &g), move |sizes, batch| self.step(sizes, batch, &out))
    }
}

fn reshape(function: &'static str, args: TableFunctionArgs, flank: bool) -> Result<Arc<dyn TableProvider>> {
    let exprs = args.exprs();
    if exprs.len() != 3 {
        return Err(SqlError::Argument { function, message: format!("expects (source, genome, options), got {} arguments", exprs.len()) }.into());
    }
    let source = Source::from_arg(function, args.session(), exprs, 0, "source")?;
    source.check_columns(function, false)?;
    let g = string_arg(function, exprs, 1, "genome")?;
    let genome = genome::resolve(function, args.session(), &g)?;
    let flags = Flags::parse(function, &string_arg(function, exprs, 2, "options")?, &SIDE_FLAGS)?;
    let op = Reshape { function, source: source.arg.clone(), genome: genome.arg.clone(), sides: Sides::from_flags(&flags)?, flank };
    Ok(IntervalTable::new(function, with_int64_coords(&source.schema), vec![source, genome], op))
}

/// `slop(source, genome, options)`: `bedtools slop`: each row widened by `-b N`
/// bases on both sides, or `-l N` / `-r N`, clipped to 0 and the chromosome's
/// length in `genome` (an assembly, a `chrom.sizes` file, or a query or table
/// with `chrom` and `length`); `-s`: left and right follow the strand; `-pct`:
/// sizes are fractions of each interval's length. Other columns are kept.
#[derive(Debug, Default)]
pub struct SlopFunc;

impl TableFunctionImpl for SlopFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        reshape("slop", args, false)
    }
}

/// `flank(source, genome, options)`: `bedtools flank`: for each row, the
/// `-b N` bases on each side of it (or `-l N` left, `-r N` right; `-s`, `-pct` as
/// in [`SlopFunc`]), clipped to the chromosome; a flank clipped to nothing is left
/// out. Other columns are kept.
#[derive(Debug, Default)]
pub struct FlankFunc;

impl TableFunctionImpl for FlankFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        reshape("flank", args, true)
    }
}

/// `makewindows(source [, options])`: `bedtools makewindows`: windows over
/// each interval of `source` (intervals, or a genome: an assembly name, a
/// `chrom.sizes` file, or rows with `chrom` and `length`). `-w N` (size; default
/// 1000) with `-s N` (step; default the size): windows start every step while
/// they start inside the interval, the last cut at its end; or `-n N`: N windows
/// of equal size (bedtools' rounding; none for an interval under N bases). Columns: `chrom`, `start`, `end`,
/// `window` (1-based within its interval).
#[derive(Debug, Default)]
pub struct MakeWindowsFunc;

#[derive(Debug)]
struct MakeWindows {
    source: String,
    size: i64,
    step: i64,
    count: Option<i64>,
}

impl MakeWindows {
    fn step(&self, batch: RecordBatch, out: &Columns) -> Result<RecordBatch> {
        let ivs = Intervals::new("makewindows", &self.source, &batch)?;
        let (mut chrom, mut start, mut end, mut number) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..ivs.len() {
            let (s, e) = bedtools_span(ivs.start[i], ivs.end[i]);
            let mut push = |x: i64, y: i64, n: i64| {
                chrom.push(ivs.chrom.value(i).to_string());
                start.push(x);
                end.push(y);
                number.push(n);
            };
            match self.count {
                Some(n) => {
                    let len = e - s;
                    let size = len / n;
                    if size == 0 {
                        // Shorter than N bases: no windows (as bedtools).
                        continue;
                    }
                    let mut at = s;
                    let mut k = 1;
                    while at < e && k <= n {
                        let y = if k == n { e } else { at + size };
                        push(at, y, k);
                        at = y;
                        k += 1;
                    }
                }
                None => {
                    let (mut at, mut k) = (s, 1);
                    while at < e {
                        push(at, (at + self.size).min(e), k);
                        at += self.step;
                        k += 1;
                    }
                }
            }
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(chrom)),
            Arc::new(Int64Array::from(start)),
            Arc::new(Int64Array::from(end)),
            Arc::new(Int64Array::from(number)),
        ];
        out.finish(cols)
    }
}

impl IntervalOp for MakeWindows {
    fn run(self: Arc<Self>, mut inputs: Vec<SendableRecordBatchStream>, out: Columns, _workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        inputs.remove(0).map(move |b| self.step(b?, &out)).boxed()
    }
}

impl TableFunctionImpl for MakeWindowsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "makewindows";
        let exprs = args.exprs();
        if exprs.is_empty() || exprs.len() > 2 {
            return Err(SqlError::Argument { function: NAME, message: format!("expects (source [, options]), got {} arguments", exprs.len()) }.into());
        }
        let text = string_arg(NAME, exprs, 0, "source")?;
        // Intervals (a query, a table or a BED file), else a genome.
        let source = match Source::resolve(NAME, args.session(), &text) {
            Ok(s) if s.check_columns(NAME, true).is_ok() => s,
            _ => genome::resolve(NAME, args.session(), &text)?,
        };
        source.check_columns(NAME, true)?;
        let opts = if exprs.len() == 2 { string_arg(NAME, exprs, 1, "options")? } else { String::new() };
        let flags = Flags::parse(NAME, &opts, &[("-w", Takes::Value), ("-s", Takes::Value), ("-n", Takes::Value)])?;
        let count = flags.text("-n").map(|_| flags.int("-n", 1)).transpose()?;
        if count.is_some() && (flags.has("-w") || flags.has("-s")) {
            return Err(flags.error("option -n excludes -w and -s".into()).into());
        }
        let size = flags.int("-w", 1000)?;
        let step = flags.int("-s", size)?;
        if size < 1 || step < 1 || count.is_some_and(|n| n < 1) {
            return Err(flags.error("window size, step and count must be at least 1".into()).into());
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
            Field::new("window", DataType::Int64, false),
        ]));
        let op = MakeWindows { source: source.arg.clone(), size, step, count };
        Ok(IntervalTable::new(NAME, schema, vec![source], op))
    }
}
