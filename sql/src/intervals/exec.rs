//! The table provider and execution plan shared by the interval functions:
//! the inputs are planned when the query is, and read when it runs; each
//! function's [`IntervalOp`] turns the inputs' row streams into its rows.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{internal_err, DataFusionError, Result};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    execute_stream, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::source::Source;
use crate::workers::Workers;

/// What one interval function computes from its inputs' rows.
pub trait IntervalOp: fmt::Debug + Send + Sync + 'static {
    /// Yields the rows, with the columns `out` asks for, from the row streams
    /// of the inputs (in the order the function was given them), computing on
    /// `workers`.
    fn run(self: Arc<Self>, inputs: Vec<SendableRecordBatchStream>, out: Columns, workers: Workers) -> BoxStream<'static, Result<RecordBatch>>;
}

/// The rows a function yields: its full schema, and the columns the query
/// reads of it (so a function need not compute the others).
#[derive(Debug, Clone)]
pub struct Columns {
    full: SchemaRef,
    wanted: Vec<usize>,
    projected: SchemaRef,
}

impl Columns {
    /// Columns `projection` (all when `None`) of `full`.
    pub fn new(full: SchemaRef, projection: Option<&[usize]>) -> Result<Self> {
        let wanted: Vec<usize> = projection.map_or_else(|| (0..full.fields().len()).collect(), <[usize]>::to_vec);
        let projected = Arc::new(full.project(&wanted)?);
        Ok(Self { full, wanted, projected })
    }

    /// The function's full schema.
    pub fn full(&self) -> &SchemaRef {
        &self.full
    }

    /// The schema of the batches it yields.
    pub fn projected(&self) -> &SchemaRef {
        &self.projected
    }

    /// A batch of `rows` rows; `make(i)` gives column `i` of the full schema
    /// and is called only for the columns the query reads.
    pub fn build(&self, rows: usize, mut make: impl FnMut(usize) -> Result<ArrayRef>) -> Result<RecordBatch> {
        let cols = self.wanted.iter().map(|&i| make(i)).collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(Arc::clone(&self.projected), cols, &options)?)
    }

    /// The batch of the wanted columns of `cols` (every column of the full
    /// schema, in order), checked against the full schema.
    pub fn finish(&self, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
        let full = RecordBatch::try_new(Arc::clone(&self.full), cols)?;
        Ok(full.project(&self.wanted)?)
    }
}

/// A table function's result: its inputs and what it does with them.
#[derive(Debug)]
pub struct IntervalTable {
    function: &'static str,
    schema: SchemaRef,
    sources: Vec<Source>,
    op: Arc<dyn IntervalOp>,
}

impl IntervalTable {
    /// The result of `function` over `sources`, with rows of `schema`.
    pub fn new(function: &'static str, schema: SchemaRef, sources: Vec<Source>, op: impl IntervalOp) -> Arc<Self> {
        Arc::new(Self { function, schema, sources, op: Arc::new(op) })
    }
}

#[async_trait]
impl TableProvider for IntervalTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut inputs = Vec::with_capacity(self.sources.len());
        for s in &self.sources {
            inputs.push(s.physical(state).await?);
        }
        Ok(Arc::new(IntervalExec::new(self.function, Arc::clone(&self.op), inputs, Arc::clone(&self.schema), projection.cloned())?))
    }
}

/// Runs an [`IntervalOp`] over its inputs (one output partition).
#[derive(Debug)]
pub struct IntervalExec {
    function: &'static str,
    op: Arc<dyn IntervalOp>,
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    cache: Arc<PlanProperties>,
}

impl IntervalExec {
    fn new(
        function: &'static str,
        op: Arc<dyn IntervalOp>,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let projected = match &projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => Arc::clone(&schema),
        };
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(projected),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { function, op, inputs, schema, projection, cache })
    }
}

impl DisplayAs for IntervalExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "IntervalExec: function={}", self.function)?;
        if let Some(p) = &self.projection {
            write!(f, ", projection={p:?}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for IntervalExec {
    fn name(&self) -> &'static str {
        "IntervalExec"
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    /// Each input as one stream, in its order (the function spreads the work
    /// over its own workers).
    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition; self.inputs.len()]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.inputs.len()]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != self.inputs.len() {
            return internal_err!("IntervalExec takes {} children", self.inputs.len());
        }
        Ok(Arc::new(Self::new(self.function, Arc::clone(&self.op), children, Arc::clone(&self.schema), self.projection.clone())?))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("IntervalExec has one partition, asked for {partition}");
        }
        let streams = self.inputs.iter().map(|p| execute_stream(Arc::clone(p), Arc::clone(&context))).collect::<Result<Vec<_>>>()?;
        let workers = Workers::new(context.session_config().target_partitions())?;
        let out = Columns::new(Arc::clone(&self.schema), self.projection.as_deref())?;
        let out_schema = Arc::clone(out.projected());
        let rows = Arc::clone(&self.op).run(streams, out, workers);
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, rows)))
    }
}

/// Every row of `stream` in one batch.
pub async fn collect_rows(stream: SendableRecordBatchStream) -> Result<RecordBatch> {
    let schema = stream.schema();
    let batches: Vec<RecordBatch> = stream.try_collect().await?;
    Ok(concat_batches(&schema, &batches)?)
}

