//! The physical optimizer rule that plans interval-overlap joins as
//! [`IntervalJoinExec`].

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinType, NullEquality, Result};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use super::exec::{IntervalColumnsSpec, IntervalJoinExec};
use super::spec::{self, IntervalSpec};

/// Rewrites
/// - `HashJoinExec(on = [chrom = chrom], filter = a.start < b.end AND b.start < a.end [AND ...])`
///   (comparisons in any order, `<` or `<=`, `>`/`>=` mirrored), and
/// - `NestedLoopJoinExec` / `HashJoinExec` whose filter contains
///   `overlaps(a.chrom, a.start, a.end, b.chrom, b.start, b.end)`
///
/// into [`IntervalJoinExec`] for inner, left and right joins. Other joins are
/// left alone. Install it with [`super::interval_join_rule`].
#[derive(Debug, Default)]
pub struct IntervalJoinRule;

impl PhysicalOptimizerRule for IntervalJoinRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match rewrite(&node)? {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "interval_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn column_index(expr: &Arc<dyn datafusion::physical_expr::PhysicalExpr>) -> Option<usize> {
    expr.downcast_ref::<Column>().map(Column::index)
}

fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if let Some(hj) = node.downcast_ref::<HashJoinExec>() {
        return rewrite_hash_join(hj);
    }
    if let Some(nl) = node.downcast_ref::<NestedLoopJoinExec>() {
        return rewrite_nested_loop(nl);
    }
    Ok(None)
}

fn supported(join_type: JoinType) -> bool {
    matches!(join_type, JoinType::Inner | JoinType::Left | JoinType::Right)
}

fn rewrite_hash_join(hj: &HashJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let join_type = *hj.join_type();
    if !supported(join_type) || hj.null_equality() == NullEquality::NullEqualsNull {
        return Ok(None);
    }
    let (Some(filter), [(l, r)]) = (hj.filter(), hj.on()) else { return Ok(None) };
    let (Some(lk), Some(rk)) = (column_index(l), column_index(r)) else { return Ok(None) };
    let Some(spec) = spec::from_filter(filter) else { return Ok(None) };
    if let Some(chroms) = spec.chroms
        && chroms != (lk, rk)
    {
        // overlaps() on other columns than the hash key: keep the hash join.
        return Ok(None);
    }
    let projection = hj.projection.as_ref().map(|p| p.to_vec());
    let Some(join) = build(hj.left(), hj.right(), (lk, rk), spec, join_type, projection, hj)?
    else {
        return Ok(None);
    };
    Ok(Some(match hj.fetch() {
        Some(n) => Arc::new(LocalLimitExec::new(join, n)),
        None => join,
    }))
}

fn rewrite_nested_loop(nl: &NestedLoopJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let join_type = *nl.join_type();
    if !supported(join_type) {
        return Ok(None);
    }
    let Some(filter) = nl.filter() else { return Ok(None) };
    let Some(spec) = spec::from_filter(filter) else { return Ok(None) };
    let Some(keys) = spec.chroms else { return Ok(None) };
    let projection = nl.projection().as_ref().map(|p| p.to_vec());
    build(nl.left(), nl.right(), keys, spec, join_type, projection, nl)
}

fn build(
    left: &Arc<dyn ExecutionPlan>,
    right: &Arc<dyn ExecutionPlan>,
    keys: (usize, usize),
    spec: IntervalSpec,
    join_type: JoinType,
    projection: Option<Vec<usize>>,
    original: &dyn ExecutionPlan,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let lp = left.output_partitioning().partition_count();
    let mut right = Arc::clone(right);
    let rp = right.output_partitioning().partition_count();
    if lp != 1 && lp != rp {
        return Ok(None);
    }
    if lp == 1 && rp > 1 && join_type == JoinType::Left {
        // Unmatched left rows are only known once every right row was seen.
        right = Arc::new(CoalescePartitionsExec::new(right));
    }
    let exec = IntervalJoinExec::try_new(
        Arc::clone(left),
        right,
        IntervalColumnsSpec { chrom: keys.0, start: spec.left_start, end: spec.left_end },
        IntervalColumnsSpec { chrom: keys.1, start: spec.right_start, end: spec.right_end },
        spec.mode,
        spec.residual,
        join_type,
        projection,
        original.schema(),
    )?;
    Ok(Some(Arc::new(exec)))
}
