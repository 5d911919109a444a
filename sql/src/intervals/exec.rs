//! The table provider and execution plan shared by the interval functions:
//! the inputs are planned when the query is, and read when it runs; each
//! function's [`IntervalOp`] turns the inputs' row streams into its rows.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{internal_err, Result};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    execute_stream, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::source::Source;

/// What one interval function computes from its inputs' rows.
pub trait IntervalOp: fmt::Debug + Send + Sync + 'static {
    /// Yields rows of `schema` (the function's full output schema) from the
    /// row streams of the inputs, in the order the function was given them.
    fn run(self: Arc<Self>, inputs: Vec<SendableRecordBatchStream>, schema: SchemaRef) -> BoxStream<'static, Result<RecordBatch>>;
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
        let rows = Arc::clone(&self.op).run(streams, Arc::clone(&self.schema));
        let projection = self.projection.clone();
        let out_schema = self.cache.eq_properties.schema().clone();
        let rows = rows.map(move |b| match &projection {
            Some(p) => Ok(b?.project(p)?),
            None => b,
        });
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

/// The columns of `batch` at optional rows (NULL where `None`).
pub fn take_optional(batch: &RecordBatch, rows: &[Option<u32>]) -> Result<Vec<ArrayRef>> {
    let idx = UInt32Array::from(rows.to_vec());
    Ok(batch.columns().iter().map(|c| take(c.as_ref(), &idx, None)).collect::<Result<Vec<_>, _>>()?)
}

/// `schema`'s fields, each name prefixed, nullable when `nullable`.
pub fn prefixed_fields(schema: &Schema, prefix: &str, nullable: bool) -> Vec<Arc<Field>> {
    schema
        .fields()
        .iter()
        .map(|f| Arc::new(Field::new(format!("{prefix}{}", f.name()), f.data_type().clone(), nullable || f.is_nullable())))
        .collect()
}

/// A stream that first reads every row of `build` into one batch, prepares it
/// with `prepare`, then maps each batch of `probe` with `step`.
pub fn build_then_probe<T: Send + Sync + 'static>(
    build: SendableRecordBatchStream,
    probe: SendableRecordBatchStream,
    prepare: impl FnOnce(RecordBatch) -> Result<T> + Send + 'static,
    step: impl Fn(&T, RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
) -> BoxStream<'static, Result<RecordBatch>> {
    futures::stream::once(async move {
        let built = Arc::new(prepare(collect_rows(build).await?)?);
        let step = Arc::new(step);
        Ok::<_, datafusion::error::DataFusionError>(probe.map(move |b| step(&built, b?)))
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

/// Rows `rows` of `batch` with new `start`/`end` values, as `schema` (the source's
/// schema with Int64 coordinates) has them.
pub fn rows_with_coords(batch: &RecordBatch, rows: &[u32], starts: Vec<i64>, ends: Vec<i64>, schema: &SchemaRef) -> Result<RecordBatch> {
    let mut cols = take_columns(batch, rows)?;
    let (si, ei) = (schema.index_of("start")?, schema.index_of("end")?);
    cols[si] = Arc::new(arrow::array::Int64Array::from(starts));
    cols[ei] = Arc::new(arrow::array::Int64Array::from(ends));
    Ok(RecordBatch::try_new(Arc::clone(schema), cols)?)
}
