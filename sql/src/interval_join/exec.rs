//! `IntervalJoinExec`: an equi-join on chromosome plus interval overlap,
//! answered with per-chromosome interval trees instead of hash join + filter.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, JoinType, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties, SendableRecordBatchStream,
};
use tokio::sync::OnceCell;

use super::index::BuildIndex;
use super::spec::OverlapMode;
use super::stream::{build_index, IntervalJoinStream};

/// Which columns of each child hold chrom, start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalColumnsSpec {
    /// Chromosome column index.
    pub chrom: usize,
    /// Start column index.
    pub start: usize,
    /// End column index.
    pub end: usize,
}

/// Joins the left (build) child with the right (probe) child where the
/// chromosomes are equal and the intervals overlap (per [`OverlapMode`]),
/// then applies an optional residual filter and projection. The left child is
/// indexed with one COITree per chromosome; the right child is streamed.
///
/// With a single left partition the index is built once and shared by every
/// right partition; otherwise both children must be hash-partitioned on the
/// chromosome with the same partition count, and partition `i` joins left
/// partition `i` with right partition `i`. Supports inner, left and right
/// joins.
#[derive(Debug)]
pub struct IntervalJoinExec {
    pub(crate) left: Arc<dyn ExecutionPlan>,
    pub(crate) right: Arc<dyn ExecutionPlan>,
    pub(crate) left_cols: IntervalColumnsSpec,
    pub(crate) right_cols: IntervalColumnsSpec,
    pub(crate) mode: OverlapMode,
    pub(crate) residual: Option<JoinFilter>,
    pub(crate) join_type: JoinType,
    pub(crate) projection: Option<Vec<usize>>,
    schema: SchemaRef,
    shared_index: Arc<OnceCell<Arc<BuildIndex>>>,
    metrics: ExecutionPlanMetricsSet,
    cache: Arc<PlanProperties>,
}

impl IntervalJoinExec {
    /// Creates the join. `schema` is the output schema: left columns then
    /// right columns (nullable as `join_type` requires), after `projection`.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        left_cols: IntervalColumnsSpec,
        right_cols: IntervalColumnsSpec,
        mode: OverlapMode,
        residual: Option<JoinFilter>,
        join_type: JoinType,
        projection: Option<Vec<usize>>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if !matches!(join_type, JoinType::Inner | JoinType::Left | JoinType::Right) {
            return internal_err!("IntervalJoinExec does not support {join_type} joins");
        }
        let (lp, rp) = (
            left.output_partitioning().partition_count(),
            right.output_partitioning().partition_count(),
        );
        if lp != 1 && lp != rp {
            return internal_err!(
                "IntervalJoinExec needs one left partition or as many as the right ({lp} vs {rp})"
            );
        }
        if lp == 1 && rp > 1 && join_type == JoinType::Left {
            return internal_err!("IntervalJoinExec: a left join needs partitioned inputs");
        }
        let emission = if join_type == JoinType::Left {
            EmissionType::Both
        } else {
            EmissionType::Incremental
        };
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(rp),
            emission,
            Boundedness::Bounded,
        ));
        Ok(Self {
            left,
            right,
            left_cols,
            right_cols,
            mode,
            residual,
            join_type,
            projection,
            schema,
            shared_index: Arc::new(OnceCell::new()),
            metrics: ExecutionPlanMetricsSet::new(),
            cache,
        })
    }

    /// Whether the single left partition is shared by all right partitions.
    fn collect_left(&self) -> bool {
        self.left.output_partitioning().partition_count() == 1
    }

    /// The overlap comparison used.
    pub fn mode(&self) -> OverlapMode {
        self.mode
    }

    /// The join type (inner, left or right).
    pub fn join_type(&self) -> JoinType {
        self.join_type
    }
}

impl DisplayAs for IntervalJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let l = self.left.schema();
        let r = self.right.schema();
        let name = |s: &SchemaRef, i: usize| format!("{}@{i}", s.field(i).name());
        let predicate = match self.mode {
            OverlapMode::Bedtools => "overlaps".to_string(),
            OverlapMode::Sql { left_start_strict, right_start_strict } => format!(
                "{} {} {} AND {} {} {}",
                name(&l, self.left_cols.start),
                if left_start_strict { "<" } else { "<=" },
                name(&r, self.right_cols.end),
                name(&r, self.right_cols.start),
                if right_start_strict { "<" } else { "<=" },
                name(&l, self.left_cols.end),
            ),
        };
        write!(
            f,
            "IntervalJoinExec: mode={}, join_type={}, on=[({}, {})], overlap=[{}]",
            if self.collect_left() { "CollectLeft" } else { "Partitioned" },
            self.join_type,
            name(&l, self.left_cols.chrom),
            name(&r, self.right_cols.chrom),
            predicate
        )?;
        if let Some(res) = &self.residual {
            write!(f, ", filter={}", res.expression())?;
        }
        if let Some(p) = &self.projection {
            write!(f, ", projection={p:?}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for IntervalJoinExec {
    fn name(&self) -> &'static str {
        "IntervalJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        if self.collect_left() {
            vec![Distribution::SinglePartition, Distribution::UnspecifiedDistribution]
        } else {
            let key = |name: &str, i: usize| -> Arc<dyn PhysicalExpr> { Arc::new(Column::new(name, i)) };
            vec![
                Distribution::KeyPartitioned(vec![key(
                    self.left.schema().field(self.left_cols.chrom).name(),
                    self.left_cols.chrom,
                )]),
                Distribution::KeyPartitioned(vec![key(
                    self.right.schema().field(self.right_cols.chrom).name(),
                    self.right_cols.chrom,
                )]),
            ]
        }
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        match &self.residual {
            Some(r) => f(r.expression()),
            None => Ok(TreeNodeRecursion::Continue),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right]: [Arc<dyn ExecutionPlan>; 2] = match children.try_into() {
            Ok(c) => c,
            Err(_) => return internal_err!("IntervalJoinExec takes two children"),
        };
        Ok(Arc::new(Self::try_new(
            left,
            right,
            self.left_cols,
            self.right_cols,
            self.mode,
            self.residual.clone(),
            self.join_type,
            self.projection.clone(),
            Arc::clone(&self.schema),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let lc = self.left_cols;
        let cols = (lc.chrom, lc.start, lc.end);
        let index = if self.collect_left() {
            let left = Arc::clone(&self.left);
            let cell = Arc::clone(&self.shared_index);
            let (ctx, mode) = (Arc::clone(&context), self.mode);
            futures::future::FutureExt::boxed(async move {
                cell.get_or_try_init(|| build_index(left, 0, ctx, cols, mode))
                    .await
                    .map(Arc::clone)
            })
        } else {
            let left = Arc::clone(&self.left);
            let (ctx, mode) = (Arc::clone(&context), self.mode);
            futures::future::FutureExt::boxed(async move {
                build_index(left, partition, ctx, cols, mode).await
            })
        };
        let probe = self.right.execute(partition, Arc::clone(&context))?;
        Ok(IntervalJoinStream::new(
            index,
            probe,
            self.right_cols,
            self.residual.clone(),
            self.join_type,
            self.projection.clone(),
            Arc::clone(&self.schema),
            self.left.schema(),
            context.session_config().batch_size(),
            &self.metrics,
            partition,
        ))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
