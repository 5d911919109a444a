//! `nearest(a, b [, options])`: `bedtools closest` over any two interval
//! sources: the k nearest B intervals of each A row, with bedtools' tie modes,
//! signed distances and upstream/downstream filters.

use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;

use super::exec::{pairs_batch, prefixed_fields, Columns, IntervalOp, IntervalTable};
use super::flags::{Flags, StrandRule, Takes};
use super::index::{index_then_probe, ChromIndex, Index};
use super::overlap::two_sources;
use super::source::Intervals;
use crate::coords::bedtools_span;
use crate::SqlError;
use crate::workers::Workers;

/// Which ties a distance group reports (`-t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ties {
    All,
    First,
    Last,
}

/// How distances are signed (`-D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signed {
    /// Unsigned (bedtools `-d`).
    No,
    /// Negative when B lies before A on the reference.
    Ref,
    /// Negative when B is upstream of A (A's strand; unstranded as `+`).
    A,
    /// Negative when A is upstream of B (B's strand).
    B,
}

#[derive(Debug)]
struct Nearest {
    a: String,
    b: String,
    k: usize,
    ties: Ties,
    signed: Signed,
    strand: StrandRule,
    ignore_overlaps: bool,
    ignore_upstream: bool,
    ignore_downstream: bool,
    max_distance: Option<i64>,
}

/// A candidate: distance (unsigned), B start, B end, B row, signed distance.
type Candidate = (i64, i64, i64, u32, i64);

impl Nearest {
    /// The signed distance of B row `r` at unsigned distance `d`, `left` when B
    /// lies before A.
    fn sign(&self, d: i64, left: bool, a_strand: u8, b_strand: u8) -> i64 {
        let before = match self.signed {
            Signed::No => return d,
            Signed::Ref => left,
            Signed::A => left != (a_strand == b'-'),
            Signed::B => left == (b_strand == b'-'),
        };
        if before { -d } else { d }
    }

    /// Whether a candidate is kept (strand rule, upstream/downstream filters).
    fn keeps(&self, signed: i64, d: i64, a_strand: u8, b_strand: u8) -> bool {
        self.strand.allows(a_strand, b_strand)
            && self.max_distance.is_none_or(|m| d <= m)
            && !(self.ignore_upstream && signed < 0)
            && !(self.ignore_downstream && signed > 0)
    }

    /// The rows to report for A row `i`, into `out` (sorted: distance, B position).
    fn pick(&self, a: &Intervals, i: usize, index: &Index, c: &ChromIndex, out: &mut Vec<Candidate>) -> Result<()> {
        out.clear();
        let b = &index.ivs;
        let (a0, a1) = bedtools_span(a.start[i], a.end[i]);
        let sa = a.strand[i];
        let mut cands: Vec<Candidate> = Vec::new();
        if !self.ignore_overlaps {
            index.overlapping("nearest", a.chrom.value(i), a0, a1, |r| {
                let ru = r as usize;
                if self.keeps(0, 0, sa, b.strand[ru]) {
                    cands.push((0, b.start[ru], b.end[ru], r, 0));
                }
            })?;
        }
        // Walk outwards on both sides, nearest first, until k distance groups
        // (or, for ties = all, k rows) are complete.
        let mut l = c.by_end.partition_point(|&(e, _, _)| e <= a0);
        let mut r = c.by_start.partition_point(|&(s, _, _)| s < a1);
        let enough = |cands: &mut Vec<Candidate>, next: i64| -> bool {
            cands.sort_unstable();
            let mut groups = 0usize;
            let mut rows = 0usize;
            let mut last = None;
            for cand in cands.iter() {
                if last != Some(cand.0) {
                    if (self.ties == Ties::All && rows >= self.k) || (self.ties != Ties::All && groups >= self.k) {
                        break;
                    }
                    groups += 1;
                    last = Some(cand.0);
                }
                rows += 1;
            }
            let done = if self.ties == Ties::All { rows >= self.k } else { groups >= self.k };
            // Further candidates are at `next` or farther; a group at the last
            // distance could still grow while next equals it.
            done && last.is_some_and(|d| d < next)
        };
        loop {
            let dl = (l > 0).then(|| a0 - c.by_end[l - 1].0 + 1);
            let dr = c.by_start.get(r).map(|&(s, _, _)| s - a1 + 1);
            let next = match (dl, dr) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => break,
            };
            if self.max_distance.is_some_and(|m| next > m) || enough(&mut cands, next) {
                break;
            }
            if dl == Some(next) {
                let (_, _, row) = c.by_end[l - 1];
                l -= 1;
                let ru = row as usize;
                let s = self.sign(next, true, sa, b.strand[ru]);
                if self.keeps(s, next, sa, b.strand[ru]) {
                    cands.push((next, b.start[ru], b.end[ru], row, s));
                }
            } else {
                let (_, _, row) = c.by_start[r];
                r += 1;
                let ru = row as usize;
                let s = self.sign(next, false, sa, b.strand[ru]);
                if self.keeps(s, next, sa, b.strand[ru]) {
                    cands.push((next, b.start[ru], b.end[ru], row, s));
                }
            }
        }
        cands.sort_unstable();
        let mut rows = 0usize;
        let mut groups = 0usize;
        let mut g = 0;
        while g < cands.len() {
            let end = g + cands[g..].iter().take_while(|c| c.0 == cands[g].0).count();
            let enough = if self.ties == Ties::All { rows >= self.k } else { groups >= self.k };
            if enough {
                break;
            }
            match self.ties {
                Ties::All => out.extend_from_slice(&cands[g..end]),
                Ties::First => out.push(cands[g]),
                Ties::Last => out.push(cands[end - 1]),
            }
            rows += end - g;
            groups += 1;
            g = end;
        }
        Ok(())
    }

    fn step(&self, index: &Index, batch: RecordBatch, out: &Columns) -> Result<RecordBatch> {
        let a = Intervals::new("nearest", &self.a, &batch)?;
        let (mut ai, mut bi, mut dist) = (Vec::new(), Vec::new(), Vec::new());
        let mut picked = Vec::new();
        for i in 0..a.len() {
            picked.clear();
            if let Some(c) = index.chrom(a.chrom.value(i)) {
                self.pick(&a, i, index, c, &mut picked)?;
            }
            if picked.is_empty() {
                ai.push(i as u32);
                bi.push(None);
                dist.push(-1);
            }
            for cand in &picked {
                ai.push(i as u32);
                bi.push(Some(cand.3));
                dist.push(cand.4);
            }
        }
        pairs_batch(out, &batch, UInt32Array::from(ai), &index.batch, UInt32Array::from(bi), dist)
    }
}

