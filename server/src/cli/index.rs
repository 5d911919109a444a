//! `omicsdb index create|list|drop`: embedding indexes for similarity search.

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use omicsdb::Database;
use omicsdb::embedding_index::{CreateIndex, HnswParams, IndexKind, Metric, create_index, drop_index, meta};
use omicsdb::materialize::Console;
use omicsdb::materialize::progress::{human_bytes, thousands};

/// Index commands.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Embed every window of a window set with a model and build a nearest-neighbour index.
    Create(CreateArgs),
    /// List the indexes (also the `embedding_indexes` table).
    List,
    /// Drop an index and free its files (the stored embeddings stay for a rebuild).
    Drop {
        /// Index name.
        name: String,
    },
}

/// Options of `omicsdb index create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Window set whose windows are indexed.
    #[arg(long, default_value = "windows")]
    pub window_set: String,
    /// Model: NAME (latest version) or NAME@VERSION.
    #[arg(long)]
    pub model: String,
    /// Embedding function: embed (any family) or hyena_embed (HyenaDNA models).
    #[arg(long, default_value = "embed")]
    pub function: String,
    /// Pooling of the hidden states: mean, last (causal families) or cls (DNABERT).
    #[arg(long, default_value = "mean")]
    pub pooling: String,
    /// Distance: cosine, l2 or dot.
    #[arg(long, default_value = "cosine")]
    pub metric: String,
    /// hnsw (approximate, usearch) or flat (exact).
    #[arg(long, default_value = "hnsw")]
    pub kind: String,
    /// Index name (default: <window_set>_<model>).
    #[arg(long)]
    pub name: Option<String>,
    /// HNSW links per node (M).
    #[arg(long, default_value_t = HnswParams::default().connectivity)]
    pub connectivity: usize,
    /// HNSW candidate list while building (efConstruction).
    #[arg(long, default_value_t = HnswParams::default().expansion_add)]
    pub ef_construction: usize,
    /// HNSW candidate list while searching (efSearch; raised to k for larger k).
    #[arg(long, default_value_t = HnswParams::default().expansion_search)]
    pub ef_search: usize,
    /// Log lines instead of a progress bar even on a terminal.
    #[arg(long)]
    pub log: bool,
}

/// Runs an index command.
pub fn run(db: &Database, cmd: IndexCommand) -> Result<()> {
    match cmd {
        IndexCommand::Create(a) => {
            let req = CreateIndex {
                name: a.name,
                window_set: a.window_set,
                model: a.model,
                function: a.function,
                pooling: a.pooling,
                metric: Metric::parse(&a.metric)?,
                kind: IndexKind::parse(&a.kind)?,
                hnsw: HnswParams { connectivity: a.connectivity, expansion_add: a.ef_construction, expansion_search: a.ef_search },
            };
            let console = Console::new(Duration::from_secs(10), a.log);
            let r = super::runtime()?.block_on(create_index(db, &req, &console))?;
            let m = &r.meta;
            if r.up_to_date {
                println!("index {} is up to date ({} windows of {}, model {})", m.name, thousands(m.count), m.window_set, m.model_label());
                return Ok(());
            }
            if let Some(why) = &r.replaced {
                println!("replaced index {}: {why}", m.name);
            }
            println!(
                "index {}: {} windows of {} embedded by {}({}, {} pooling), {}-dimensional, {} {}; {} windows embedded now in {:.1} s, index built in {:.2} s, {}",
                m.name,
                thousands(m.count),
                m.window_set,
                m.function,
                m.model_label(),
                m.pooling,
                m.dim,
                m.kind.name(),
                m.metric.name(),
                thousands(r.embedded_windows),
                r.embed_seconds,
                m.build_seconds,
                human_bytes(m.bytes)
            );
            Ok(())
        }
        IndexCommand::List => {
            let all = meta::list(db.store())?;
            if all.is_empty() {
                println!("no embedding indexes; create one with `omicsdb index create --model M`");
            }
            for m in all {
                let stale = m.stale_reason(db.store())?.map(|s| format!(" (stale: {s})")).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{} {}\t{} windows\t{}-d {} {}\t{}{stale}",
                    m.name, m.window_set, m.model_label(), m.function, m.pooling, thousands(m.count), m.dim, m.kind.name(), m.metric.name(), human_bytes(m.bytes)
                );
            }
            Ok(())
        }
        IndexCommand::Drop { name } => {
            drop_index(db, &name)?;
            println!("dropped index {name}");
            Ok(())
        }
    }
}
