//! The window-set table (`windows` and every other window set): columns
//! `chrom, start, end, region, seq, gc, n_frac, softmask_frac` plus one
//! Float32 column per track. Filters on `chrom`, `start` and `end` are pushed
//! into the scan, which reads only the matching chromosome files, row groups
//! and rows; `seq` is read from the sequence store only when selected.

mod file_cache;
mod lookup;
mod region_filter;
mod scan;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use omicsdb_storage::{Genome, TrackMeta, WindowSetMeta};

pub use lookup::{Lookup, exact_region};
pub use region_filter::{FilterUse, RegionFilter};
pub use scan::WindowScanExec;

/// Names of the window table's fixed columns, in order.
pub const BASE_COLUMNS: [&str; 8] = ["chrom", "start", "end", "region", "seq", "gc", "n_frac", "softmask_frac"];

/// One track's feature columns on this window set.
#[derive(Debug, Clone)]
pub struct TrackColumns {
    /// Column names (as stored in the track's Parquet files).
    pub columns: Vec<String>,
    /// One absolute file path per chromosome of the window set, same order.
    pub files: Vec<PathBuf>,
}

/// A window set as a DataFusion table.
#[derive(Debug)]
pub struct WindowTable {
    meta: WindowSetMeta,
    root: PathBuf,
    genome: Arc<Genome>,
    tracks: Vec<TrackColumns>,
    schema: SchemaRef,
}

impl WindowTable {
    /// The table for window set `meta` in the database at `root`, with the
    /// given tracks (those with files on this window set are used).
    pub fn new(meta: WindowSetMeta, root: PathBuf, genome: Arc<Genome>, tracks: &[TrackMeta]) -> Self {
        let mut fields = vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
            Field::new("region", DataType::Utf8, false),
            Field::new("seq", DataType::Utf8, false),
            Field::new("gc", DataType::Float32, true),
            Field::new("n_frac", DataType::Float32, false),
            Field::new("softmask_frac", DataType::Float32, false),
        ];
        let mut cols = Vec::new();
        for t in tracks {
            let Some(set) = t.files.get(&meta.name) else { continue };
            if set.files.len() != meta.files.len() {
                continue;
            }
            for c in &t.columns {
                fields.push(Field::new(c, DataType::Float32, true));
            }
            cols.push(TrackColumns {
                columns: t.columns.clone(),
                files: set.files.iter().map(|f| root.join(&f.path)).collect(),
            });
        }
        Self { meta, root, genome, tracks: cols, schema: Arc::new(Schema::new(fields)) }
    }

    /// The window set's catalog entry.
    pub fn meta(&self) -> &WindowSetMeta {
        &self.meta
    }
}

#[async_trait]
impl TableProvider for WindowTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match RegionFilter::classify(f) {
                FilterUse::Exact => TableProviderFilterPushDown::Exact,
                FilterUse::Inexact => TableProviderFilterPushDown::Inexact,
                FilterUse::Unsupported => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let region = RegionFilter::from_exprs(filters);
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let target = state.config().target_partitions().max(1);
        Ok(Arc::new(WindowScanExec::new(
            self.meta.clone(),
            self.root.clone(),
            Arc::clone(&self.genome),
            self.tracks.clone(),
            Arc::clone(&self.schema),
            projection,
            region,
            limit,
            target,
        )?))
    }
}
