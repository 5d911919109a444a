//! Functions of two interval sets that look at overlaps: `intersect`,
//! `count_overlaps`, `coverage`, `window` and `subtract`. B is read into a
//! per-chromosome index; A streams through batch by batch, and its rows come out
//! in its order (pairs in B's coordinate order), so memory is bounded by B.
//!
//! Overlap follows bedtools: half-open intervals, a zero-length interval `[p, p)`
//! taking part as `[p-1, p+1)` ([`crate::coords`]).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;

use super::exec::{pairs_batch, prefixed_fields, Columns, rows_with_coords, take_columns, IntervalOp, IntervalTable};
use super::flags::{Flags, StrandRule, Takes};
use super::index::{index_then_probe, overlap_bp, Index};
use super::source::{with_int64_coords, Intervals, Source};
use crate::coords::bedtools_span;
use crate::table_functions::source::string_arg;
use crate::SqlError;
use crate::workers::Workers;

/// `(a, b [, options])`.
pub(crate) fn two_sources(function: &'static str, args: &TableFunctionArgs, known: &[(&str, Takes)]) -> Result<(Source, Source, Flags)> {
    let exprs = args.exprs();
    if exprs.len() < 2 || exprs.len() > 3 {
        return Err(SqlError::Argument { function, message: format!("expects (a, b [, options]), got {} arguments", exprs.len()) }.into());
    }
    let a = Source::from_arg(function, args.session(), exprs, 0, "a")?;
    let b = Source::from_arg(function, args.session(), exprs, 1, "b")?;
    a.check_columns(function, false)?;
    b.check_columns(function, false)?;
    let text = if exprs.len() == 3 { string_arg(function, exprs, 2, "options")? } else { String::new() };
    Ok((a, b, Flags::parse(function, &text, known)?))
}

/// Which overlaps count: strands and minimum overlap (bedtools `-s -S -f -F -r -e`,
/// and `-bp N`: at least N bases).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    strand: StrandRule,
    frac_a: Option<f64>,
    frac_b: Option<f64>,
    either: bool,
    min_bp: i64,
}

impl Rule {
    fn from_flags(f: &Flags) -> Result<Self, SqlError> {
        let frac = |name: &str| -> Result<Option<f64>, SqlError> {
            match f.number(name)? {
                Some(x) if !(x > 0.0 && x <= 1.0) => Err(f.error(format!("option {name} needs a fraction in (0, 1], got {x}"))),
                other => Ok(other),
            }
        };
        let frac_a = frac("-f")?;
        let mut frac_b = frac("-F")?;
        if f.has("-r") {
            if frac_a.is_none() {
                return Err(f.error("option -r needs -f".into()));
            }
            frac_b = frac_a;
        }
        let min_bp = f.int("-bp", 0)?;
        if min_bp < 0 {
            return Err(f.error(format!("option -bp needs a number of bases of at least 0, got {min_bp}")));
        }
        Ok(Self { strand: f.strand()?, frac_a, frac_b, either: f.has("-e"), min_bp })
    }

    /// Whether spans `a` and `b` (overlapping, `ov` bases) with strands pass.
    #[inline]
    fn passes(&self, a: (i64, i64), b: (i64, i64), ov: i64, sa: u8, sb: u8) -> bool {
        if !self.strand.allows(sa, sb) || ov < self.min_bp {
            return false;
        }
        let ok_a = self.frac_a.is_none_or(|f| ov as f64 >= f * (a.1 - a.0) as f64);
        let ok_b = self.frac_b.is_none_or(|f| ov as f64 >= f * (b.1 - b.0) as f64);
        match (self.either, self.frac_a.is_some() && self.frac_b.is_some()) {
            (true, true) => ok_a || ok_b,
            _ => ok_a && ok_b,
        }
    }
}

const OVERLAP_FLAGS: [(&str, Takes); 7] = [
    ("-s", Takes::Nothing),
    ("-S", Takes::Nothing),
    ("-f", Takes::Value),
    ("-F", Takes::Value),
    ("-r", Takes::Nothing),
    ("-e", Takes::Nothing),
    ("-bp", Takes::Value),
];

