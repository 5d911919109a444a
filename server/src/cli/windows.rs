//! `omicsdb windows ...`

use anyhow::Result;
use clap::Subcommand;
use omicsdb::Database;

use super::{human_bytes, thousands};

/// Window-set commands.
#[derive(Debug, Subcommand)]
pub enum WindowsCommand {
    /// Create a window set over a stored assembly (no FASTA needed).
    Create {
        /// The assembly to tile.
        #[arg(long)]
        assembly: String,
        /// Window set (table) name.
        #[arg(long)]
        name: String,
        /// Window width in bases.
        #[arg(long)]
        width: u64,
        /// Distance between window starts in bases (default: the width).
        #[arg(long)]
        stride: Option<u64>,
        /// Replace an existing window set of the same name.
        #[arg(long)]
        replace: bool,
    },
    /// Drop a window set and its track files.
    Drop {
        /// Window set name.
        name: String,
    },
}

/// Runs a window-set command.
pub fn run(db: &Database, cmd: WindowsCommand) -> Result<()> {
    match cmd {
        WindowsCommand::Create { assembly, name, width, stride, replace } => {
            let ws = db.create_window_set(&assembly, &name, width, stride.unwrap_or(width), replace)?;
            println!(
                "window set {}: {} windows of {} bp (stride {}) on {}, {}",
                ws.name,
                thousands(ws.rows()),
                ws.width,
                ws.stride,
                ws.assembly,
                human_bytes(ws.bytes())
            );
        }
        WindowsCommand::Drop { name } => {
            db.store().drop_window_set(&name)?;
            db.refresh()?;
            println!("dropped window set {name}");
        }
    }
    Ok(())
}
