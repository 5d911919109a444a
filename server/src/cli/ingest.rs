//! `omicsdb ingest ...`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use omicsdb::{Database, GenomeIngest};
use omicsdb_storage::tracks::{TrackFormat, TrackIngest};
use omicsdb_storage::{Aggregation, TrackKind};

use super::{human_bytes, thousands};

/// What to ingest.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// A reference genome (FASTA: plain, gzip or bgzip) and its default window set.
    Genome {
        /// Assembly name (an identifier, e.g. hg38).
        #[arg(long)]
        assembly: String,
        /// Window width in bases.
        #[arg(long, default_value_t = 1024)]
        window: u64,
        /// Distance between window starts in bases.
        #[arg(long, default_value_t = 1024)]
        stride: u64,
        /// Name of the window set to create (default `windows`).
        #[arg(long)]
        window_set: Option<String>,
        /// Replace an existing assembly of the same name.
        #[arg(long)]
        replace: bool,
        /// The FASTA file.
        file: PathBuf,
    },
    /// An omics track (bigWig, bedGraph, wig, BED, narrowPeak, broadPeak),
    /// aggregated onto every window set of its assembly.
    Track {
        /// Assembly the track is aligned to.
        #[arg(long)]
        assembly: String,
        /// Track name (becomes a column of the window tables).
        #[arg(long)]
        name: String,
        /// Assay, e.g. ChIP-seq, ATAC-seq, DNase-seq, RNA-seq, methylation.
        #[arg(long)]
        assay: String,
        /// Target, e.g. H3K27ac or CTCF.
        #[arg(long)]
        target: Option<String>,
        /// Tissue or biosample.
        #[arg(long)]
        tissue: String,
        /// signal or peaks (inferred from the format when not given).
        #[arg(long, value_parser = ["signal", "peaks"])]
        kind: Option<String>,
        /// mean, max, sum or coverage (default: mean for signal, coverage for peaks).
        #[arg(long, value_parser = ["mean", "max", "sum", "coverage"])]
        aggregate: Option<String>,
        /// File format (inferred from the name and contents when not given).
        #[arg(long)]
        format: Option<String>,
        /// Uncovered bases are skipped instead of counting as 0.
        #[arg(long, value_parser = ["zero", "skip"], default_value = "zero")]
        missing: String,
        /// Records on unknown chromosomes or past a chromosome's end are an error.
        #[arg(long)]
        strict: bool,
        /// Replace an existing track of the same name.
        #[arg(long)]
        replace: bool,
        /// The track file.
        file: PathBuf,
    },
    /// Gene annotation (GTF or GFF3, plain or gzip) into `genes`, `transcripts`, `exons`.
    Annotation {
        /// Assembly the coordinates refer to.
        #[arg(long)]
        assembly: String,
        /// Records on unknown chromosomes are an error.
        #[arg(long)]
        strict: bool,
        /// Replace existing annotation tables.
        #[arg(long)]
        replace: bool,
        /// The GTF/GFF3 file.
        file: PathBuf,
    },
    /// Variants (VCF, plain/gzip/bgzip) into `variants`, checking REF against the genome.
    Variants {
        /// Assembly the VCF was called against.
        #[arg(long)]
        assembly: String,
        /// Unknown chromosomes and REF mismatches are errors.
        #[arg(long)]
        strict: bool,
        /// Replace an existing `variants` table.
        #[arg(long)]
        replace: bool,
        /// The VCF file.
        file: PathBuf,
    },
}

/// Runs an ingest command.
pub fn run(db: &Database, cmd: IngestCommand) -> Result<()> {
    match cmd {
        IngestCommand::Genome { assembly, window, stride, window_set, replace, file } => {
            let t = Instant::now();
            let report = db.ingest_genome(&GenomeIngest { assembly, path: file, width: window, stride, window_set, replace })?;
            let a = &report.assembly;
            println!(
                "ingested assembly {}: {} sequences, {} bp in {:.1}s",
                a.name,
                a.chroms.len(),
                thousands(a.total_length()),
                t.elapsed().as_secs_f64()
            );
            for ws in &report.window_sets {
                println!(
                    "window set {}: {} windows of {} bp (stride {}), {}",
                    ws.name,
                    thousands(ws.rows()),
                    ws.width,
                    ws.stride,
                    human_bytes(ws.bytes())
                );
            }
            if !report.dropped_tracks.is_empty() {
                println!("dropped tracks of the replaced assembly: {}", report.dropped_tracks.join(", "));
            }
            Ok(())
        }
        IngestCommand::Track { assembly, name, assay, target, tissue, kind, aggregate, format, missing, strict, replace, file } => {
            let t = Instant::now();
            let mut opts = TrackIngest::new(&assembly, &name, file, &assay, &tissue);
            opts.target = target;
            opts.kind = kind.map(|k| if k == "peaks" { TrackKind::Peaks } else { TrackKind::Signal });
            opts.aggregation = aggregate.map(|a| match a.as_str() {
                "max" => Aggregation::Max,
                "sum" => Aggregation::Sum,
                "coverage" => Aggregation::Coverage,
                _ => Aggregation::Mean,
            });
            opts.format = format.map(|f| TrackFormat::parse(&f)).transpose()?;
            opts.missing_skip = missing == "skip";
            opts.strict = strict;
            opts.replace = replace;
            let report = db.ingest_track(&opts)?;
            if let Some(w) = report.warning() {
                eprintln!("warning: {w}");
            }
            print_track(&report, t);
            Ok(())
        }
        IngestCommand::Annotation { assembly, strict, replace, file } => {
            let opts = omicsdb_storage::annotation::AnnotationIngest { assembly, path: file, strict, replace };
            let report = db.ingest_annotation(&opts)?;
            if let Some(w) = report.skipped.message() {
                eprintln!("warning: {w}");
            }
            for t in &report.tables {
                println!("table {}: {} rows", t.name, thousands(t.rows));
            }
            Ok(())
        }
        IngestCommand::Variants { assembly, strict, replace, file } => {
            let opts = omicsdb_storage::variants::VariantIngest { assembly, path: file, strict, replace };
            let report = db.ingest_variants(&opts)?;
            if let Some(w) = report.warning() {
                eprintln!("warning: {w}");
            }
            println!(
                "table variants: {} rows; {} REF alleles checked, {} mismatches",
                thousands(report.table.rows),
                thousands(report.checked),
                thousands(report.mismatches)
            );
            Ok(())
        }
    }
}

fn print_track(report: &omicsdb_storage::tracks::TrackReport, t: Instant) {
    let tr = &report.track;
    println!(
        "ingested track {} ({:?}, {:?} per window): {} records onto {} window set(s) in {:.1}s; columns: {}",
        tr.name,
        report.format,
        tr.aggregation,
        thousands(tr.records),
        tr.files.len(),
        t.elapsed().as_secs_f64(),
        tr.columns.join(", ")
    );
}
