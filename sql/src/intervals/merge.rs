//! `merge`, `cluster` and `complement`: functions of one interval set, over its
//! rows sorted by chromosome and start (inputs need not be sorted).
//!
//! As bedtools does, a zero-length interval `[p, p)` takes part as `[p-1, p+1)`;
//! a merged interval spans its members' (widened) extent, and a lone interval
//! keeps its own coordinates.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;

use super::exec::{Columns, all_rows, collect_rows, take_columns, IntervalOp, IntervalTable};
use super::flags::{Flags, Takes};
use super::genome::{self, ChromSizes};
use super::source::{Intervals, Source};
use crate::coords::bedtools_span;
use crate::table_functions::source::string_arg;
use crate::workers::Workers;

/// (span start, span end, row).
type Span = (i64, i64, u32);

/// One merged group: its extent and its member rows (in sorted order).
struct Group {
    chrom: String,
    strand: Option<u8>,
    start: i64,
    end: i64,
    rows: Vec<u32>,
}

/// Groups of rows within `distance` of each other (bedtools `merge -d`:
/// overlapping and book-ended intervals at 0; a negative distance needs that
/// much overlap), per chromosome and, with `stranded`, per strand. Sorted by
/// chromosome name, (strand), start.
fn groups(ivs: &Intervals, distance: i64, stranded: bool) -> Vec<Group> {
    let mut keys: BTreeMap<(&str, u8), Vec<Span>> = BTreeMap::new();
    for i in 0..ivs.len() {
        let (s, e) = bedtools_span(ivs.start[i], ivs.end[i]);
        let strand = if stranded { ivs.strand[i] } else { 0 };
        keys.entry((ivs.chrom.value(i), strand)).or_default().push((s, e, i as u32));
    }
    let mut out = Vec::new();
    for ((chrom, strand), mut rows) in keys {
        rows.sort_unstable();
        let mut cur: Option<Group> = None;
        for (s, e, r) in rows {
            match cur.as_mut() {
                Some(g) if s <= g.end.saturating_add(distance) => {
                    g.end = g.end.max(e);
                    g.rows.push(r);
                }
                _ => {
                    out.extend(cur.take());
                    cur = Some(Group { chrom: chrom.to_string(), strand: stranded.then_some(strand), start: s, end: e, rows: vec![r] });
                }
            }
        }
        out.extend(cur);
    }
    // A lone interval keeps its own coordinates (only a zero-length one differs).
    for g in &mut out {
        if let [r] = g.rows[..] {
            g.start = ivs.start[r as usize];
            g.end = ivs.end[r as usize];
        }
    }
    out.sort_by(|a, b| (a.chrom.as_str(), a.start, a.strand).cmp(&(b.chrom.as_str(), b.start, b.strand)));
    out
}

fn strand_text(s: u8) -> &'static str {
    match s {
        b'+' => "+",
        b'-' => "-",
        _ => ".",
    }
}

/// `merge(source [, options])`: `bedtools merge`. Options: `-d N` (merge
/// intervals at most N bp apart; default 0: overlapping and book-ended; negative:
/// at least -N bp of overlap), `-s` (per strand). Columns: `chrom`, `start`,
/// `end`, (`strand` with `-s`), `n` (intervals merged). Aggregates of the merged
/// rows' other columns (bedtools `-c`/`-o`): `GROUP BY` the `cluster` column of
/// [`ClusterFunc`].
#[derive(Debug, Default)]
pub struct MergeFunc;

#[derive(Debug)]
struct Merge {
    source: String,
    distance: i64,
    stranded: bool,
}

impl IntervalOp for Merge {
    fn run(self: Arc<Self>, mut inputs: Vec<SendableRecordBatchStream>, out: Columns, _workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        all_rows(inputs.remove(0), move |rows| {
            let ivs = Intervals::new("merge", &self.source, &rows)?;
            let g = groups(&ivs, self.distance, self.stranded);
            let mut cols: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(g.iter().map(|g| g.chrom.as_str()))),
                Arc::new(Int64Array::from_iter_values(g.iter().map(|g| g.start))),
                Arc::new(Int64Array::from_iter_values(g.iter().map(|g| g.end))),
            ];
            if self.stranded {
                cols.push(Arc::new(StringArray::from_iter_values(g.iter().map(|g| strand_text(g.strand.unwrap_or(b'.'))))));
            }
            cols.push(Arc::new(Int64Array::from_iter_values(g.iter().map(|g| g.rows.len() as i64))));
            out.finish(cols)
        })
    }
}

/// The source and options of a one-source function: `(source [, options])`.
fn source_and_flags(function: &'static str, args: &TableFunctionArgs, known: &[(&str, Takes)]) -> Result<(Source, Flags)> {
    let exprs = args.exprs();
    if exprs.is_empty() || exprs.len() > 2 {
        return Err(crate::SqlError::Argument { function, message: format!("expects (source [, options]), got {} arguments", exprs.len()) }.into());
    }
    let source = Source::from_arg(function, args.session(), exprs, 0, "source")?;
    source.check_columns(function, false)?;
    let text = if exprs.len() == 2 { string_arg(function, exprs, 1, "options")? } else { String::new() };
    Ok((source, Flags::parse(function, &text, known)?))
}

const MERGE_FLAGS: [(&str, Takes); 2] = [("-d", Takes::Value), ("-s", Takes::Nothing)];

