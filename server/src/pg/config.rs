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

/// Default [`ServeConfig::max_statement_timeout`]: five minutes.
pub const DEFAULT_MAX_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Settings for [`serve`](super::serve) and [`Server::bind`](super::Server::bind).
///
/// `ServeConfig::default()` listens on `127.0.0.1:5433` with no TLS, 100
/// sessions and a 5-minute maximum statement timeout; it has no users and
/// no trust, so it must get one or the other (`users`, or `trust: true`)
/// before [`validate`](ServeConfig::validate) accepts it.
///
/// Which files `read_bed`, `read_fasta` and `closest` may read is a property
/// of the served context, not of the server: install an
/// [`omicsdb_sql::table_functions::access::FileAccess`] on it (`omicsdb
/// serve --allow-dir`); without one they read nothing.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on. Anything but a loopback address must be asked
    /// for explicitly, and then requires `users` (no trust auth off loopback).
    pub listen: SocketAddr,
    /// Users checked with SCRAM-SHA-256, with their roles. Empty needs
    /// `trust`.
    pub users: Vec<ServeUser>,
    /// Trust authentication: no password, every session admin. Only with no
    /// `users` and on a loopback `listen` address; it must be asked for
    /// (`omicsdb serve --trust`), since any local OS user may then read and
    /// write the server's files through SQL.
    pub trust: bool,
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
    /// Longest a statement may run: every session starts with this
    /// `statement_timeout`; a reader may lower it but neither set 0 (none)
    /// nor more; an admin may set any value, 0 included.
    pub max_statement_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN,
            users: Vec::new(),
            trust: false,
            tls: None,
            require_tls: false,
            max_connections: 100,
            max_pending_startups: 256,
            max_message_bytes: 16 * 1024 * 1024,
            startup_timeout: Duration::from_secs(30),
            max_statement_timeout: DEFAULT_MAX_STATEMENT_TIMEOUT,
        }
    }
}

impl ServeConfig {
    /// True when no password is asked for (trust asked for, no users).
    pub fn is_trust(&self) -> bool {
        self.trust && self.users.is_empty()
    }

    /// Checks the settings before binding: users or an explicit trust (not
    /// both), trust auth only on loopback, non-zero limits, TLS required only
    /// with TLS files, no empty or repeated user names.
    pub fn validate(&self) -> Result<(), ServerError> {
        if self.users.is_empty() && !self.trust {
            return Err(ServerError::NoUsers);
        }
        if self.trust && !self.users.is_empty() {
            return Err(ServerError::InvalidConfig(format!(
                "trust authentication was asked for, but {} users are configured: drop --trust (ServeConfig::trust) \
                 to require their passwords",
                self.users.len()
            )));
        }
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
        if self.max_statement_timeout.is_zero() {
            return Err(ServerError::InvalidConfig(
                "max_statement_timeout must be more than 0 (the longest a statement may run)".to_owned(),
            ));
        }
        if self.max_statement_timeout.as_millis() > u128::from(super::settings::MAX_TIMEOUT_MS) {
            return Err(ServerError::InvalidConfig(format!(
                "max_statement_timeout must be at most {}ms (PostgreSQL's largest statement_timeout)",
                super::settings::MAX_TIMEOUT_MS
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

    fn trusted() -> ServeConfig {
        ServeConfig { trust: true, ..ServeConfig::default() }
    }

    #[test]
    fn default_listens_on_loopback_5433_and_needs_users_or_trust() {
        let cfg = ServeConfig::default();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:5433");
        assert!(!cfg.is_trust());
        assert_eq!(cfg.max_statement_timeout, Duration::from_secs(300));
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().contains("--trust") && err.to_string().contains("omicsdb user add"), "{err}");
        assert!(trusted().is_trust());
        assert!(trusted().validate().is_ok());
        let both = ServeConfig { users: vec![ServeUser::with_password("a", "x", Role::Admin)], ..trusted() };
        assert!(both.validate().is_err(), "trust with users is ambiguous");
    }

    #[test]
    fn trust_off_loopback_is_refused() {
        let cfg = ServeConfig {
            listen: "0.0.0.0:5433".parse().unwrap(),
            ..trusted()
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
            ServeConfig { max_connections: 0, ..trusted() },
            ServeConfig { max_pending_startups: 0, ..trusted() },
            ServeConfig { max_message_bytes: 100, ..trusted() },
            ServeConfig { require_tls: true, ..trusted() },
            ServeConfig { max_statement_timeout: Duration::ZERO, ..trusted() },
            ServeConfig { max_statement_timeout: Duration::from_secs(30 * 24 * 3600), ..trusted() },
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
