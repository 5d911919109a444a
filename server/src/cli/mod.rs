//! Command-line definitions and dispatch.

mod index;
mod info;
pub mod materialize;
mod plot;
mod ingest;
mod model;
mod score_variants;
mod serve;
mod train;
mod sql;
mod user;
mod windows;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use omicsdb::Database;
pub use omicsdb_storage::progress::{human_bytes, thousands};

/// omicsdb: an embedded genome + omics + model database with SQL.
#[derive(Debug, Parser)]
#[command(name = "omicsdb", version, about)]
pub struct Cli {
    /// Database directory (created if absent).
    #[arg(long, global = true, env = "OMICSDB_DB", default_value = "omics.db")]
    pub db: PathBuf,
    /// Memory all queries may buffer together (e.g. 512M, 8G); past it a
    /// query spills or fails with SQLSTATE 53200. Default: half of RAM.
    #[arg(long, global = true, env = "OMICSDB_MEMORY_LIMIT", value_parser = omicsdb::memory::parse_size)]
    pub memory_limit: Option<u64>,
    /// Disk the model result cache may take (e.g. 256M, 4G); past it the
    /// oldest results are evicted. Default: 1G.
    #[arg(long, global = true, env = "OMICSDB_MODEL_CACHE_LIMIT", value_parser = omicsdb::memory::parse_size)]
    pub model_cache_limit: Option<u64>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load data into the database.
    #[command(subcommand)]
    Ingest(ingest::IngestCommand),
    /// Manage window sets.
    #[command(subcommand)]
    Windows(windows::WindowsCommand),
    /// Manage tracks.
    #[command(subcommand)]
    Track(TrackCommand),
    /// Print assemblies, window sets and tracks.
    Info,
    /// Materialize a model's predictions over a window set (nightly batch job).
    Materialize(materialize::MaterializeArgs),
    /// Score a VCF's variants with an omics model (VCF with INFO scores, or Parquet).
    ScoreVariants(score_variants::ScoreVariantsArgs),
    /// Draw a genome-browser-style figure of a region (PNG or SVG).
    Plot(plot::PlotArgs),
    /// Train a Hyena omics model on the window set's tracks.
    Train(train::TrainArgs),
    /// Serve the database over the PostgreSQL wire protocol.
    Serve(serve::ServeArgs),
    /// Import, list and choose models.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Run SQL (one query, or an interactive prompt without one).
    Sql(sql::SqlArgs),
    /// Build, list and drop embedding indexes for similarity search over windows.
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Manage the users `omicsdb serve` lets in (reader or admin).
    #[command(subcommand)]
    User(user::UserCommand),
}

/// Track commands.
#[derive(Debug, Subcommand)]
pub enum TrackCommand {
    /// Drop a track and free its files.
    Drop {
        /// Track name.
        name: String,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let db = Database::open_with(&cli.db, &omicsdb::OpenOptions { memory_limit: cli.memory_limit, model_cache_limit: cli.model_cache_limit })?;
    let result = match cli.command {
        Command::Ingest(cmd) => ingest::run(&db, cmd),
        Command::Windows(cmd) => windows::run(&db, cmd),
        Command::Info => info::run(&db),
        Command::Track(TrackCommand::Drop { name }) => {
            db.drop_track(&name)?;
            println!("dropped track {name}");
            Ok(())
        }
        Command::Sql(args) => sql::run(&db, args),
        Command::Model(cmd) => model::run(&db, cmd),
        Command::Serve(args) => serve::run(&db, args),
        Command::User(cmd) => user::run(&db, cmd),
        Command::Train(args) => train::run(&db, args),
        Command::Materialize(args) => materialize::run(&db, args),
        Command::Plot(args) => plot::run(&db, args),
        Command::ScoreVariants(args) => score_variants::run(&db, args),
        Command::Index(cmd) => index::run(&db, cmd),
    };
    // Problems that did not fail the command (e.g. a clean-up after a commit).
    for w in db.store().take_warnings() {
        eprintln!("warning: {w}");
    }
    result
}

/// A multi-threaded tokio runtime for async engine calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}