impl IntervalOp for Nearest {
    fn run(self: Arc<Self>, inputs: Vec<SendableRecordBatchStream>, out: Columns, workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        let (function, b) = ("nearest", self.b.clone());
        index_then_probe(function, b, inputs, workers, move |index, batch| self.step(index, batch, &out))
    }
}

/// `nearest(a, b [, options])`: `bedtools closest -d`: for every A row, the
/// nearest B rows on its chromosome: A's columns, B's prefixed `b_`, and
/// `distance` (0 for an overlap, else the gap + 1, so book-ended intervals are at
/// 1; an A row with no B on its chromosome gets NULL B columns and -1). Inputs
/// need not be sorted. Options: `-k N` (the N nearest; with ties `all`, a tied
/// group is reported whole), `-t all|first|last` (ties, default all), `-D
/// ref|a|b` (signed distances: negative upstream, by the reference, A's strand
/// or B's), `-io` (ignore overlaps), `-iu` / `-id` (ignore upstream /
/// downstream B; need `-D`), `-s` / `-S` (same / opposite strand), `-maxdist N`
/// (omicsdb: no B farther than N).
#[derive(Debug, Default)]
pub struct NearestFunc;

impl TableFunctionImpl for NearestFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let known = [
            ("-k", Takes::Value),
            ("-t", Takes::Value),
            ("-D", Takes::Value),
            ("-d", Takes::Nothing),
            ("-io", Takes::Nothing),
            ("-iu", Takes::Nothing),
            ("-id", Takes::Nothing),
            ("-s", Takes::Nothing),
            ("-S", Takes::Nothing),
            ("-maxdist", Takes::Value),
        ];
        let (a, b, flags) = two_sources("nearest", &args, &known)?;
        let op = nearest_op(&flags, a.arg.clone(), b.arg.clone())?;
        let mut fields: Vec<_> = a.schema.fields().iter().cloned().collect();
        fields.extend(prefixed_fields(&b.schema, "b_", true));
        fields.push(Arc::new(Field::new("distance", DataType::Int64, false)));
        Ok(IntervalTable::new("nearest", Arc::new(Schema::new(fields)), vec![a, b], op))
    }
}

fn nearest_op(flags: &Flags, a: String, b: String) -> Result<Nearest, SqlError> {
    let k = flags.int("-k", 1)?;
    if !(1..=1_000_000).contains(&k) {
        return Err(flags.error(format!("option -k needs 1 to 1000000 intervals, got {k}")));
    }
    let ties = match flags.text("-t").unwrap_or("all") {
        "all" => Ties::All,
        "first" => Ties::First,
        "last" => Ties::Last,
        other => return Err(flags.error(format!("option -t needs all, first or last, got '{other}'"))),
    };
    let signed = match flags.text("-D") {
        None => Signed::No,
        Some("ref") => Signed::Ref,
        Some("a") => Signed::A,
        Some("b") => Signed::B,
        Some(other) => return Err(flags.error(format!("option -D needs ref, a or b, got '{other}'"))),
    };
    let (iu, id) = (flags.has("-iu"), flags.has("-id"));
    if (iu || id) && signed == Signed::No {
        return Err(flags.error("options -iu and -id need -D ref|a|b".into()));
    }
    let max_distance = match flags.text("-maxdist") {
        None => None,
        Some(_) => Some(flags.int("-maxdist", 0)?).filter(|m| *m >= 0).map(Some).ok_or_else(|| flags.error("option -maxdist needs a distance of at least 0".into()))?,
    };
    Ok(Nearest {
        a,
        b,
        k: k as usize,
        ties,
        signed,
        strand: flags.strand()?,
        ignore_overlaps: flags.has("-io"),
        ignore_upstream: iu,
        ignore_downstream: id,
        max_distance,
    })
}