/// The B rows (sorted by position) that row `i` of `a` overlaps under `rule`,
/// its query span widened by `pad` = (left, right) bases (for `window`).
fn hits(function: &'static str, a: &Intervals, i: usize, index: &Index, rule: &Rule, pad: (i64, i64), out: &mut Vec<u32>) -> Result<()> {
    let (s, e) = (a.start[i], a.end[i]);
    // A zero-length A is widened first, then the window added (as bedtools window).
    let (w0, w1) = bedtools_span(s, e);
    let span = ((w0 - pad.0).max(0), w1.saturating_add(pad.1));
    index.overlapping_sorted(function, a.chrom.value(i), span.0, span.1, out)?;
    let b = &index.ivs;
    out.retain(|&r| {
        let r = r as usize;
        let bs = bedtools_span(b.start[r], b.end[r]);
        let ov = overlap_bp(span.0, span.1, bs.0, bs.1);
        rule.passes(span, bs, ov, a.strand[i], b.strand[r])
    });
    Ok(())
}

/// What `intersect` and `window` return per A row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    /// A and B columns of each overlapping pair (+ `overlap` for intersect).
    Pairs,
    /// A rows with at least one overlap (`-u`).
    Any,
    /// A rows with none (`-v`).
    None,
}

fn report(f: &Flags) -> Result<Report, SqlError> {
    match (f.has("-u"), f.has("-v")) {
        (true, true) => Err(f.error("options -u and -v exclude each other".into())),
        (true, false) => Ok(Report::Any),
        (false, true) => Ok(Report::None),
        (false, false) => Ok(Report::Pairs),
    }
}

#[derive(Debug)]
struct Pairs {
    function: &'static str,
    a: String,
    b: String,
    rule: Rule,
    report: Report,
    /// Window (left, right) around A, and whether it follows A's strand.
    pad: (i64, i64),
    strand_pad: bool,
}

impl Pairs {
    fn step(&self, index: &Index, batch: RecordBatch, out: &Columns) -> Result<RecordBatch> {
        let a = Intervals::new(self.function, &self.a, &batch)?;
        let (mut ai, mut bi, mut ov) = (Vec::new(), Vec::new(), Vec::new());
        let mut found = Vec::new();
        for i in 0..a.len() {
            let pad = if self.strand_pad && a.strand[i] == b'-' { (self.pad.1, self.pad.0) } else { self.pad };
            hits(self.function, &a, i, index, &self.rule, pad, &mut found)?;
            match self.report {
                Report::Any if !found.is_empty() => ai.push(i as u32),
                Report::None if found.is_empty() => ai.push(i as u32),
                Report::Pairs => {
                    for &r in &found {
                        ai.push(i as u32);
                        bi.push(r);
                        let r = r as usize;
                        ov.push(overlap_bp(a.start[i], a.end[i], index.ivs.start[r], index.ivs.end[r]));
                    }
                }
                _ => {}
            }
        }
        // `overlap` is in intersect's schema, not window's.
        pairs_batch(out, &batch, UInt32Array::from(ai), &index.batch, UInt32Array::from(bi), ov)
    }
}

impl IntervalOp for Pairs {
    fn run(self: Arc<Self>, inputs: Vec<SendableRecordBatchStream>, out: Columns, workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        let (function, b) = (self.function, self.b.clone());
        index_then_probe(function, b, inputs, workers, move |index, batch| self.step(index, batch, &out))
    }
}

fn pairs_schema(a: &Source, b: &Source, report: Report, overlap: bool) -> SchemaRef {
    let mut fields: Vec<_> = a.schema.fields().iter().cloned().collect();
    if report == Report::Pairs {
        fields.extend(prefixed_fields(&b.schema, "b_", false));
        if overlap {
            fields.push(Arc::new(Field::new("overlap", DataType::Int64, false)));
        }
    }
    Arc::new(Schema::new(fields))
}

