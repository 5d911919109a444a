//! `omicsdb plot`: a genome-browser-style figure of a region (PNG or SVG).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use omicsdb::Database;
use omicsdb::plot::{PlotRequest, plot};

/// Options of `omicsdb plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Region, 1-based closed: chrom:start-end (commas allowed).
    #[arg(long)]
    pub region: String,
    /// Observed tracks to draw (comma-separated; default: all on the window set).
    #[arg(long, value_delimiter = ',')]
    pub tracks: Vec<String>,
    /// Also draw the materialized predictions of this model.
    #[arg(long)]
    pub predictions: Option<String>,
    /// Window set whose track values are drawn.
    #[arg(long, default_value = "windows")]
    pub window_set: String,
    /// Figure width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Output file, .png or .svg.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `omicsdb plot`.
pub fn run(db: &Database, args: PlotArgs) -> Result<()> {
    let req = PlotRequest {
        region: args.region,
        window_set: args.window_set,
        tracks: (!args.tracks.is_empty()).then_some(args.tracks),
        predictions: args.predictions,
        width_px: args.width,
        out: args.out,
    };
    let report = super::runtime()?.block_on(plot(db, &req))?;
    println!(
        "wrote {} ({}x{} px, {} lanes: {}){}",
        req.out.display(),
        report.width,
        report.height,
        report.lanes.len(),
        report.lanes.join(", "),
        if report.labels { "" } else { "; no TrueType font found, so no labels (set OMICSDB_FONT=/path/font.ttf)" }
    );
    Ok(())
}
