//! `omicsdb ingest ...`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use omicsdb::{Database, GenomeIngest};

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
    }
}
