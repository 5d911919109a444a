//! `omicsdb score-variants`: a VCF scored with an omics model, out as VCF or Parquet
//! (see `omicsdb::score_variants` for what is written, skipped and resumed).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use omicsdb::Database;
use omicsdb::score_variants::{Request, score_variants};

use super::thousands;

/// Options of `omicsdb score-variants`.
#[derive(Debug, Args)]
pub struct ScoreVariantsArgs {
    /// The VCF to score (plain, gzip or bgzip).
    pub vcf: PathBuf,
    /// Omics model: NAME or NAME@VERSION (default: the default omics model).
    #[arg(long)]
    pub model: Option<String>,
    /// Tissues to score (comma-separated; default: all of the model's).
    #[arg(long, value_delimiter = ',')]
    pub tissues: Vec<String>,
    /// Output: .vcf, .vcf.gz / .vcf.bgz (bgzip) or .parquet.
    #[arg(long)]
    pub out: PathBuf,
    /// Records per batch of model work (bounds memory).
    #[arg(long, default_value_t = 4096)]
    pub chunk: usize,
    /// Count and skip records whose REF differs from the genome (default: an error).
    #[arg(long)]
    pub skip_ref_mismatch: bool,
    /// Replace an output written by another request.
    #[arg(long)]
    pub force: bool,
    /// Tokens per model call (default: 16,384).
    #[arg(long)]
    pub batch_tokens: Option<usize>,
    /// Log lines instead of a progress bar even on a terminal.
    #[arg(long)]
    pub log: bool,
}

/// Runs `omicsdb score-variants`.
pub fn run(db: &Database, args: ScoreVariantsArgs) -> Result<()> {
    if args.chunk == 0 {
        anyhow::bail!("--chunk must be at least 1");
    }
    if let Some(tokens) = args.batch_tokens {
        db.models().set_batch_tokens(tokens);
    }
    let mut req = Request::new(args.model, &args.vcf, &args.out);
    req.tissues = args.tissues;
    req.chunk = args.chunk;
    req.skip_ref_mismatch = args.skip_ref_mismatch;
    req.force = args.force;
    let bar = (std::io::stderr().is_terminal() && !args.log).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("score-variants [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg} eta {eta}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let started = Instant::now();
    let last = std::cell::Cell::new(started);
    let progress = |read: u64, total: u64, records: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(read.min(total));
            bar.set_message(format!("{} records", thousands(records)));
        } else if last.get().elapsed() >= Duration::from_secs(10) {
            last.set(Instant::now());
            let rate = records as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprintln!("score-variants: {} records ({rate:.0}/s), {:.1}% of the input read", thousands(records), 100.0 * read as f64 / total.max(1) as f64);
        }
    };
    let report = score_variants(db, &req, &progress)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if report.nothing_to_do {
        println!("{} is complete for this request: nothing to do", report.out.display());
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "scored {} ALT alleles of {} records in {secs:.1} s ({:.0} alleles/s; {} windows from the cache) into {}",
        thousands(report.scored),
        thousands(report.records),
        report.scored as f64 / secs.max(1e-9),
        thousands(report.cache_hits),
        report.out.display()
    );
    if let Some(m) = report.skipped_message() {
        eprintln!("warning: {m}");
    }
    Ok(())
}
