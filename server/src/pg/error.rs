//! The server's error type: failures to start or run the listener.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors from starting or running the Postgres wire protocol server.
///
/// Errors inside one client session never surface here: they are sent to
/// that client as an `ErrorResponse` with a SQLSTATE (see [`super::sqlstate`]).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Trust authentication was asked for on a non-loopback address.
    #[error(
        "refusing trust authentication on non-loopback address {listen}: configure users (SCRAM passwords) or listen on 127.0.0.1"
    )]
    TrustOffLoopback {
        /// The address that was asked for.
        listen: SocketAddr,
    },
    /// No users are configured and trust authentication was not asked for.
    #[error(
        "no users are configured: add one with `omicsdb user add NAME --role admin|reader` to require SCRAM-SHA-256 \
         passwords, or pass --trust (ServeConfig::trust) to let every client on the loopback address in as admin \
         without a password"
    )]
    NoUsers,
    /// A setting is out of range or inconsistent.
    #[error("invalid server configuration: {0}")]
    InvalidConfig(String),
    /// Binding the listen socket failed (port in use, permission, ...).
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        /// The address that was asked for.
        listen: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A TLS certificate or key file could not be read or used.
    #[error("TLS setup failed for {path}: {message}")]
    Tls {
        /// The certificate or key file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// Installing pg_catalog / information_schema into the context failed.
    #[error("cannot install pg_catalog into the session context: {0}")]
    Catalog(String),
    /// Accepting connections failed in a way that cannot be retried.
    #[error("listener on {listen} failed: {source}")]
    Accept {
        /// The listening address.
        listen: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}
