//! Server settings: where to listen, who may log in, TLS files and limits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use omicsdb_storage::users::{Role, ScramVerifier};

use super::auth::scram_verifier;
use super::error::ServerError;

/// A user allowed to log in: name, role and SCRAM-SHA-256 verifier.
/// `omicsdb serve` makes these from the catalog's users
/// (`omicsdb user add`); tests and embedders can build them in memory.
#[derive(Debug, Clone)]
pub struct ServeUser {
    /// Login name.
    pub name: String,
    /// What the user may run (see [`super::roles`]).
    pub role: Role,
    /// The SCRAM verifier (never the password).
    pub verifier: ScramVerifier,
}

impl ServeUser {
    /// A user with a stored verifier.
    pub fn new(name: impl Into<String>, role: Role, verifier: ScramVerifier) -> ServeUser {
        ServeUser { name: name.into(), role, verifier }
    }

    /// A user whose verifier is computed from `password` (which is then
    /// dropped by the caller; only the verifier is kept).
    pub fn with_password(name: impl Into<String>, password: &str, role: Role) -> ServeUser {
        ServeUser::new(name, role, scram_verifier(password))
    }
}

/// Default listen address: loopback only, one port above PostgreSQL's 5432.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5433);

/// Settings for [`serve`](super::serve) and [`Server::bind`](super::Server::bind).
///
/// `ServeConfig::default()` listens on `127.0.0.1:5433` with trust
/// authentication, no TLS and 100 sessions.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on. Anything but a loopback address must be asked
    /// for explicitly, and then requires `users` (no trust auth off loopback).
    pub listen: SocketAddr,
    /// Users checked with SCRAM-SHA-256, with their roles. Empty means trust
    /// authentication (every session is admin), which is only allowed on a
    /// loopback `listen` address.
    pub users: Vec<ServeUser>,
    /// PEM certificate chain and PEM private key (PKCS#8, PKCS#1 or SEC1).
    /// When set, clients may negotiate TLS (`sslmode=require`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// When true (and `tls` is set), clients that do not negotiate TLS are
    /// refused with SQLSTATE 28000.
    pub require_tls: bool,
    /// Most authenticated sessions at once; the next client gets SQLSTATE
    /// 53300 ("too many connections"). Cancel requests do not count.
    pub max_connections: usize,
    /// Most connections still in TLS negotiation or startup/authentication at
    /// once; beyond this new sockets are closed at once (guards against
    /// connect floods holding memory).
    pub max_pending_startups: usize,
    /// Largest frontend message accepted, in bytes (length field included).
    /// A bigger message gets a FATAL 08P01 error and the connection is closed.
    pub max_message_bytes: usize,
    /// Time allowed from TCP accept to the end of authentication.
    pub startup_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN,
            users: Vec::new(),
            tls: None,
            require_tls: false,
            max_connections: 100,
            max_pending_startups: 256,
            max_message_bytes: 16 * 1024 * 1024,
            startup_timeout: Duration::from_secs(30),
        }
    }
}

impl ServeConfig {
    /// True when no password is asked for (no users configured).
    pub fn is_trust(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks the settings before binding: trust auth only on loopback,
    /// non-zero limits, TLS required only with TLS files, no empty or repeated
    /// user names.
    pub fn validate(&self) -> Result<(), ServerError> {
        if self.is_trust() && !self.listen.ip().is_loopback() {
            return Err(ServerError::TrustOffLoopback {
                listen: self.listen,
            });
        }
        if self.max_connections == 0 {
            return Err(ServerError::InvalidConfig(
                "max_connections must be at least 1".to_owned(),
            ));
        }
        if self.max_pending_startups == 0 {
            return Err(ServerError::InvalidConfig(
                "max_pending_startups must be at least 1".to_owned(),
            ));
        }
        // The startup packet alone may be 10 000 bytes; a smaller limit would
        // refuse ordinary clients.
        if self.max_message_bytes < 16 * 1024 {
            return Err(ServerError::InvalidConfig(format!(
                "max_message_bytes must be at least 16384, got {}",
                self.max_message_bytes
            )));
        }
        if self.require_tls && self.tls.is_none() {
            return Err(ServerError::InvalidConfig(
                "require_tls is set but no TLS certificate/key was given".to_owned(),
            ));
        }
        if self.users.iter().any(|u| u.name.is_empty()) {
            return Err(ServerError::InvalidConfig("user name must not be empty".to_owned()));
        }
        let mut names: Vec<&str> = self.users.iter().map(|u| u.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ServerError::InvalidConfig(format!("user {:?} is listed twice", pair[0])));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_listens_on_loopback_5433_with_trust() {
        let cfg = ServeConfig::default();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:5433");
        assert!(cfg.is_trust());
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn trust_off_loopback_is_refused() {
        let cfg = ServeConfig {
            listen: "0.0.0.0:5433".parse().unwrap(),
            ..ServeConfig::default()
        };
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().contains("0.0.0.0:5433"), "{err}");
    }

    #[test]
    fn users_allow_any_address() {
        let cfg = ServeConfig {
            listen: "0.0.0.0:5433".parse().unwrap(),
            users: vec![ServeUser::with_password("omics", "pw", Role::Admin)],
            ..ServeConfig::default()
        };
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn zero_limits_and_tls_without_files_are_refused() {
        for cfg in [
            ServeConfig { max_connections: 0, ..ServeConfig::default() },
            ServeConfig { max_pending_startups: 0, ..ServeConfig::default() },
            ServeConfig { max_message_bytes: 100, ..ServeConfig::default() },
            ServeConfig { require_tls: true, ..ServeConfig::default() },
            ServeConfig {
                users: vec![
                    ServeUser::with_password("a", "x", Role::Admin),
                    ServeUser::with_password("a", "y", Role::Reader),
                ],
                ..ServeConfig::default()
            },
            ServeConfig { users: vec![ServeUser::with_password("", "x", Role::Admin)], ..ServeConfig::default() },
        ] {
            assert!(cfg.validate().is_err(), "{cfg:?}");
        }
    }
}