/// `intersect(a, b [, options])`: `bedtools intersect`. Default: every
/// overlapping pair, A's columns, B's prefixed `b_`, and `overlap` (bases in
/// common, as `-wo`). `-u`: A rows with an overlap; `-v`: without (semi and anti
/// join). Minimum overlap: `-f F` (fraction of A), `-F F` (of B), `-r`
/// (reciprocal), `-e` (either), `-bp N` (bases); strands: `-s` same, `-S` opposite.
#[derive(Debug, Default)]
pub struct IntersectFunc;

impl TableFunctionImpl for IntersectFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let mut known = OVERLAP_FLAGS.to_vec();
        known.extend([("-u", Takes::Nothing), ("-v", Takes::Nothing)]);
        let (a, b, flags) = two_sources("intersect", &args, &known)?;
        let report = report(&flags)?;
        let schema = pairs_schema(&a, &b, report, true);
        let op = Pairs { function: "intersect", a: a.arg.clone(), b: b.arg.clone(), rule: Rule::from_flags(&flags)?, report, pad: (0, 0), strand_pad: false };
        Ok(IntervalTable::new("intersect", schema, vec![a, b], op))
    }
}

/// `window(a, b [, options])`: `bedtools window`: pairs where B overlaps A
/// widened by `-w N` bases on each side (default 1000), or `-l N` / `-r N` on
/// the left / right (`-sw`: left and right follow A's strand); `-sm` / `-Sm`:
/// same / opposite strands only; `-u`, `-v` as in [`IntersectFunc`]. Columns:
/// A's, then B's prefixed `b_`.
#[derive(Debug, Default)]
pub struct WindowFunc;

impl TableFunctionImpl for WindowFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let known = [
            ("-w", Takes::Value),
            ("-l", Takes::Value),
            ("-r", Takes::Value),
            ("-sw", Takes::Nothing),
            ("-sm", Takes::Nothing),
            ("-Sm", Takes::Nothing),
            ("-u", Takes::Nothing),
            ("-v", Takes::Nothing),
        ];
        let (a, b, flags) = two_sources("window", &args, &known)?;
        let w = flags.int("-w", 1000)?;
        let pad = (flags.int("-l", w)?, flags.int("-r", w)?);
        if pad.0 < 0 || pad.1 < 0 {
            return Err(flags.error("window sizes must be at least 0".into()).into());
        }
        let report = report(&flags)?;
        let strand = match (flags.has("-sm"), flags.has("-Sm")) {
            (true, true) => return Err(flags.error("options -sm and -Sm exclude each other".into()).into()),
            (true, false) => StrandRule::Same,
            (false, true) => StrandRule::Opposite,
            (false, false) => StrandRule::Ignore,
        };
        let rule = Rule { strand, frac_a: None, frac_b: None, either: false, min_bp: 0 };
        let schema = pairs_schema(&a, &b, report, false);
        let op = Pairs { function: "window", a: a.arg.clone(), b: b.arg.clone(), rule, report, pad, strand_pad: flags.has("-sw") };
        Ok(IntervalTable::new("window", schema, vec![a, b], op))
    }
}

/// Per-A-row summaries: `count_overlaps` and `coverage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Summary {
    Count,
    Coverage,
    Histogram,
}

#[derive(Debug)]
struct Summarise {
    function: &'static str,
    a: String,
    b: String,
    rule: Rule,
    summary: Summary,
}

/// Bases of `[s, e)` at each depth of the B spans `spans` (clipped to it).
fn depth_histogram(s: i64, e: i64, spans: &[(i64, i64)]) -> Vec<i64> {
    let mut events: Vec<(i64, i64)> = Vec::with_capacity(spans.len() * 2);
    for &(b0, b1) in spans {
        let (x, y) = (b0.max(s), b1.min(e));
        if x < y {
            events.push((x, 1));
            events.push((y, -1));
        }
    }
    events.sort_unstable();
    let mut hist = vec![0i64; spans.len() + 1];
    let (mut at, mut depth) = (s, 0i64);
    for (pos, d) in events {
        hist[depth as usize] += pos - at;
        at = pos;
        depth += d;
    }
    hist[0] += e - at;
    hist
}

