//! `ism(region, tissue, assay [, model])`: in-silico saturation mutagenesis.
//!
//! A table of every single-base substitution of `region` (a region string
//! `chrom:start-end`, 1-based closed, at most [`MAX_ISM_BP`] bases): for each position
//! whose reference base is `A`, `C`, `G` or `T` (positions at `N` are left out), the
//! three other bases, with columns
//!
//! | column | type | |
//! |---|---|---|
//! | `chrom` | Utf8 | the assembly's name |
//! | `pos` | Int64 | 1-based, as in a VCF |
//! | `ref`, `alt` | Utf8 | one base each |
//! | `delta` | Float32 | `alt_value − ref_value` |
//! | `ref_value`, `alt_value` | Float32 | the track's prediction on the reference and alternate windows |
//!
//! in position order, then `A, C, G, T` order of `alt`. Each row is exactly
//! `score_variant(chrom, pos, ref, alt, tissue, assay [, model])`: the windows are
//! centred on the substituted base ([`super::allele`]), so the reference window of a
//! position is shared by its three substitutions and runs once. The arguments are
//! constant strings; the model, tissue and assay are checked when the query is planned,
//! the model runs when the table is read, in batches of [`POSITIONS_PER_BATCH`]
//! positions (stopping between batches when the statement is cancelled).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::TableProvider;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use omicsdb_model::omics::OmicsHead;
use omicsdb_storage::models::ModelMeta;

use super::score::{TrackScore, score_windows};
use super::{OnRefMismatch, Prepared, VariantSites};
use crate::error::UdfError;
use crate::interrupt::StatementInterrupt;
use crate::predict::{PredictOmicsFunc, PredictTask, parse_region};
use crate::registry::ModelRegistry;

/// The SQL name.
pub const NAME: &str = "ism";
/// Longest region `ism` mutates (bases): 3 substitutions each, 4 windows a position.
pub const MAX_ISM_BP: u64 = 10_000;
/// Positions scored per output batch.
pub const POSITIONS_PER_BATCH: usize = 128;

/// The table's schema.
pub fn ism_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("chrom", DataType::Utf8, false),
        Field::new("pos", DataType::Int64, false),
        Field::new("ref", DataType::Utf8, false),
        Field::new("alt", DataType::Utf8, false),
        Field::new("delta", DataType::Float32, false),
        Field::new("ref_value", DataType::Float32, false),
        Field::new("alt_value", DataType::Float32, false),
    ]))
}

/// `ism` as a table function over a [`ModelRegistry`].
#[derive(Debug)]
pub struct IsmFunc {
    registry: Arc<ModelRegistry>,
    omics: Arc<PredictOmicsFunc>,
}

impl IsmFunc {
    /// `ism`, running models from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { omics: Arc::new(PredictOmicsFunc::for_function(Arc::clone(&registry), NAME)), registry }
    }
}

fn arg_err(argument: &'static str, message: String) -> UdfError {
    UdfError::Argument { function: NAME, argument, message }
}

fn string_literal(exprs: &[Expr], i: usize, name: &'static str) -> Result<Option<String>, UdfError> {
    match exprs.get(i) {
        None => Ok(None),
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _)) => {
            Ok(Some(s.clone()))
        }
        Some(other) => Err(arg_err(name, format!("must be a string literal, got {other}"))),
    }
}

impl TableFunctionImpl for IsmFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(3..=4).contains(&exprs.len()) {
            return Err(arg_err("region", format!("expects 3 or 4 arguments (region, tissue, assay [, model]), got {}", exprs.len())).into());
        }
        let region = string_literal(exprs, 0, "region")?.unwrap_or_default();
        let tissue = string_literal(exprs, 1, "tissue")?.unwrap_or_default();
        let assay = string_literal(exprs, 2, "assay")?.unwrap_or_default();
        let model = string_literal(exprs, 3, "model")?;
        let (chrom, start, end) = parse_region(&region).map_err(|m| arg_err("region", m))?;
        if end - start > MAX_ISM_BP {
            return Err(arg_err(
                "region",
                format!("'{region}' is {} bp; ism mutates at most {MAX_ISM_BP} bp at a time (split the region)", end - start),
            )
            .into());
        }
        let meta = self.omics.resolve(model.as_deref())?;
        let head = self.omics.head(&meta)?;
        let outputs = self.omics.outputs(&head.spec, &tissue, Some(&assay))?;
        let sites = VariantSites::new(self.registry.store(), &head.spec.assembly, head.spec.input_len())?;
        let (name, chrom_len) = sites.chrom(&chrom).map_err(|p| arg_err("region", format!("'{region}': {p}")))?;
        if end > chrom_len {
            return Err(arg_err("region", format!("'{region}' ends past {name} ({chrom_len} bp)")).into());
        }
        let partition = IsmPartition {
            registry: Arc::clone(&self.registry),
            meta,
            head,
            track: outputs[0].0,
            sites: Arc::new(sites),
            chrom: name,
            start,
            end,
            schema: ism_schema(),
        };
        Ok(Arc::new(StreamingTable::try_new(ism_schema(), vec![Arc::new(partition)])?))
    }
}

