//! The probe side of `IntervalJoinExec`: stream right batches, look each
//! interval up in the build index, emit joined batches.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions,
    UInt32Array,
};
use arrow::compute::{concat_batches, filter, prep_null_mask_filter, take};
use arrow::datatypes::SchemaRef;
use coitrees::COITree;
use datafusion::common::{JoinSide, JoinType, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};

use super::exec::IntervalColumnsSpec;
use super::index::{BuildIndex, IntervalColumns};
use super::spec::OverlapMode;

/// Collects partition `partition` of `left` and indexes it.
pub(crate) async fn build_index(
    left: Arc<dyn ExecutionPlan>,
    partition: usize,
    context: Arc<TaskContext>,
    cols: (usize, usize, usize),
    mode: OverlapMode,
) -> Result<Arc<BuildIndex>> {
    let schema = left.schema();
    let batches: Vec<RecordBatch> = left.execute(partition, context)?.try_collect().await?;
    let batch = concat_batches(&schema, &batches)?;
    Ok(Arc::new(BuildIndex::new(batch, cols, mode)?))
}

/// State of one output partition.
pub(crate) struct IntervalJoinStream {
    index_future: Option<BoxFuture<'static, Result<Arc<BuildIndex>>>>,
    index: Option<Arc<BuildIndex>>,
    probe: SendableRecordBatchStream,
    right_cols: IntervalColumnsSpec,
    residual: Option<JoinFilter>,
    join_type: JoinType,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    left_schema: SchemaRef,
    right_schema: SchemaRef,
    batch_size: usize,
    pending: VecDeque<RecordBatch>,
    left_matched: Vec<bool>,
    finished: bool,
    baseline: BaselineMetrics,
    probe_rows: Count,
}

