//! `omicsdb materialize`: the nightly batch job writing genome-wide
//! predictions (Parquet, optionally bigWig/bedGraph). Exit codes: 0 done or
//! nothing to do, 1 error, 2 bad command line, 75 (EX_TEMPFAIL) another run
//! holds the model's lock or the database — retry later.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use omicsdb::Database;
use omicsdb::materialize::progress::{human_bytes, human_duration, thousands};
use omicsdb::materialize::{
    Console, DeviceChoice, ExportOptions, Function, MaterializeError, Report, Request, Tissues, export, materialize_with, prepare,
};

/// Exit code when the target is busy (another materialization or process holds it).
pub const EXIT_LOCKED: u8 = 75;

/// Where the model functions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// CPU.
    Cpu,
    /// The first CUDA GPU: refused in every build for now (the model functions
    /// run on the CPU only; see docs/cuda.md).
    Cuda,
}

/// Options of `omicsdb materialize`.
#[derive(Debug, Args)]
pub struct MaterializeArgs {
    /// Model: NAME (latest version) or NAME@VERSION.
    #[arg(long)]
    pub model: String,
    /// Tissues to predict (comma-separated; default: all of the model's).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_tissues")]
    pub tissues: Vec<String>,
    /// Predict every tissue of the model (the default).
    #[arg(long)]
    pub all_tissues: bool,
    /// Window set to predict over.
    #[arg(long, default_value = "windows")]
    pub window_set: String,
    /// Chromosomes (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub chroms: Vec<String>,
    /// SQL functions to materialize: predict_omics, hyena_loglik, hyena_embed, embed
    /// (mean pooling; any family of the model zoo) (default: predict_omics for omics
    /// models, hyena_embed otherwise).
    #[arg(long, value_delimiter = ',')]
    pub functions: Vec<String>,
    /// Export one bigWig per (tissue, assay) into this directory.
    #[arg(long, alias = "export-dir")]
    pub bigwig_dir: Option<PathBuf>,
    /// Also write bedGraph files next to the bigWigs.
    #[arg(long, requires = "bigwig_dir")]
    pub bedgraph: bool,
    /// After completing, delete the materializations of older model versions.
    #[arg(long)]
    pub prune: bool,
    /// Device for the model.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Tokens per model call (default: 16,384).
    #[arg(long)]
    pub batch_tokens: Option<usize>,
    /// Windows per SQL query (bounds memory per chunk).
    #[arg(long, default_value_t = 4096)]
    pub chunk_windows: u64,
    /// Seconds between log lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    /// Log lines instead of a progress bar even on a terminal.
    #[arg(long)]
    pub log: bool,
}

/// Runs `omicsdb materialize`.
pub fn run(db: &Database, args: MaterializeArgs) -> Result<()> {
    let functions = args
        .functions
        .iter()
        .filter(|f| !f.trim().is_empty())
        .map(|f| Function::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let req = Request {
        model: args.model.clone(),
        tissues: if args.tissues.is_empty() { Tissues::All } else { Tissues::Only(args.tissues.clone()) },
        window_set: args.window_set.clone(),
        chroms: (!args.chroms.is_empty()).then(|| args.chroms.clone()),
        functions: (!functions.is_empty()).then_some(functions),
        chunk_windows: args.chunk_windows,
        prune: args.prune,
        ..Request::new(args.model.clone())
    };
    let device = match args.device {
        DeviceArg::Cpu => DeviceChoice::Cpu,
        DeviceArg::Cuda => DeviceChoice::Cuda(0),
    };
    let registry = prepare(db, device, args.batch_tokens)?;
    let console = Console::new(Duration::from_secs(args.log_every.max(1)), args.log);
    let report = super::runtime()?.block_on(materialize_with(db, &req, &registry, &console))?;
    print_summary(db, &report);
    if let Some(dir) = &args.bigwig_dir {
        let opts = ExportOptions { dir: dir.clone(), bigwig: true, bedgraph: args.bedgraph, overwrite: !report.nothing_to_do };
        let files = export(db.store(), &report.meta, &opts)?;
        if files.is_empty() {
            println!("  export: no scalar columns to export (embeddings are not tracks)");
        }
        for f in files {
            if f.written {
                println!("  wrote {} ({} intervals, {})", f.path.display(), thousands(f.intervals), human_bytes(f.bytes));
            } else {
                println!("  kept {} (up to date, {})", f.path.display(), human_bytes(f.bytes));
            }
        }
    }
    Ok(())
}

fn print_summary(db: &Database, r: &Report) {
    let m = &r.meta;
    if let Some(why) = &r.replaced {
        println!("replaced the earlier materialization of {} on {}: {why}", m.label(), m.window_set);
    }
    if r.nothing_to_do {
        println!(
            "nothing to do: {} over {} is up to date ({} windows in {} partitions, {}); table {}",
            m.label(),
            m.window_set,
            thousands(m.rows()),
            m.partitions.len(),
            human_bytes(m.bytes()),
            r.table
        );
    } else {
        println!(
            "materialized {} over {}: {} windows in {} partitions in {} ({:.1} windows/s); {} model calls, {} cache hits",
            m.label(),
            m.window_set,
            thousands(r.windows),
            r.partitions_computed,
            human_duration(r.elapsed),
            r.windows_per_s(),
            thousands(r.model_calls),
            thousands(r.cache_hits)
        );
        println!(
            "  table {}: {} windows in {} partitions, {} Parquet ({} written now) in {}",
            r.table,
            thousands(m.rows()),
            m.partitions.len(),
            human_bytes(m.bytes()),
            human_bytes(r.bytes_written),
            db.store().path(&m.dir).display()
        );
    }
    for p in &r.pruned {
        println!("  pruned {p}");
    }
}

/// The process exit code for an error: [`EXIT_LOCKED`] when another run holds
/// the model's lock or another process has the database open, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(MaterializeError::Locked { .. }) = cause.downcast_ref::<MaterializeError>() {
            return EXIT_LOCKED;
        }
        if let Some(omicsdb_storage::StorageError::Locked { .. }) = cause.downcast_ref::<omicsdb_storage::StorageError>() {
            return EXIT_LOCKED;
        }
        if let Some(omicsdb::Error::Storage(omicsdb_storage::StorageError::Locked { .. })) = cause.downcast_ref::<omicsdb::Error>() {
            return EXIT_LOCKED;
        }
    }
    1
}
