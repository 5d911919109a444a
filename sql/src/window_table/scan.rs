//! `WindowScanExec`: reads the chromosome files of a window set (and of its
//! tracks, row-aligned) limited to the windows a region filter allows.

use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringBuilder};
use datafusion::arrow::datatypes::{Int64Type, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
};
use omicsdb_storage::{Genome, WindowSetMeta};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};

use super::{RegionFilter, TrackColumns, file_cache};

const BATCH_ROWS: usize = 8192;

/// One chromosome's share of a scan: window rows `first..=last`.
#[derive(Debug, Clone)]
struct ChromScan {
    file: usize,
    chrom: String,
    first: u64,
    last: u64,
}

/// Scan of a window set with region pruning; see the module docs.
#[derive(Debug)]
pub struct WindowScanExec {
    meta: WindowSetMeta,
    root: PathBuf,
    genome: Arc<Genome>,
    tracks: Vec<TrackColumns>,
    table_schema: SchemaRef,
    projection: Vec<usize>,
    schema: SchemaRef,
    limit: Option<usize>,
    parts: Vec<Vec<ChromScan>>,
    files_pruned: usize,
    row_groups_pruned: u64,
    metrics: ExecutionPlanMetricsSet,
    props: Arc<PlanProperties>,
}

impl WindowScanExec {
    /// Plans the scan: which chromosomes and rows, split into at most `target_partitions`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        meta: WindowSetMeta,
        root: PathBuf,
        genome: Arc<Genome>,
        tracks: Vec<TrackColumns>,
        table_schema: SchemaRef,
        projection: Vec<usize>,
        region: RegionFilter,
        limit: Option<usize>,
        target_partitions: usize,
    ) -> Result<Self> {
        let schema = Arc::new(table_schema.project(&projection)?);
        let rg = meta.row_group_rows.max(1);
        let mut scans = Vec::new();
        let mut files_pruned = 0;
        let mut row_groups_pruned = 0;
        for (i, f) in meta.files.iter().enumerate() {
            let total_groups = f.rows.div_ceil(rg);
            let length = genome.chrom_length(&f.chrom).unwrap_or(0);
            let range = if region.allows_chrom(&f.chrom) {
                region.window_range(length, meta.width, meta.stride)
            } else {
                None
            };
            match range {
                Some((first, last)) => {
                    let last = last.min(f.rows.saturating_sub(1));
                    row_groups_pruned += total_groups - (last / rg - first / rg + 1);
                    scans.push(ChromScan { file: i, chrom: f.chrom.clone(), first, last });
                }
                None => {
                    files_pruned += 1;
                    row_groups_pruned += total_groups;
                }
            }
        }
        let parts = split_balanced(scans, target_partitions);
        let props = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(parts.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            meta,
            root,
            genome,
            tracks,
            table_schema,
            projection,
            schema,
            limit,
            parts,
            files_pruned,
            row_groups_pruned,
            metrics: ExecutionPlanMetricsSet::new(),
            props,
        })
    }
}

/// Splits chromosome scans into contiguous groups of similar row counts.
fn split_balanced(scans: Vec<ChromScan>, target: usize) -> Vec<Vec<ChromScan>> {
    let total: u64 = scans.iter().map(|s| s.last - s.first + 1).sum();
    let per = total.div_ceil(target.max(1) as u64).max(1);
    let mut parts: Vec<Vec<ChromScan>> = Vec::new();
    let mut acc = 0;
    for s in scans {
        if parts.is_empty() || (acc >= per && parts.len() < target) {
            parts.push(Vec::new());
            acc = 0;
        }
        acc += s.last - s.first + 1;
        if let Some(p) = parts.last_mut() {
            p.push(s);
        }
    }
    parts
}

impl DisplayAs for WindowScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let chroms: usize = self.parts.iter().map(|p| p.len()).sum();
        let cols: Vec<&str> = self.projection.iter().map(|&i| self.table_schema.field(i).name().as_str()).collect();
        write!(
            f,
            "WindowScanExec: window_set={}, chroms={chroms}/{}, projection=[{}]",
            self.meta.name,
            self.meta.files.len(),
            cols.join(", ")
        )?;
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for WindowScanExec {
    fn name(&self) -> &str {
        "WindowScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let job = self.job(partition);
        let mut builder = RecordBatchReceiverStreamBuilder::new(Arc::clone(&self.schema), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || job.run(|batch| tx.blocking_send(Ok(batch)).is_ok()));
        Ok(builder.build())
    }
}