impl TableFunctionImpl for MergeFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (source, flags) = source_and_flags("merge", &args, &MERGE_FLAGS)?;
        let stranded = flags.has("-s");
        let mut fields = vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
        ];
        if stranded {
            fields.push(Field::new("strand", DataType::Utf8, false));
        }
        fields.push(Field::new("n", DataType::Int64, false));
        let op = Merge { source: source.arg.clone(), distance: flags.int("-d", 0)?, stranded };
        Ok(IntervalTable::new("merge", Arc::new(Schema::new(fields)), vec![source], op))
    }
}

/// `cluster(source [, options])`: `bedtools cluster`. Every source row with a
/// `cluster` column (1, 2, ... in chromosome-name and start order) shared by rows
/// at most `-d N` bp apart (default 0: overlapping or book-ended); `-s`: per
/// strand. Rows come sorted by chromosome, start. `merge` with aggregates is
/// `SELECT chrom, min(start), max("end"), sum(score) FROM cluster(...) GROUP BY chrom, cluster`.
#[derive(Debug, Default)]
pub struct ClusterFunc;

#[derive(Debug)]
struct Cluster {
    source: String,
    distance: i64,
    stranded: bool,
}

impl IntervalOp for Cluster {
    fn run(self: Arc<Self>, mut inputs: Vec<SendableRecordBatchStream>, out: Columns, _workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        all_rows(inputs.remove(0), move |rows| {
            let ivs = Intervals::new("cluster", &self.source, &rows)?;
            let mut order: Vec<(u32, i64)> = Vec::with_capacity(ivs.len());
            for (id, g) in groups(&ivs, self.distance, self.stranded).iter().enumerate() {
                order.extend(g.rows.iter().map(|&r| (r, id as i64 + 1)));
            }
            // Rows by chromosome and position, whatever the strand groups.
            order.sort_by(|&(a, _), &(b, _)| {
                let (a, b) = (a as usize, b as usize);
                (ivs.chrom.value(a), ivs.start[a], ivs.end[a], a).cmp(&(ivs.chrom.value(b), ivs.start[b], ivs.end[b], b))
            });
            let idx: Vec<u32> = order.iter().map(|p| p.0).collect();
            let mut cols = take_columns(&rows, &idx)?;
            cols.push(Arc::new(Int64Array::from_iter_values(order.iter().map(|p| p.1))));
            out.finish(cols)
        })
    }
}

impl TableFunctionImpl for ClusterFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (source, flags) = source_and_flags("cluster", &args, &MERGE_FLAGS)?;
        let mut fields: Vec<_> = source.schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("cluster", DataType::Int64, false)));
        let op = Cluster { source: source.arg.clone(), distance: flags.int("-d", 0)?, stranded: flags.has("-s") };
        Ok(IntervalTable::new("cluster", Arc::new(Schema::new(fields)), vec![source], op))
    }
}

/// `complement(source, genome)`: `bedtools complement`: the parts of each
/// chromosome of `genome` (an assembly name, a `chrom.sizes` file, or a query or
/// table with `chrom` and `length`) that no interval covers, in the genome's
/// chromosome order. A source chromosome missing from the genome is an error.
#[derive(Debug, Default)]
pub struct ComplementFunc;

#[derive(Debug)]
struct Complement {
    source: String,
    genome: String,
}

/// The gaps of `ivs` on each chromosome of `sizes`.
fn complement_rows(this: &Complement, sizes: &ChromSizes, ivs: &Intervals, out: &Columns) -> Result<RecordBatch> {
    let mut per_chrom: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for g in groups(ivs, 0, false) {
        sizes.length("complement", &this.genome, &g.chrom)?;
        per_chrom.entry(g.chrom).or_default().push((g.start, g.end));
    }
    let (mut chrom, mut start, mut end) = (Vec::new(), Vec::new(), Vec::new());
    for (c, len) in &sizes.order {
        let mut at = 0;
        for &(s, e) in per_chrom.get(c.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
            let s = s.clamp(0, *len);
            if s > at {
                chrom.push(c.as_str());
                start.push(at);
                end.push(s);
            }
            at = at.max(e.min(*len));
        }
        if at < *len {
            chrom.push(c.as_str());
            start.push(at);
            end.push(*len);
        }
    }
    let cols: Vec<ArrayRef> =
        vec![Arc::new(StringArray::from(chrom)), Arc::new(Int64Array::from(start)), Arc::new(Int64Array::from(end))];
    out.finish(cols)
}

#[derive(Debug)]
struct RunComplement(Complement);

impl IntervalOp for RunComplement {
    fn run(self: Arc<Self>, mut inputs: Vec<SendableRecordBatchStream>, out: Columns, _workers: Workers) -> BoxStream<'static, Result<RecordBatch>> {
        let (rows, genome) = (inputs.remove(0), inputs.remove(0));
        let fut = async move {
            let sizes = ChromSizes::new("complement", &self.0.genome, &collect_rows(genome).await?)?;
            let rows = collect_rows(rows).await?;
            let ivs = Intervals::new("complement", &self.0.source, &rows)?;
            complement_rows(&self.0, &sizes, &ivs, &out)
        };
        futures::StreamExt::boxed(futures::stream::once(fut))
    }
}

impl TableFunctionImpl for ComplementFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 2 {
            return Err(crate::SqlError::Argument { function: "complement", message: format!("expects (source, genome), got {} arguments", exprs.len()) }.into());
        }
        let source = Source::from_arg("complement", args.session(), exprs, 0, "source")?;
        source.check_columns("complement", false)?;
        let g = string_arg("complement", exprs, 1, "genome")?;
        let genome = genome::resolve("complement", args.session(), &g)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
        ]));
        let op = RunComplement(Complement { source: source.arg.clone(), genome: genome.arg.clone() });
        Ok(IntervalTable::new("complement", schema, vec![source, genome], op))
    }
}
