//! The store-level track commands: ingest, drop, and aggregating a stored
//! track onto a window set created later.

use std::path::{Path, PathBuf};

use crate::catalog::CatalogBatch;
use crate::error::{Result, StorageError};
use crate::layout::{check_identifier, now_unix};
use crate::meta::{Aggregation, TrackKind, TrackMeta, TrackSetFiles, WindowSetMeta, track_key};
use crate::store::Store;
use crate::tracks::chroms::{ChromResolver, Skipped};
use crate::tracks::collect::Plan;
use crate::tracks::format::TrackFormat;
use crate::tracks::run::{SetTarget, aggregate};

/// Column names of window-set tables that a track may not take.
pub const RESERVED_COLUMNS: [&str; 8] = ["chrom", "start", "end", "region", "seq", "gc", "n_frac", "softmask_frac"];

/// Options of `omicsdb ingest track`.
#[derive(Debug, Clone)]
pub struct TrackIngest {
    /// Assembly the track is aligned to (must exist).
    pub assembly: String,
    /// Track name: an identifier, used as the column name in window tables.
    pub name: String,
    /// The track file (bigWig, bedGraph[.gz], wig, BED/narrowPeak/broadPeak[.gz]).
    pub path: PathBuf,
    /// Assay, e.g. `ChIP-seq`, `ATAC-seq`.
    pub assay: String,
    /// Target, e.g. `H3K27ac` (optional).
    pub target: Option<String>,
    /// Tissue or biosample.
    pub tissue: String,
    /// File format; `None` infers it ([`TrackFormat::detect`]).
    pub format: Option<TrackFormat>,
    /// Signal or peaks; `None` takes the format's kind. Signal files may be
    /// read as peaks (their intervals); peak files cannot be read as signal.
    pub kind: Option<TrackKind>,
    /// Per-window aggregation; `None`: signal → mean, peaks → coverage.
    /// Peak tracks only support coverage.
    pub aggregation: Option<Aggregation>,
    /// `--missing skip`: uncovered bases are left out instead of counting as 0
    /// (see [`crate::tracks::accumulate`] for the resulting values and NULLs).
    pub missing_skip: bool,
    /// `--strict`: records on unknown chromosomes or past a chromosome's end are an error.
    pub strict: bool,
    /// Replace an existing track of the same name.
    pub replace: bool,
    /// Worker threads (at least 1).
    pub threads: usize,
}