impl WindowScanExec {
    /// Total rows the scan may read (before any re-check of the filters).
    pub fn candidate_rows(&self) -> u64 {
        self.parts.iter().flatten().map(|s| s.last - s.first + 1).sum()
    }

    /// Runs every partition on the calling thread, handing the batches to
    /// `emit` in chromosome and window order until it returns false: for
    /// small scans, where a task and a channel per partition cost more than
    /// the reading.
    pub fn for_each_inline(&self, mut emit: impl FnMut(RecordBatch) -> bool) -> Result<()> {
        let mut more = true;
        for partition in 0..self.parts.len() {
            if !more {
                break;
            }
            self.job(partition).run(|batch| {
                more = emit(batch);
                more
            })?;
        }
        Ok(())
    }

    fn job(&self, partition: usize) -> ScanJob {
        let counters = Counters {
            row_groups_read: MetricBuilder::new(&self.metrics).counter("row_groups_read", partition),
            row_groups_pruned: MetricBuilder::new(&self.metrics).counter("row_groups_pruned", partition),
            files_pruned: MetricBuilder::new(&self.metrics).counter("files_pruned", partition),
            rows_read: MetricBuilder::new(&self.metrics).counter("rows_read", partition),
        };
        if partition == 0 {
            counters.files_pruned.add(self.files_pruned);
            counters.row_groups_pruned.add(self.row_groups_pruned as usize);
        }
        ScanJob {
            scans: self.parts.get(partition).cloned().unwrap_or_default(),
            meta: self.meta.clone(),
            root: self.root.clone(),
            genome: Arc::clone(&self.genome),
            tracks: self.tracks.clone(),
            table_schema: Arc::clone(&self.table_schema),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
            limit: self.limit,
            counters,
        }
    }
}

struct Counters {
    row_groups_read: Count,
    row_groups_pruned: Count,
    files_pruned: Count,
    rows_read: Count,
}

struct ScanJob {
    scans: Vec<ChromScan>,
    meta: WindowSetMeta,
    root: PathBuf,
    genome: Arc<Genome>,
    tracks: Vec<TrackColumns>,
    table_schema: SchemaRef,
    projection: Vec<usize>,
    schema: SchemaRef,
    limit: Option<usize>,
    counters: Counters,
}

/// Where an output column comes from.
enum Source {
    /// Column `i` of the window file's projected batch.
    Window(usize),
    Region,
    Seq,
    /// Track `t`, column `c` of its projected batch.
    Track(usize, usize),
}

/// Window-file column index of each base column (region and seq are computed).
fn window_file_column(name: &str) -> Option<usize> {
    match name {
        "chrom" => Some(0),
        "start" => Some(1),
        "end" => Some(2),
        "gc" => Some(3),
        "n_frac" => Some(4),
        "softmask_frac" => Some(5),
        _ => None,
    }
}

