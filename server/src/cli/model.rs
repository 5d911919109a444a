//! `omicsdb model ...`: import checkpoints, list them, pick the default.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use omicsdb::Database;
use omicsdb_storage::models::{self, ModelMeta};

use super::human_bytes;

/// Model commands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Copy a HyenaDNA checkpoint directory (config.json + model.safetensors or
    /// pytorch_model.bin) into the database as the next version of NAME.
    Import {
        /// Model name (letters, digits, '_', '-', '.').
        #[arg(long)]
        name: String,
        /// The checkpoint directory.
        dir: PathBuf,
        /// A note stored with the model, e.g. "random weights (test fixture)".
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List every model version.
    List,
    /// Show one model (latest version; NAME@VERSION for another).
    Show {
        /// Model name, or NAME@VERSION.
        name: String,
        /// Print the whole catalog record as JSON instead (metrics, settings, config).
        #[arg(long)]
        json: bool,
    },
    /// Make NAME the default model of hyena_embed(seq) / hyena_loglik(seq).
    SetDefault {
        /// Model name.
        name: String,
    },
}

/// Runs a model command.
pub fn run(db: &Database, cmd: ModelCommand) -> Result<()> {
    let store = db.store();
    match cmd {
        ModelCommand::Import { name, dir, note } => {
            let meta = db.import_model(&name, &dir, &note)?;
            let size = std::fs::metadata(store.path(&meta.dir).join(&meta.weights_file))
                .map(|m| m.len())
                .unwrap_or(0);
            let facts = meta.family_facts();
            println!(
                "model {} imported from {} (family {}, {} tokens, at most {} bases; {}, {}, sha256 {})",
                meta.label(),
                meta.source,
                facts.family,
                facts.tokenizer,
                facts.max_len,
                meta.weights_file,
                human_bytes(size),
                meta.sha256
            );
            if models::default_embedding_model(store)?.as_deref() == Some(meta.name.as_str()) {
                println!("default embedding model: {}", meta.name);
            }
        }
        ModelCommand::List => {
            let default = models::default_embedding_model(store)?;
            let list = models::list_models(store)?;
            if list.is_empty() {
                println!("no models (import one with `omicsdb model import --name NAME DIR`)");
            }
            for m in &list {
                let mark = if default.as_deref() == Some(m.name.as_str()) {
                    " (default)"
                } else {
                    ""
                };
                println!("{}{mark}: {}", m.label(), summary(m));
            }
        }
        ModelCommand::Show { name, json } => {
            let (base, version) = match name.rsplit_once('@') {
                Some((b, v)) => (
                    b.to_string(),
                    Some(v.parse::<u32>().map_err(|_| {
                        anyhow::anyhow!("'{name}': the part after '@' must be a version number")
                    })?),
                ),
                None => (name.clone(), None),
            };
            let m = models::model(store, &base, version)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                println!("{}: {}", m.label(), summary(&m));
                super::train::print_settings(&m);
                super::train::print_metrics(&m);
                println!("(the whole record: omicsdb model show {} --json)", m.label());
            }
        }
        ModelCommand::SetDefault { name } => {
            models::set_default_embedding_model(store, &name)?;
            db.refresh()?;
            println!("default embedding model: {name}");
        }
    }
    Ok(())
}

/// One line: architecture, shape, note.
fn summary(m: &ModelMeta) -> String {
    let dim = |v: Option<usize>| v.map(|x| x.to_string()).unwrap_or_else(|| "?".into());
    let f = m.family_facts();
    let mut s = format!(
        "{}, {} tokens, d_model {}, {} layers, max length {} bases, {}{}, sha256 {}",
        m.architecture,
        f.tokenizer,
        dim(m.d_model()),
        dim(m.n_layer()),
        dim(m.max_seq_len()),
        if f.bidirectional { "bidirectional" } else { "causal" },
        if f.rc_equivariant { ", RC-equivariant" } else { "" },
        &m.sha256[..m.sha256.len().min(12)]
    );
    if !m.tracks.is_empty() {
        s.push_str(&format!(", tracks {}", m.tracks.join(",")));
    }
    if !m.note.is_empty() {
        s.push_str(&format!(" — {}", m.note));
    }
    s
}