impl Summarise {
    fn step(&self, index: &Index, batch: RecordBatch, out: &Columns) -> Result<RecordBatch> {
        let a = Intervals::new(self.function, &self.a, &batch)?;
        let mut found = Vec::new();
        let (mut rows, mut count, mut covered, mut length, mut fraction, mut depth) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..a.len() {
            hits(self.function, &a, i, index, &self.rule, (0, 0), &mut found)?;
            if self.summary == Summary::Count {
                rows.push(i as u32);
                count.push(found.len() as i64);
                continue;
            }
            let (s, e) = bedtools_span(a.start[i], a.end[i]);
            let spans: Vec<(i64, i64)> = found.iter().map(|&r| bedtools_span(index.ivs.start[r as usize], index.ivs.end[r as usize])).collect();
            let hist = depth_histogram(s, e, &spans);
            let len = e - s;
            if self.summary == Summary::Coverage {
                rows.push(i as u32);
                count.push(found.len() as i64);
                covered.push(len - hist[0]);
                length.push(len);
                fraction.push((len - hist[0]) as f64 / len as f64);
            } else {
                for (d, &bases) in hist.iter().enumerate().filter(|(_, b)| **b > 0) {
                    rows.push(i as u32);
                    depth.push(d as i64);
                    covered.push(bases);
                    length.push(len);
                    fraction.push(bases as f64 / len as f64);
                }
            }
        }
        let mut cols = take_columns(&batch, &rows)?;
        let ints = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
        match self.summary {
            Summary::Count => cols.push(ints(count)),
            Summary::Coverage => cols.extend([ints(count), ints(covered), ints(length), Arc::new(Float64Array::from(fraction))]),
            Summary::Histogram => cols.extend([ints(depth), ints(covered), ints(length), Arc::new(Float64Array::from(fraction))]),
        }
        out.finish(cols)
    }
}

impl IntervalOp for Summarise {
    fn run(self: Arc<Self>, inputs: Vec<SendableRecordBatchStream>, out: Columns, workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        let (function, b) = (self.function, self.b.clone());
        index_then_probe(function, b, inputs, workers, move |index, batch| self.step(index, batch, &out))
    }
}

fn summary_schema(a: &Source, extra: &[(&str, DataType)]) -> SchemaRef {
    let mut fields: Vec<_> = a.schema.fields().iter().cloned().collect();
    fields.extend(extra.iter().map(|(n, t)| Arc::new(Field::new(*n, t.clone(), false))));
    Arc::new(Schema::new(fields))
}

/// `count_overlaps(a, b [, options])`: `bedtools intersect -c`: every A row and
/// `count`, the B intervals overlapping it; options as [`IntersectFunc`]'s
/// `-s -S -f -F -r -e -bp`.
#[derive(Debug, Default)]
pub struct CountOverlapsFunc;

impl TableFunctionImpl for CountOverlapsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (a, b, flags) = two_sources("count_overlaps", &args, &OVERLAP_FLAGS)?;
        let schema = summary_schema(&a, &[("count", DataType::Int64)]);
        let op = Summarise { function: "count_overlaps", a: a.arg.clone(), b: b.arg.clone(), rule: Rule::from_flags(&flags)?, summary: Summary::Count };
        Ok(IntervalTable::new("count_overlaps", schema, vec![a, b], op))
    }
}

/// `coverage(a, b [, options])`: `bedtools coverage`: every A row with `count`
/// (B intervals overlapping it), `covered` (its bases under at least one),
/// `length` and `fraction`. `-hist`: instead one row per A row and depth with
/// bases at that depth: `depth`, `bases`, `length`, `fraction` (bedtools'
/// genome-wide `all` lines are `SELECT depth, sum(bases) ... GROUP BY depth`).
/// `-s`, `-S`: strands.
#[derive(Debug, Default)]
pub struct CoverageFunc;

