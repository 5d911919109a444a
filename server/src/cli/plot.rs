//! `omicsdb plot`: a genome-browser-style figure of a region (PNG or SVG).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use omicsdb::Database;
use omicsdb::plot::{IsmLane, PlotRequest, plot};

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
    /// Add an in-silico mutagenesis (ISM) lane, TISSUE:ASSAY (regions of at most
    /// 10,000 bp): every base's importance, -mean(delta) of its three substitutions.
    #[arg(long, value_name = "TISSUE:ASSAY")]
    pub ism: Option<String>,
    /// The omics model of the ISM lane (default: the default omics model).
    #[arg(long, requires = "ism")]
    pub ism_model: Option<String>,
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
    let ism = match &args.ism {
        None => None,
        Some(spec) => {
            let (tissue, assay) = spec
                .split_once(':')
                .filter(|(t, a)| !t.is_empty() && !a.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--ism {spec}: expected TISSUE:ASSAY, e.g. --ism liver:atac_seq"))?;
            Some(IsmLane { model: args.ism_model.clone(), tissue: tissue.to_string(), assay: assay.to_string() })
        }
    };
    let req = PlotRequest {
        region: args.region,
        window_set: args.window_set,
        tracks: (!args.tracks.is_empty()).then_some(args.tracks),
        predictions: args.predictions,
        ism,
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
