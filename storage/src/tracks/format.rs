//! Track file formats and how they are recognised.

use std::io::{BufRead, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};
use crate::input::open_input;
use crate::meta::{Aggregation, TrackKind};

/// A track file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackFormat {
    /// bigWig (binary, indexed).
    BigWig,
    /// bedGraph: `chrom start end value`, sorted, non-overlapping per chromosome.
    BedGraph,
    /// fixedStep / variableStep wiggle.
    Wig,
    /// BED (3+ columns): intervals.
    Bed,
    /// ENCODE narrowPeak (BED6+4; column 7 signalValue).
    NarrowPeak,
    /// ENCODE broadPeak (BED6+3).
    BroadPeak,
}

impl TrackFormat {
    /// Parses a format name as given on the command line.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bigwig" | "bw" => Ok(Self::BigWig),
            "bedgraph" | "bg" | "bdg" => Ok(Self::BedGraph),
            "wig" | "wiggle" => Ok(Self::Wig),
            "bed" => Ok(Self::Bed),
            "narrowpeak" => Ok(Self::NarrowPeak),
            "broadpeak" => Ok(Self::BroadPeak),
            _ => Err(StorageError::invalid(
                "--format",
                format!("unknown track format '{s}' (expected bigwig, bedgraph, wig, bed, narrowpeak or broadpeak)"),
            )),
        }
    }

    /// The name used in the catalog and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::BigWig => "bigwig",
            Self::BedGraph => "bedgraph",
            Self::Wig => "wig",
            Self::Bed => "bed",
            Self::NarrowPeak => "narrowpeak",
            Self::BroadPeak => "broadpeak",
        }
    }

    /// The kind of track the format holds.
    pub fn kind(self) -> TrackKind {
        match self {
            Self::BigWig | Self::BedGraph | Self::Wig => TrackKind::Signal,
            Self::Bed | Self::NarrowPeak | Self::BroadPeak => TrackKind::Peaks,
        }
    }

    /// The default aggregation of a kind: signal → mean, peaks → coverage.
    pub fn default_aggregation(kind: TrackKind) -> Aggregation {
        match kind {
            TrackKind::Signal => Aggregation::Mean,
            TrackKind::Peaks => Aggregation::Coverage,
        }
    }

    /// Infers the format of `path`: the bigWig magic number, else the
    /// extension (after `.gz`/`.bgz`), else the first data line (`fixedStep`
    /// → wig, `track type=bedGraph` or a numeric 4th of 4 columns → bedGraph,
    /// 10 columns with numeric 7–10 → narrowPeak, 9 with numeric 7–9 →
    /// broadPeak, otherwise BED). A `.bed` file whose lines look like
    /// narrowPeak/broadPeak is read as such.
    pub fn detect(path: &Path) -> Result<Self> {
        let mut magic = [0u8; 4];
        let mut f = std::fs::File::open(path).map_err(|e| StorageError::io(path, e))?;
        let n = f.read(&mut magic).map_err(|e| StorageError::io(path, e))?;
        if n == 4 && (u32::from_le_bytes(magic) == BIGWIG_MAGIC || u32::from_be_bytes(magic) == BIGWIG_MAGIC) {
            return Ok(Self::BigWig);
        }
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let stem = name.trim_end_matches(".gz").trim_end_matches(".bgz");
        let ext = stem.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "bw" | "bigwig" => {
                return Err(StorageError::format(path, None, "not a bigWig file (bad magic number); truncated or corrupt?"));
            }
            "bedgraph" | "bg" | "bdg" => return Ok(Self::BedGraph),
            "wig" => return Ok(Self::Wig),
            "narrowpeak" => return Ok(Self::NarrowPeak),
            "broadpeak" => return Ok(Self::BroadPeak),
            _ => {}
        }
        let sniffed = sniff(path)?;
        Ok(match (ext, sniffed) {
            ("bed", Some(Self::NarrowPeak | Self::BroadPeak)) => sniffed.unwrap_or(Self::Bed),
            ("bed", _) => Self::Bed,
            (_, Some(f)) => f,
            (_, None) => return Err(StorageError::format(path, None, "cannot tell the track format: no data lines (use --format)")),
        })
    }
}

/// The bigWig magic number.
pub const BIGWIG_MAGIC: u32 = 0x888F_FC26;

fn sniff(path: &Path) -> Result<Option<TrackFormat>> {
    let mut input = open_input(path)?;
    let mut line = String::new();
    for _ in 0..1000 {
        line.clear();
        let n = input.reader.read_line(&mut line).map_err(|e| StorageError::format(path, None, format!("unreadable: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        let t = line.trim_end();
        if t.starts_with("fixedStep") || t.starts_with("variableStep") {
            return Ok(Some(TrackFormat::Wig));
        }
        if t.starts_with("track") {
            if t.contains("type=bedGraph") {
                return Ok(Some(TrackFormat::BedGraph));
            }
            if t.contains("type=wiggle") {
                return Ok(Some(TrackFormat::Wig));
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with("browser") {
            continue;
        }
        let fields: Vec<&str> = t.split('\t').collect();
        let numeric = |r: std::ops::Range<usize>| r.into_iter().all(|i| fields.get(i).is_some_and(|f| f.parse::<f64>().is_ok()));
        return Ok(Some(match fields.len() {
            4 if numeric(1..4) => TrackFormat::BedGraph,
            10 if numeric(6..10) => TrackFormat::NarrowPeak,
            9 if numeric(6..9) && fields[5].len() == 1 => TrackFormat::BroadPeak,
            _ => TrackFormat::Bed,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tracks").join(name)
    }

    #[test]
    fn detects_real_files() {
        assert_eq!(TrackFormat::detect(&data("times100.bw")).unwrap(), TrackFormat::BigWig);
        assert_eq!(TrackFormat::detect(&data("demo.narrowPeak.gz")).unwrap(), TrackFormat::NarrowPeak);
        // `.peaks.gz`: recognised from its 9 columns.
        assert_eq!(TrackFormat::detect(&data("SRR891275.peaks.gz")).unwrap(), TrackFormat::BroadPeak);
        assert_eq!(TrackFormat::detect(&data("test_tum_chr2.head.wig")).unwrap(), TrackFormat::Wig);
    }

    #[test]
    fn format_names_round_trip() {
        for f in [TrackFormat::BigWig, TrackFormat::BedGraph, TrackFormat::Wig, TrackFormat::Bed, TrackFormat::NarrowPeak, TrackFormat::BroadPeak] {
            assert_eq!(TrackFormat::parse(f.name()).unwrap(), f);
        }
        assert!(TrackFormat::parse("bam").is_err());
    }
}