/// The one partition of an `ism` table: computed batch by batch when read.
#[derive(Debug, Clone)]
struct IsmPartition {
    registry: Arc<ModelRegistry>,
    meta: ModelMeta,
    head: Arc<OmicsHead>,
    track: usize,
    sites: Arc<VariantSites>,
    chrom: String,
    start: u64,
    end: u64,
    schema: SchemaRef,
}

impl IsmPartition {
    /// The rows of positions `[from, to)` (0-based).
    fn batch(&self, from: u64, to: u64, interrupt: &StatementInterrupt) -> Result<RecordBatch> {
        let reference = self.sites.genome().sequence(&self.chrom, from, to, false).map_err(UdfError::from)?;
        let mut rows: Vec<(i64, u8, u8)> = Vec::new();
        let mut windows = Vec::new();
        for (i, &base) in reference.iter().enumerate() {
            let base = base.to_ascii_uppercase();
            if !matches!(base, b'A' | b'C' | b'G' | b'T') {
                continue;
            }
            let pos = (from + i as u64 + 1) as i64;
            for alt in [b'A', b'C', b'G', b'T'].into_iter().filter(|b| *b != base) {
                let r = (base as char).to_string();
                let a = (alt as char).to_string();
                match self.sites.prepare(&self.chrom, pos, &r, &a)? {
                    Ok(Prepared::Windows { reference, alt: alt_window, .. }) => windows.push(Some((reference, alt_window))),
                    Ok(Prepared::Symbolic) => windows.push(None),
                    Err(problem) => {
                        return Err(UdfError::Variant { function: NAME, variant: super::label(&self.chrom, pos, &r, &a), problem }.into());
                    }
                }
                rows.push((pos, base, alt));
            }
        }
        let task = PredictTask::predict(Arc::clone(&self.head));
        let outputs = [(self.track, String::new())];
        let scores = score_windows(&self.registry, &task, &self.meta, &self.head.spec, &windows, &outputs, interrupt)?;
        let scores: Vec<TrackScore> = scores[0]
            .iter()
            .map(|s| s.ok_or_else(|| datafusion::common::DataFusionError::Internal(format!("{NAME}: a substitution was not scored"))))
            .collect::<Result<_>>()?;
        let base = |b: u8| (b as char).to_string();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.chrom.as_str(); rows.len()])),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| base(r.1)).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| base(r.2)).collect::<Vec<_>>())),
            Arc::new(Float32Array::from(scores.iter().map(|s| s.delta).collect::<Vec<_>>())),
            Arc::new(Float32Array::from(scores.iter().map(|s| s.reference).collect::<Vec<_>>())),
            Arc::new(Float32Array::from(scores.iter().map(|s| s.alt).collect::<Vec<_>>())),
        ];
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl PartitionStream for IsmPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let interrupt = StatementInterrupt::of(ctx.session_config().options());
        // A REF mismatch cannot happen (the REF is read from the genome); the session
        // setting is still validated so a bad value is reported here too.
        let checked = OnRefMismatch::of(NAME, ctx.session_config().options()).map(|_| ());
        let this = self.clone();
        let step = POSITIONS_PER_BATCH as u64;
        let stream = futures::stream::unfold((this.start, checked), move |(from, checked)| {
            let this = this.clone();
            let interrupt = interrupt.clone();
            async move {
                if let Err(e) = checked {
                    return Some((Err(e.into()), (this.end, Ok(()))));
                }
                if from >= this.end {
                    return None;
                }
                let to = (from + step).min(this.end);
                let batch = this.batch(from, to, &interrupt);
                let next = if batch.is_ok() { to } else { this.end };
                Some((batch, (next, Ok(()))))
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), stream))
    }
}