impl IntervalJoinStream {
    /// A stream joining the probe stream with the index `index` resolves to.
    #[allow(clippy::too_many_arguments, clippy::new_ret_no_self)]
    pub(crate) fn new(
        index: BoxFuture<'static, Result<Arc<BuildIndex>>>,
        probe: SendableRecordBatchStream,
        right_cols: IntervalColumnsSpec,
        residual: Option<JoinFilter>,
        join_type: JoinType,
        projection: Option<Vec<usize>>,
        schema: SchemaRef,
        left_schema: SchemaRef,
        batch_size: usize,
        metrics: &ExecutionPlanMetricsSet,
        partition: usize,
    ) -> SendableRecordBatchStream {
        let right_schema = probe.schema();
        let state = Self {
            index_future: Some(index),
            index: None,
            probe,
            right_cols,
            residual,
            join_type,
            projection,
            schema: Arc::clone(&schema),
            left_schema,
            right_schema,
            batch_size: batch_size.max(1),
            pending: VecDeque::new(),
            left_matched: Vec::new(),
            finished: false,
            baseline: BaselineMetrics::new(metrics, partition),
            probe_rows: MetricBuilder::new(metrics).counter("probe_rows", partition),
        };
        let stream = futures::stream::try_unfold(state, |mut s| async move {
            let next = s.next_batch().await?;
            Ok(next.map(|b| (b, s)))
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, stream))
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                self.baseline.output_rows().add(b.num_rows());
                return Ok(Some(b));
            }
            if self.finished {
                return Ok(None);
            }
            let index = match &self.index {
                Some(i) => Arc::clone(i),
                None => {
                    let fut = self.index_future.take();
                    let Some(fut) = fut else { return Ok(None) };
                    let index = fut.await?;
                    self.left_matched = vec![false; index.batch.num_rows()];
                    self.index = Some(Arc::clone(&index));
                    index
                }
            };
            match self.probe.next().await {
                Some(batch) => {
                    let batch = batch?;
                    let elapsed = self.baseline.elapsed_compute().clone();
                    let timer = elapsed.timer();
                    self.probe_batch(&index, &batch)?;
                    timer.done();
                }
                None => {
                    self.finished = true;
                    if self.join_type == JoinType::Left {
                        self.emit_unmatched_left(&index)?;
                    }
                }
            }
        }
    }

    fn probe_batch(&mut self, index: &BuildIndex, batch: &RecordBatch) -> Result<()> {
        self.probe_rows.add(batch.num_rows());
        let rc = IntervalColumns::new(
            batch,
            self.right_cols.chrom,
            self.right_cols.start,
            self.right_cols.end,
        )?;
        let (mut li, mut ri) = (Vec::<u32>::new(), Vec::<u32>::new());
        // Probe rows usually come in runs of one chromosome: cache its tree.
        let mut current: Option<(&str, Option<&COITree<u32, u32>>)> = None;
        for r in 0..batch.num_rows() {
            let Some((chrom, start, end)) = rc.row(r) else { continue };
            let tree = match current {
                Some((c, t)) if c == chrom => t,
                _ => {
                    let t = index.tree(chrom);
                    current = Some((chrom, t));
                    t
                }
            };
            if let Some(tree) = tree {
                index.query(tree, chrom, start, end, |l| {
                    li.push(l);
                    ri.push(r as u32);
                })?;
            }
        }
        let (mut li, mut ri) = (UInt32Array::from(li), UInt32Array::from(ri));
        if let Some(res) = &self.residual {
            let mask = residual_mask(res, &index.batch, batch, &li, &ri)?;
            li = filter(&li, &mask)?.as_primitive().clone();
            ri = filter(&ri, &mask)?.as_primitive().clone();
        }
        match self.join_type {
            JoinType::Left => {
                for l in li.values() {
                    self.left_matched[*l as usize] = true;
                }
            }
            JoinType::Right => {
                let mut seen = vec![false; batch.num_rows()];
                for r in ri.values() {
                    seen[*r as usize] = true;
                }
                let missing: Vec<u32> =
                    (0..batch.num_rows() as u32).filter(|r| !seen[*r as usize]).collect();
                if !missing.is_empty() {
                    let nulls = UInt32Array::new_null(missing.len());
                    li = concat_u32(&li, &nulls)?;
                    ri = concat_u32(&ri, &UInt32Array::from(missing))?;
                }
            }
            _ => {}
        }
        let mut offset = 0;
        while offset < li.len() {
            let len = self.batch_size.min(li.len() - offset);
            let out = self.materialize(
                Some(&index.batch),
                Some(batch),
                &li.slice(offset, len),
                &ri.slice(offset, len),
            )?;
            self.pending.push_back(out);
            offset += len;
        }
        Ok(())
    }

    fn emit_unmatched_left(&mut self, index: &BuildIndex) -> Result<()> {
        let unmatched: Vec<u32> = self
            .left_matched
            .iter()
            .enumerate()
            .filter(|(_, m)| !**m)
            .map(|(i, _)| i as u32)
            .collect();
        for chunk in unmatched.chunks(self.batch_size) {
            let li = UInt32Array::from(chunk.to_vec());
            let ri = UInt32Array::new_null(chunk.len());
            let out = self.materialize(Some(&index.batch), None, &li, &ri)?;
            self.pending.push_back(out);
        }
        Ok(())
    }

    /// Output rows for index pairs; a `None` side (or NULL index) gives NULLs.
    fn materialize(
        &self,
        left: Option<&RecordBatch>,
        right: Option<&RecordBatch>,
        li: &UInt32Array,
        ri: &UInt32Array,
    ) -> Result<RecordBatch> {
        let n = li.len();
        let side = |b: Option<&RecordBatch>, idx: &UInt32Array, schema: &SchemaRef| -> Result<Vec<ArrayRef>> {
            match b {
                Some(b) => b.columns().iter().map(|c| Ok(take(c, idx, None)?)).collect(),
                None => Ok(schema.fields().iter().map(|f| new_null_array(f.data_type(), n)).collect()),
            }
        };
        let mut cols = side(left, li, &self.left_schema)?;
        cols.extend(side(right, ri, &self.right_schema)?);
        let cols = match &self.projection {
            Some(p) => p.iter().map(|i| Arc::clone(&cols[*i])).collect(),
            None => cols,
        };
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(Arc::clone(&self.schema), cols, &options)?)
    }
}

fn concat_u32(a: &UInt32Array, b: &UInt32Array) -> Result<UInt32Array> {
    Ok(arrow::compute::concat(&[a as &dyn Array, b as &dyn Array])?.as_primitive().clone())
}

/// Evaluates the residual filter on candidate pairs; NULL counts as false.
fn residual_mask(
    res: &JoinFilter,
    left: &RecordBatch,
    right: &RecordBatch,
    li: &UInt32Array,
    ri: &UInt32Array,
) -> Result<BooleanArray> {
    let cols = res
        .column_indices()
        .iter()
        .map(|c| match c.side {
            JoinSide::Left => Ok(take(left.column(c.index), li, None)?),
            _ => Ok(take(right.column(c.index), ri, None)?),
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(li.len()));
    let batch = RecordBatch::try_new_with_options(Arc::clone(res.schema()), cols, &options)?;
    let mask = res.expression().evaluate(&batch)?.into_array(li.len())?;
    let mask = mask.as_boolean();
    Ok(if mask.null_count() > 0 { prep_null_mask_filter(mask) } else { mask.clone() })
}
