//! `omicsdb serve`: the PostgreSQL wire protocol server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use omicsdb::Database;
use omicsdb_server::pg::{ServeConfig, ServeUser, serve};
use omicsdb_sql::table_functions::access::FileAccess;
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
    /// Maximum concurrent sessions, counted once authenticated (extra clients get SQLSTATE 53300).
    #[arg(long, default_value_t = 100)]
    pub max_connections: usize,
    /// Trust authentication when the catalog has no users: every client on the
    /// loopback address is admin without a password, so any local OS user can read
    /// and write the server's files through SQL. Without users and without --trust
    /// the server does not start.
    #[arg(long)]
    pub trust: bool,
    /// Longest a statement may run, with a unit (500ms, 30s, 5min, 1h): every
    /// session starts with it as its statement_timeout; readers may lower it but
    /// neither raise nor disable it; admins may.
    #[arg(long, default_value = "5min", value_parser = parse_max_statement_timeout)]
    pub max_statement_timeout: Duration,
    /// A directory under which read_bed, read_fasta and closest may read files
    /// (repeatable). Without one they read no file.
    #[arg(long = "allow-dir", value_name = "DIR")]
    pub allow_dirs: Vec<PathBuf>,
}

/// `--max-statement-timeout`: PostgreSQL's duration syntax, but with a unit
/// required (a bare number, milliseconds in PostgreSQL, is too easy to
/// misread on a command line).
fn parse_max_statement_timeout(text: &str) -> Result<Duration, String> {
    if text.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("{text:?} needs a unit: 500ms, 30s, 5min, 1h or 1d"));
    }
    let timeout = omicsdb_server::pg::settings::parse_timeout(text)
        .map_err(|e| pgwire::error::ErrorInfo::from(e).message)?;
    if timeout.is_zero() {
        return Err("must be more than 0: every statement needs a limit".to_owned());
    }
    Ok(timeout)
}

/// Runs the server until the process is stopped (Ctrl-C / SIGTERM end it; the
/// database holds only committed state, so nothing is lost).
///
/// Users come from the catalog (`omicsdb user add`): with any, every client
/// must log in with SCRAM-SHA-256 and gets its user's role; with none, the
/// server starts only with `--trust` (loopback clients are then admin).
pub fn run(db: &Database, args: ServeArgs) -> Result<()> {
    let mut logins = Vec::new();
    for record in users::list_users(db.store())? {
        logins.push(ServeUser::new(record.name.clone(), record.role, record.verifier()?));
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let cfg = ServeConfig {
        listen: args.listen,
        users: logins,
        trust: args.trust,
        tls,
        require_tls: args.require_tls,
        max_connections: args.max_connections,
        max_statement_timeout: args.max_statement_timeout,
        ..ServeConfig::default()
    };
    cfg.validate()?;
    if cfg.is_trust() {
        eprintln!(
            "warning: --trust: no password is asked for; every client on {} is admin and can read and write the \
             server's files through SQL (COPY, CREATE EXTERNAL TABLE). Add users with `omicsdb user add NAME --role \
             reader|admin` and drop --trust to require SCRAM-SHA-256 passwords",
            args.listen
        );
    } else {
        let readers = cfg.users.iter().filter(|u| u.role == users::Role::Reader).count();
        eprintln!(
            "{} users ({} admin, {readers} reader) from the catalog: SCRAM-SHA-256 passwords required",
            cfg.users.len(),
            cfg.users.len() - readers
        );
    }
    let access = FileAccess::under(&args.allow_dirs)?;
    if access.dirs().is_empty() {
        eprintln!("read_bed, read_fasta and closest read no file (allow a directory with --allow-dir DIR)");
    } else {
        let dirs: Vec<String> = access.dirs().iter().map(|d| d.display().to_string()).collect();
        eprintln!("read_bed, read_fasta and closest may read files under {}", dirs.join(", "));
    }
    access.install(db.context());
    eprintln!(
        "statement timeout: at most {} ms per statement (--max-statement-timeout)",
        cfg.max_statement_timeout.as_millis()
    );
    let rt = super::runtime()?;
    let ctx = Arc::new(db.context().clone());
    eprintln!("omicsdb serving {} on postgresql://{}", db.store().root().display(), args.listen);
    rt.block_on(serve(ctx, cfg, futures::future::pending::<()>()))?;
    Ok(())
}