/// The columns of `batch` at rows `rows`.
pub fn take_columns(batch: &RecordBatch, rows: &[u32]) -> Result<Vec<ArrayRef>> {
    let idx = UInt32Array::from(rows.to_vec());
    Ok(batch.columns().iter().map(|c| take(c.as_ref(), &idx, None)).collect::<Result<Vec<_>, _>>()?)
}

/// A batch of pairs: rows `ai` of `a`, rows `bi` of `b` (NULL where a row is
/// NULL), then the column `last` when the schema has one past them; only the
/// columns the query reads are gathered (none for count(*)).
pub fn pairs_batch(out: &Columns, a: &RecordBatch, ai: UInt32Array, b: &RecordBatch, bi: UInt32Array, last: Vec<i64>) -> Result<RecordBatch> {
    let (na, nb) = (a.num_columns(), b.num_columns());
    let mut last = Some(last);
    out.build(ai.len(), |i| match i {
        i if i < na => Ok(take(a.column(i), &ai, None)?),
        i if i < na + nb => Ok(take(b.column(i - na), &bi, None)?),
        _ => Ok(Arc::new(arrow::array::Int64Array::from(last.take().unwrap_or_default()))),
    })
}

/// `schema`'s fields, each name prefixed, nullable when `nullable`.
pub fn prefixed_fields(schema: &Schema, prefix: &str, nullable: bool) -> Vec<Arc<Field>> {
    schema
        .fields()
        .iter()
        .map(|f| Arc::new(Field::new(format!("{prefix}{}", f.name()), f.data_type().clone(), nullable || f.is_nullable())))
        .collect()
}

/// Rows per piece of a probe batch: a longer batch is cut into pieces, mapped
/// one per worker.
const PIECE_ROWS: usize = 1 << 16;

/// Probe batches mapped side by side, per worker.
const BATCHES_PER_WORKER: usize = 4;

/// `(offset, length)` of the pieces of a batch of `rows` rows, in order: one
/// piece when it has at most [`PIECE_ROWS`], else pieces of equal length.
fn pieces(rows: usize) -> Vec<(usize, usize)> {
    let n = rows.div_ceil(PIECE_ROWS).max(1);
    let size = rows.div_ceil(n);
    (0..n).map(|p| (p * size, size.min(rows - p * size))).collect()
}

/// A stream that first reads every row of `build` into one batch, prepares it
/// with `prepare`, then maps each batch of `probe` with `step`. A long batch is
/// cut into pieces, mapped side by side on the workers; the output keeps the
/// probe's order.
pub fn build_then_probe<T: Send + Sync + 'static>(
    build: SendableRecordBatchStream,
    probe: SendableRecordBatchStream,
    workers: Workers,
    prepare: impl FnOnce(RecordBatch, &Workers) -> Result<T> + Send + 'static,
    step: impl Fn(&T, RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
) -> BoxStream<'static, Result<RecordBatch>> {
    futures::stream::once(async move {
        let built = Arc::new(prepare(collect_rows(build).await?, &workers)?);
        let step = Arc::new(step);
        // Batches that have arrived, a few per worker, then their pieces,
        // mapped side by side: memory holds at most one group's output.
        let group = BATCHES_PER_WORKER * workers.threads();
        let mapped = probe.ready_chunks(group).map(move |batches| {
            let mut slices = Vec::new();
            for b in batches {
                let b = b?;
                slices.extend(pieces(b.num_rows()).into_iter().map(|(o, l)| b.slice(o, l)));
            }
            let out = workers.map(slices, |s| step(&built, s));
            Ok::<_, DataFusionError>(futures::stream::iter(out))
        });
        Ok::<_, DataFusionError>(mapped.try_flatten())
    })
    .try_flatten()
    .boxed()
}

/// A stream of the one batch `make` computes from every row of `input`.
pub fn all_rows(
    input: SendableRecordBatchStream,
    make: impl FnOnce(RecordBatch) -> Result<RecordBatch> + Send + 'static,
) -> BoxStream<'static, Result<RecordBatch>> {
    futures::stream::once(async move { make(collect_rows(input).await?) }).boxed()
}

/// Rows `rows` of `batch` with new `start`/`end` values, as `out` (the source's
/// schema with Int64 coordinates) has them.
pub fn rows_with_coords(batch: &RecordBatch, rows: &[u32], starts: Vec<i64>, ends: Vec<i64>, out: &Columns) -> Result<RecordBatch> {
    let mut cols = take_columns(batch, rows)?;
    let (si, ei) = (out.full().index_of("start")?, out.full().index_of("end")?);
    cols[si] = Arc::new(arrow::array::Int64Array::from(starts));
    cols[ei] = Arc::new(arrow::array::Int64Array::from(ends));
    out.finish(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_every_row_once_in_order() {
        for rows in [0, 1, PIECE_ROWS, PIECE_ROWS + 1, 3 * PIECE_ROWS - 7, 1_000_003] {
            let p = pieces(rows);
            let mut next = 0;
            for &(o, l) in &p {
                assert_eq!(o, next);
                assert!(l <= PIECE_ROWS);
                next += l;
            }
            assert_eq!(next, rows, "{rows} rows in {p:?}");
            assert_eq!(p.len(), rows.div_ceil(PIECE_ROWS).max(1));
        }
    }
}