impl TableFunctionImpl for CoverageFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let known = [("-s", Takes::Nothing), ("-S", Takes::Nothing), ("-hist", Takes::Nothing)];
        let (a, b, flags) = two_sources("coverage", &args, &known)?;
        let hist = flags.has("-hist");
        let schema = if hist {
            summary_schema(&a, &[("depth", DataType::Int64), ("bases", DataType::Int64), ("length", DataType::Int64), ("fraction", DataType::Float64)])
        } else {
            summary_schema(&a, &[("count", DataType::Int64), ("covered", DataType::Int64), ("length", DataType::Int64), ("fraction", DataType::Float64)])
        };
        let rule = Rule { strand: flags.strand()?, frac_a: None, frac_b: None, either: false, min_bp: 0 };
        let summary = if hist { Summary::Histogram } else { Summary::Coverage };
        let op = Summarise { function: "coverage", a: a.arg.clone(), b: b.arg.clone(), rule, summary };
        Ok(IntervalTable::new("coverage", schema, vec![a, b], op))
    }
}

/// `subtract(a, b [, options])`: `bedtools subtract`: each A row with the bases
/// that B overlaps removed (a row split in two where B lies inside it; gone where
/// B covers it); `-A`: A rows that B overlaps are dropped whole; `-f F`: only B
/// overlapping at least that fraction of A counts; `-s`, `-S`: strands. A
/// zero-length A row stays unless a B interval covers its widened span.
#[derive(Debug, Default)]
pub struct SubtractFunc;

#[derive(Debug)]
struct Subtract {
    a: String,
    b: String,
    rule: Rule,
    whole: bool,
}

impl Subtract {
    fn step(&self, index: &Index, batch: RecordBatch, out: &Columns) -> Result<RecordBatch> {
        let a = Intervals::new("subtract", &self.a, &batch)?;
        let mut found = Vec::new();
        let (mut rows, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..a.len() {
            hits("subtract", &a, i, index, &self.rule, (0, 0), &mut found)?;
            let (s, e) = (a.start[i], a.end[i]);
            let keep = |rows: &mut Vec<u32>, starts: &mut Vec<i64>, ends: &mut Vec<i64>, x: i64, y: i64| {
                rows.push(i as u32);
                starts.push(x);
                ends.push(y);
            };
            if found.is_empty() {
                keep(&mut rows, &mut starts, &mut ends, s, e);
                continue;
            }
            if self.whole {
                continue;
            }
            let mut spans: Vec<(i64, i64)> = found.iter().map(|&r| bedtools_span(index.ivs.start[r as usize], index.ivs.end[r as usize])).collect();
            spans.sort_unstable();
            if s == e {
                let (w0, w1) = bedtools_span(s, e);
                if !spans.iter().any(|&(b0, b1)| b0 <= w0 && b1 >= w1) {
                    keep(&mut rows, &mut starts, &mut ends, s, e);
                }
                continue;
            }
            let mut at = s;
            for (b0, b1) in spans {
                if b0 > at {
                    keep(&mut rows, &mut starts, &mut ends, at, b0.min(e));
                }
                at = at.max(b1);
                if at >= e {
                    break;
                }
            }
            if at < e {
                keep(&mut rows, &mut starts, &mut ends, at, e);
            }
        }
        rows_with_coords(&batch, &rows, starts, ends, out)
    }
}

impl IntervalOp for Subtract {
    fn run(self: Arc<Self>, inputs: Vec<SendableRecordBatchStream>, out: Columns, workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        let (function, b) = ("subtract", self.b.clone());
        index_then_probe(function, b, inputs, workers, move |index, batch| self.step(index, batch, &out))
    }
}

impl TableFunctionImpl for SubtractFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let known = [("-A", Takes::Nothing), ("-f", Takes::Value), ("-s", Takes::Nothing), ("-S", Takes::Nothing)];
        let (a, b, flags) = two_sources("subtract", &args, &known)?;
        let schema = with_int64_coords(&a.schema);
        let op = Subtract { a: a.arg.clone(), b: b.arg.clone(), rule: Rule::from_flags(&flags)?, whole: flags.has("-A") };
        Ok(IntervalTable::new("subtract", schema, vec![a, b], op))
    }
}
