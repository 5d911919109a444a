//! `omicsdb serve`: the PostgreSQL wire protocol server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Args;
use omicsdb::Database;
use omicsdb_server::pg::{ServeConfig, ServeUser, serve};
use omicsdb_storage::users;

/// Arguments of `omicsdb serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; other addresses must be asked for).
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub listen: SocketAddr,
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
///
/// Users come from the catalog (`omicsdb user add`): with any, every client
/// must log in with SCRAM-SHA-256 and gets its user's role; with none, loopback
/// clients are trusted as admin (and other addresses are refused).
pub fn run(db: &Database, args: ServeArgs) -> Result<()> {
    let mut logins = Vec::new();
    for record in users::list_users(db.store())? {
        logins.push(ServeUser::new(record.name.clone(), record.role, record.verifier()?));
    }
    if logins.is_empty() && args.listen.ip().is_loopback() {
        eprintln!(
            "warning: no users in the catalog: trust authentication, every client on {} is admin without a password \
             (add users with `omicsdb user add NAME --role reader|admin` to require SCRAM-SHA-256 passwords)",
            args.listen
        );
    } else if !logins.is_empty() {
        let readers = logins.iter().filter(|u| u.role == users::Role::Reader).count();
        eprintln!(
            "{} users ({} admin, {readers} reader) from the catalog: SCRAM-SHA-256 passwords required",
            logins.len(),
            logins.len() - readers
        );
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let cfg = ServeConfig {
        listen: args.listen,
        users: logins,
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
