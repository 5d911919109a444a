//! Catalog entry types (stored as JSON in sled).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Catalog key of an assembly.
pub fn assembly_key(name: &str) -> String {
    format!("assembly/{name}")
}

/// Catalog key of a window set.
pub fn window_set_key(name: &str) -> String {
    format!("window_set/{name}")
}

/// Catalog key of a track.
pub fn track_key(name: &str) -> String {
    format!("track/{name}")
}

/// One chromosome of an assembly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChromMeta {
    /// Name as in the FASTA (first word of the header).
    pub name: String,
    /// Length in bases.
    pub length: u64,
    /// Bases that are not A/C/G/T.
    pub n_count: u64,
    /// Soft-masked (lowercase) bases.
    pub masked_count: u64,
}

/// A reference assembly and where its sequence lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssemblyMeta {
    /// Assembly name, e.g. `hg38`.
    pub name: String,
    /// The FASTA it was ingested from (as given).
    pub source: String,
    /// Chromosomes in FASTA order.
    pub chroms: Vec<ChromMeta>,
    /// Data directory of the sequence store, relative to the database root.
    pub dir: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

impl AssemblyMeta {
    /// Sum of chromosome lengths.
    pub fn total_length(&self) -> u64 {
        self.chroms.iter().map(|c| c.length).sum()
    }
}

/// One chromosome's Parquet file of a window set (or of a track on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChromFile {
    /// Chromosome.
    pub chrom: String,
    /// File path relative to the database root.
    pub path: String,
    /// Rows (windows) in the file.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// A window set: fixed-width windows tiled over an assembly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSetMeta {
    /// Table name, e.g. `windows`.
    pub name: String,
    /// The assembly it tiles.
    pub assembly: String,
    /// Window width in bases.
    pub width: u64,
    /// Distance between window starts in bases.
    pub stride: u64,
    /// Rows per Parquet row group (also the alignment unit of track files).
    pub row_group_rows: u64,
    /// Data directory relative to the database root.
    pub dir: String,
    /// One file per chromosome, in assembly order.
    pub files: Vec<ChromFile>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

impl WindowSetMeta {
    /// Total windows.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }

    /// Total bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Number of windows of `width`/`stride` on a chromosome of `length`: one per
/// start `0, stride, 2*stride, ... < length`; the last ones are truncated at
/// the chromosome's end.
pub fn window_count(length: u64, stride: u64) -> u64 {
    length.div_ceil(stride)
}

/// How a track's per-window values are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Base-weighted mean over the window.
    Mean,
    /// Maximum value over covered bases.
    Max,
    /// Sum of value × covered bases.
    Sum,
    /// Fraction of the window's bases covered by features.
    Coverage,
}

/// Signal (continuous values) or peaks (intervals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    /// Continuous signal (bigWig, bedGraph, wig).
    Signal,
    /// Called peaks or other intervals (BED, narrowPeak, broadPeak).
    Peaks,
}

/// One omics track and its per-window feature files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackMeta {
    /// Track (and column) name.
    pub name: String,
    /// Assembly it is aligned to.
    pub assembly: String,
    /// Assay, e.g. `ChIP-seq`.
    pub assay: String,
    /// Target, e.g. `H3K27ac`.
    pub target: Option<String>,
    /// Tissue or biosample.
    pub tissue: String,
    /// Signal or peaks.
    pub kind: TrackKind,
    /// Per-window aggregation.
    pub aggregation: Aggregation,
    /// Uncovered bases count as 0 (false) or are skipped (true).
    pub missing_skip: bool,
    /// Source file as given.
    pub source: String,
    /// Source format (`bigwig`, `bedgraph`, `wig`, `bed`, `narrowpeak`,
    /// `broadpeak`); empty in entries written before it was recorded.
    #[serde(default)]
    pub format: String,
    /// Records read from the source.
    pub records: u64,
    /// Records skipped (unknown chromosome or past its end).
    pub skipped: u64,
    /// Feature columns this track adds to window tables (e.g. `[name]` or `[name, name_score]`).
    pub columns: Vec<String>,
    /// Per window set name: the feature files on that set.
    pub files: BTreeMap<String, TrackSetFiles>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// A track's feature files on one window set: one Parquet file per chromosome,
/// row-aligned (same rows, same row groups) with the window set's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackSetFiles {
    /// Data directory relative to the database root.
    pub dir: String,
    /// One file per chromosome, in the window set's order.
    pub files: Vec<ChromFile>,
}

/// Catalog key of a plain table (genes, transcripts, exons, variants).
pub fn table_key(name: &str) -> String {
    format!("table/{name}")
}

/// One column of a plain table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMeta {
    /// Column name.
    pub name: String,
    /// Arrow type, e.g. `Utf8`, `Int64`.
    pub data_type: String,
    /// What the column holds (units, coordinate convention, NULL meaning).
    pub description: String,
}

/// A plain table ingested from a file (annotation, variants): Parquet files
/// in one data directory, rows sorted by chromosome (assembly order) and start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Table name, e.g. `genes`.
    pub name: String,
    /// Assembly the coordinates refer to.
    pub assembly: String,
    /// Source file as given.
    pub source: String,
    /// Data directory relative to the database root.
    pub dir: String,
    /// Parquet files, relative to the database root.
    pub files: Vec<String>,
    /// Total rows.
    pub rows: u64,
    /// The columns, in file order.
    pub columns: Vec<ColumnMeta>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}
