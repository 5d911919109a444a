//! `omicsdb serve`: the PostgreSQL wire protocol server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Args;
use omicsdb::Database;
use omicsdb_server::pg::{ServeConfig, serve};

/// Arguments of `omicsdb serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; other addresses must be asked for).
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub listen: SocketAddr,
    /// A user allowed to log in, as NAME:PASSWORD (repeatable; without any, loopback clients are trusted).
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// TLS certificate (PEM); needs --tls-key.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Refuse clients that do not use TLS.
    #[arg(long)]
    pub require_tls: bool,
    /// Maximum concurrent connections (extra clients get SQLSTATE 53300).
    #[arg(long, default_value_t = 100)]
    pub max_connections: usize,
}

/// Runs the server until the process is stopped (Ctrl-C / SIGTERM end it; the
/// database holds only committed state, so nothing is lost).
pub fn run(db: &Database, args: ServeArgs) -> Result<()> {
    let mut users = Vec::new();
    for u in &args.users {
        let Some((name, password)) = u.split_once(':') else {
            bail!("--user must be NAME:PASSWORD, got '{u}'");
        };
        users.push((name.to_string(), password.to_string()));
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let cfg = ServeConfig {
        listen: args.listen,
        users,
        tls,
        require_tls: args.require_tls,
        max_connections: args.max_connections,
        ..ServeConfig::default()
    };
    let rt = super::runtime()?;
    let ctx = Arc::new(db.context().clone());
    eprintln!("omicsdb serving {} on postgresql://{}", db.store().root().display(), args.listen);
    rt.block_on(serve(ctx, cfg, futures::future::pending::<()>()))?;
    Ok(())
}