impl TrackIngest {
    /// Options with the defaults: inferred format, kind and aggregation,
    /// uncovered bases count as 0, not strict, no replace, 2 threads.
    pub fn new(assembly: &str, name: &str, path: impl Into<PathBuf>, assay: &str, tissue: &str) -> Self {
        Self {
            assembly: assembly.into(),
            name: name.into(),
            path: path.into(),
            assay: assay.into(),
            target: None,
            tissue: tissue.into(),
            format: None,
            kind: None,
            aggregation: None,
            missing_skip: false,
            strict: false,
            replace: false,
            threads: 2,
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct TrackReport {
    /// The committed catalog entry.
    pub track: TrackMeta,
    /// The format read.
    pub format: TrackFormat,
    /// Records that did not fit the assembly (see [`Skipped::message`] for the warning text).
    pub skipped: Skipped,
}

impl TrackReport {
    /// The warning to print, if any records were skipped or clipped.
    pub fn warning(&self) -> Option<String> {
        self.skipped.message()
    }
}

/// `omicsdb ingest track`: reads the file once, aggregates it onto every
/// window set of the assembly, and commits the track in one catalog batch.
/// On any error the catalog is unchanged (files already written are removed
/// when the database is next opened or committed).
pub fn ingest_track(store: &Store, opts: &TrackIngest) -> Result<TrackReport> {
    check_identifier("track name", &opts.name)?;
    let assembly = store.assembly(&opts.assembly)?;
    let format = match opts.format {
        Some(f) => f,
        None => TrackFormat::detect(&opts.path)?,
    };
    let plan = plan_for(format, opts.kind, opts.aggregation, opts.missing_skip)?;
    let columns = track_columns(&opts.name, &plan);
    let _guard = store.write_guard();
    check_name_free(store, &opts.name, &columns, opts.replace)?;
    let resolver = ChromResolver::new(&assembly);
    let sets: Vec<WindowSetMeta> = store.window_sets()?.into_iter().filter(|w| w.assembly == assembly.name).collect();
    let targets = targets(store, &opts.name, sets)?;
    let agg = aggregate(&opts.path, format, plan, &resolver, &targets, &columns, opts.strict, opts.threads)?;
    let track = TrackMeta {
        name: opts.name.clone(),
        assembly: assembly.name.clone(),
        assay: opts.assay.clone(),
        target: opts.target.clone(),
        tissue: opts.tissue.clone(),
        kind: plan.kind,
        aggregation: plan.aggregation,
        missing_skip: plan.missing_skip,
        source: opts.path.display().to_string(),
        format: format.name().to_string(),
        records: agg.records,
        skipped: agg.skipped.dropped(),
        columns,
        files: agg.files,
        created_at: now_unix(),
    };
    let mut batch = CatalogBatch::new();
    batch.put(track_key(&track.name), &track)?;
    store.commit(batch)?;
    Ok(TrackReport { track, format, skipped: agg.skipped })
}

/// `omicsdb track drop NAME`: removes the track from the catalog; its files
/// are deleted right after the commit.
pub fn drop_track(store: &Store, name: &str) -> Result<()> {
    let _guard = store.write_guard();
    store.track(name)?;
    let mut batch = CatalogBatch::new();
    batch.remove(track_key(name));
    store.commit(batch)
}

/// Aggregates an already-ingested track onto window set `ws` (created after
/// the track) by re-reading `track.source`, which must still exist at the
/// path recorded at ingest (relative paths resolve against the current
/// directory). The caller holds the write guard and commits.
pub fn aggregate_stored_track(store: &Store, track: &TrackMeta, ws: &WindowSetMeta) -> Result<TrackSetFiles> {
    let path = Path::new(&track.source);
    if !path.exists() {
        return Err(StorageError::invalid(
            "window set",
            format!(
                "track '{}' must be re-read from its source {} to fill window set '{}', but that file no longer exists (drop the track or restore the file)",
                track.name, track.source, ws.name
            ),
        ));
    }
    let format = if track.format.is_empty() { TrackFormat::detect(path)? } else { TrackFormat::parse(&track.format)? };
    let plan = Plan {
        kind: track.kind,
        aggregation: track.aggregation,
        missing_skip: track.missing_skip,
        score: track.columns.len() > 1,
    };
    let assembly = store.assembly(&track.assembly)?;
    let resolver = ChromResolver::new(&assembly);
    let targets = targets(store, &track.name, vec![ws.clone()])?;
    let mut agg = aggregate(path, format, plan, &resolver, &targets, &track.columns, false, 2)?;
    agg.files.remove(&ws.name).ok_or_else(|| StorageError::Catalog(format!("no files written for track '{}'", track.name)))
}

fn targets(store: &Store, name: &str, sets: Vec<WindowSetMeta>) -> Result<Vec<SetTarget>> {
    sets.into_iter()
        .map(|ws| {
            let (abs, rel) = store.new_data_dir("track", name)?;
            Ok(SetTarget { ws, abs, rel })
        })
        .collect()
}

/// Works out kind, aggregation and columns from the format and the options.
fn plan_for(format: TrackFormat, kind: Option<TrackKind>, aggregation: Option<Aggregation>, missing_skip: bool) -> Result<Plan> {
    let kind = kind.unwrap_or(format.kind());
    if kind == TrackKind::Signal && format.kind() == TrackKind::Peaks {
        return Err(StorageError::invalid("--kind", format!("a {} file holds peaks, not a signal", format.name())));
    }
    let aggregation = aggregation.unwrap_or(TrackFormat::default_aggregation(kind));
    if kind == TrackKind::Peaks && aggregation != Aggregation::Coverage {
        return Err(StorageError::invalid("--aggregate", "peak tracks are aggregated by coverage (fraction of the window covered)"));
    }
    Ok(Plan { kind, aggregation, missing_skip, score: kind == TrackKind::Peaks && format == TrackFormat::NarrowPeak })
}

/// The columns a track adds: its name, plus `<name>_score` for narrowPeak.
fn track_columns(name: &str, plan: &Plan) -> Vec<String> {
    let mut cols = vec![name.to_string()];
    if plan.score {
        cols.push(format!("{name}_score"));
    }
    cols
}

fn check_name_free(store: &Store, name: &str, columns: &[String], replace: bool) -> Result<()> {
    for c in columns {
        if RESERVED_COLUMNS.contains(&c.as_str()) {
            return Err(StorageError::invalid("track name", format!("'{c}' is a column of every window table; choose another name")));
        }
    }
    for t in store.tracks()? {
        if t.name == name {
            if !replace {
                return Err(StorageError::AlreadyExists { kind: "track", name: name.into(), hint: " (use --replace to replace it)".into() });
            }
            continue;
        }
        if let Some(c) = columns.iter().find(|c| t.columns.contains(c)) {
            return Err(StorageError::AlreadyExists { kind: "column", name: c.clone(), hint: format!(" (from track '{}')", t.name) });
        }
    }
    Ok(())
}