impl ScanJob {
    /// Runs the scan, handing batches to `emit` until it returns false.
    fn run(self, mut emit: impl FnMut(RecordBatch) -> bool) -> Result<()> {
        let mut remaining = self.limit.unwrap_or(usize::MAX);
        // Which window-file columns and track columns are needed.
        let names: Vec<&str> = self.projection.iter().map(|&i| self.table_schema.field(i).name().as_str()).collect();
        let needs_coords = names.iter().any(|n| *n == "region" || *n == "seq");
        let mut window_cols: Vec<usize> = names.iter().filter_map(|n| window_file_column(n)).collect();
        if needs_coords {
            window_cols.extend([0, 1, 2]);
        }
        window_cols.sort_unstable();
        window_cols.dedup();
        let mut track_cols: Vec<Vec<usize>> = vec![Vec::new(); self.tracks.len()];
        let mut sources = Vec::with_capacity(names.len());
        for n in &names {
            let src = if let Some(c) = window_file_column(n) {
                Source::Window(window_cols.iter().position(|&x| x == c).unwrap_or(0))
            } else if *n == "region" {
                Source::Region
            } else if *n == "seq" {
                Source::Seq
            } else {
                let (t, c) = self
                    .tracks
                    .iter()
                    .enumerate()
                    .find_map(|(t, tc)| tc.columns.iter().position(|c| c == n).map(|c| (t, c)))
                    .ok_or_else(|| DataFusionError::Internal(format!("unknown window column {n}")))?;
                track_cols[t].push(c);
                Source::Track(t, track_cols[t].len() - 1)
            };
            sources.push(src);
        }
        let rg = self.meta.row_group_rows.max(1);
        for scan in &self.scans {
            if remaining == 0 {
                break;
            }
            let groups: Vec<usize> = ((scan.first / rg) as usize..=(scan.last / rg) as usize).collect();
            self.counters.row_groups_read.add(groups.len());
            let skip = (scan.first - (scan.first / rg) * rg) as usize;
            let take = (scan.last - scan.first + 1) as usize;
            if names.is_empty() {
                // count(*) and friends: row counts only, nothing read.
                let mut left = take.min(remaining);
                remaining -= left;
                self.counters.rows_read.add(left);
                while left > 0 {
                    let n = left.min(BATCH_ROWS);
                    left -= n;
                    let batch = RecordBatch::try_new_with_options(
                        Arc::clone(&self.schema),
                        vec![],
                        &RecordBatchOptions::new().with_row_count(Some(n)),
                    )?;
                    if !emit(batch) {
                        return Ok(());
                    }
                }
                continue;
            }
            let selection = RowSelection::from(vec![RowSelector::skip(skip), RowSelector::select(take)]);
            let window_path = self.root.join(&self.meta.files[scan.file].path);
            let file_rows = self.meta.files[scan.file].rows;
            let span = RowSpan { groups: &groups, selection: &selection, first: scan.first, last: scan.last, file_rows };
            let mut window_reader = if window_cols.is_empty() {
                None
            } else {
                Some(open_rows(&window_path, &span, &window_cols, WINDOW_ROW_BYTES)?)
            };
            let mut track_readers = Vec::new();
            for (t, cols) in track_cols.iter().enumerate() {
                if cols.is_empty() {
                    track_readers.push(None);
                } else {
                    let path = &self.tracks[t].files[scan.file];
                    let per_row = 4 * self.tracks[t].columns.len() + 8;
                    track_readers.push(Some(open_rows(path, &span, cols, per_row)?));
                }
            }
            let mut produced = 0usize;
            while produced < take && remaining > 0 {
                let wb = next_batch(&mut window_reader, &window_path)?;
                let mut tbs = Vec::with_capacity(track_readers.len());
                for (t, r) in track_readers.iter_mut().enumerate() {
                    let p = self.tracks[t].files.get(scan.file).cloned().unwrap_or_default();
                    tbs.push(next_batch(r, &p)?);
                }
                let rows = wb
                    .as_ref()
                    .map(|b| b.num_rows())
                    .or_else(|| tbs.iter().flatten().map(|b| b.num_rows()).next())
                    .unwrap_or(0);
                if rows == 0 {
                    break;
                }
                if tbs.iter().flatten().any(|b| b.num_rows() != rows) {
                    return Err(DataFusionError::Execution(format!(
                        "track files of window set {} are not aligned with its windows on {}",
                        self.meta.name, scan.chrom
                    )));
                }
                let mut columns: Vec<ArrayRef> = Vec::with_capacity(sources.len());
                for src in &sources {
                    columns.push(match src {
                        Source::Window(i) => Arc::clone(wb.as_ref().map(|b| b.column(*i)).ok_or_else(missing)?),
                        Source::Track(t, i) => Arc::clone(tbs[*t].as_ref().map(|b| b.column(*i)).ok_or_else(missing)?),
                        Source::Region | Source::Seq => {
                            let b = wb.as_ref().ok_or_else(missing)?;
                            let coord = |name: usize| window_cols.iter().position(|&x| x == name).map(|i| b.column(i));
                            let starts = coord(1).ok_or_else(missing)?.as_primitive::<Int64Type>();
                            let ends = coord(2).ok_or_else(missing)?.as_primitive::<Int64Type>();
                            if matches!(src, Source::Region) {
                                region_column(&scan.chrom, starts.values(), ends.values())
                            } else {
                                self.seq_column(&scan.chrom, starts.values(), ends.values())?
                            }
                        }
                    });
                }
                let mut batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
                if batch.num_rows() > remaining {
                    batch = batch.slice(0, remaining);
                }
                produced += batch.num_rows();
                remaining -= batch.num_rows();
                self.counters.rows_read.add(batch.num_rows());
                if !emit(batch) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn seq_column(&self, chrom: &str, starts: &[i64], ends: &[i64]) -> Result<ArrayRef> {
        let total: i64 = starts.iter().zip(ends).map(|(s, e)| e - s).sum();
        let mut b = StringBuilder::with_capacity(starts.len(), total.max(0) as usize);
        for (&s, &e) in starts.iter().zip(ends) {
            let seq = self
                .genome
                .sequence(chrom, s as u64, e as u64, false)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            // The store only ever holds ASCII letters.
            b.append_value(String::from_utf8_lossy(&seq));
        }
        Ok(Arc::new(b.finish()))
    }
}

fn missing() -> DataFusionError {
    DataFusionError::Internal("window scan lost a needed column".into())
}

/// `chrom:start+1-end` strings (1-based closed).
fn region_column(chrom: &str, starts: &[i64], ends: &[i64]) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(starts.len(), starts.len() * (chrom.len() + 20));
    for (&s, &e) in starts.iter().zip(ends) {
        b.append_value(format!("{chrom}:{}-{e}", s + 1));
    }
    Arc::new(b.finish())
}

/// Decoded bytes per row of a window file, for the cache's size check.
const WINDOW_ROW_BYTES: usize = 48;

/// The rows of one chromosome file a scan reads.
struct RowSpan<'a> {
    groups: &'a [usize],
    selection: &'a RowSelection,
    first: u64,
    last: u64,
    file_rows: u64,
}

/// Batches of the selected rows and columns of one file: slices of the
/// decoded file when it is cached (see `file_cache`), else a Parquet reader.
enum FileRows {
    Cached { batch: Arc<RecordBatch>, cols: Vec<usize>, next: usize, end: usize },
    Parquet(Box<ParquetRecordBatchReader>),
}

impl FileRows {
    fn next(&mut self) -> std::result::Result<Option<RecordBatch>, String> {
        match self {
            FileRows::Cached { batch, cols, next, end } => {
                if *next >= *end {
                    return Ok(None);
                }
                let n = (*end - *next).min(BATCH_ROWS);
                let slice = batch.slice(*next, n).project(cols).map_err(|e| e.to_string())?;
                *next += n;
                Ok(Some(slice))
            }
            FileRows::Parquet(r) => r.next().transpose().map_err(|e| e.to_string()),
        }
    }
}

fn open_rows(path: &PathBuf, span: &RowSpan, cols: &[usize], bytes_per_row: usize) -> Result<FileRows> {
    if let Some(batch) = file_cache::cached_file(path, span.file_rows, bytes_per_row)? {
        if span.last >= batch.num_rows() as u64 {
            return Err(DataFusionError::Execution(format!(
                "{}: {} rows, fewer than the window set's",
                path.display(),
                batch.num_rows()
            )));
        }
        return Ok(FileRows::Cached {
            batch,
            cols: cols.to_vec(),
            next: span.first as usize,
            end: span.last as usize + 1,
        });
    }
    let file = File::open(path).map_err(|e| DataFusionError::Execution(format!("{}: {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), cols.iter().copied());
    Ok(FileRows::Parquet(Box::new(
        builder
            .with_row_groups(span.groups.to_vec())
            .with_projection(mask)
            .with_row_selection(span.selection.clone())
            .with_batch_size(BATCH_ROWS)
            .build()?,
    )))
}

fn next_batch(reader: &mut Option<FileRows>, path: &PathBuf) -> Result<Option<RecordBatch>> {
    match reader {
        None => Ok(None),
        Some(r) => r.next().map_err(|e| DataFusionError::Execution(format!("{}: {e}", path.display()))),
    }
}

