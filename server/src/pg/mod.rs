//! The Postgres wire protocol server: psql, drivers and BI tools talk to an
//! omicsdb `SessionContext` over the PostgreSQL v3 protocol.
//!
//! Built on datafusion-postgres (query handling, `SET`/`SHOW`, transactions),
//! datafusion-pg-catalog (pg_catalog) and arrow-pg (Arrow ↔ Postgres types),
//! all on pgwire. This module adds what those lack for a server facing
//! untrusted clients: its own accept and connection loop with a graceful
//! shutdown, a session limit (counted after authentication) answered with
//! SQLSTATE 53300, a message-size limit, SCRAM users with reader/admin
//! roles, trust mode only when asked for, a session of its own per
//! connection (settings are never shared), TLS that fails loudly, SQLSTATE
//! mapping of engine errors, and cancel/`statement_timeout` (with a server
//! maximum) that stop a streaming query. `docs/server.md` has the type
//! mapping and the details.
//!
//! ```no_run
//! # async fn run(ctx: std::sync::Arc<datafusion::prelude::SessionContext>) -> Result<(), omicsdb_server::pg::ServerError> {
//! use omicsdb_server::pg::{serve, ServeConfig};
//! // 127.0.0.1:5433; no users, so trust must be asked for: every local
//! // client is admin.
//! let cfg = ServeConfig { trust: true, ..ServeConfig::default() };
//! let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! serve(ctx, cfg, async { let _ = stopped.await; }).await
//! # }
//! ```

pub mod auth;
pub mod cancel;
pub mod catalog;
pub mod config;
mod conn;
pub mod describe;
pub mod error;
pub mod fastpath;
pub mod hooks;
pub mod json;
pub mod limits;
pub mod roles;
pub mod session;
pub mod settings;
pub mod sizes;
pub mod sqlstate;
pub mod tls;
pub mod types;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use pgwire::api::RandomPidSecretKeyGenerator;
use pgwire::api::auth::DefaultServerParameterProvider;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use config::{DEFAULT_LISTEN, DEFAULT_MAX_STATEMENT_TIMEOUT, ServeConfig, ServeUser};
pub use omicsdb_storage::users::Role;
pub use error::ServerError;

use auth::{StartupSettings, UserStore};
use cancel::CancelRegistry;
use conn::Shared;
use session::{Handlers, QueryService};

/// A bound, not yet running server. [`Server::local_addr`] tells the port
/// when `listen` asked for port 0.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Validates `cfg`, installs pg_catalog into `ctx`, loads TLS files and
    /// binds the listen socket. Each connection gets its own session made
    /// from `ctx`'s state (see [`QueryService::session`]).
    pub async fn bind(ctx: Arc<SessionContext>, cfg: ServeConfig) -> Result<Server, ServerError> {
        cfg.validate()?;
        catalog::install(&ctx).await?;
        let tls = match &cfg.tls {
            Some((cert, key)) => Some(tls::load_acceptor(cert, key)?),
            None => None,
        };
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = catalog::PG_COMPAT_VERSION.to_owned();
        let registry = Arc::new(CancelRegistry::default());
        let handlers = Arc::new(Handlers {
            service: Arc::new(QueryService::new(ctx)),
            startup: Arc::new(StartupSettings {
                users: Arc::new(UserStore::new(&cfg.users)),
                trust: cfg.is_trust(),
                params: Arc::new(params),
                keys: Arc::new(RandomPidSecretKeyGenerator::default()),
                require_tls: cfg.require_tls,
                sessions: Arc::new(Semaphore::new(cfg.max_connections)),
                max_statement_timeout: cfg.max_statement_timeout,
            }),
            registry: registry.clone(),
        });
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServerError::Bind { listen: cfg.listen, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { listen: cfg.listen, source })?;
        let shared = Arc::new(Shared {
            handlers,
            tls,
            pending: Arc::new(Semaphore::new(cfg.max_pending_startups)),
            registry,
            max_message_bytes: cfg.max_message_bytes,
            startup_timeout: cfg.startup_timeout,
        });
        Ok(Server { listener, local_addr, shared })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A live count of the statements answered as region lookups without
    /// planning (see [`fastpath`]); it goes on counting while the server runs.
    pub fn lookups_served(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.shared.handlers.service.lookups_served()
    }

    /// Number of sessions that finished startup and are still connected.
    pub fn sessions(&self) -> usize {
        self.shared.registry.len()
    }

    /// Accepts connections until `shutdown` resolves, then closes the
    /// listener and ends every open session.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Server { listener, local_addr, shared } = self;
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        let mut accept_errors = 0u32;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // Reap finished connection tasks so the set stays small.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _peer)) => {
                        accept_errors = 0;
                        tasks.spawn(conn::serve_connection(tcp, shared.clone()));
                    }
                    Err(source) => {
                        // EMFILE and friends are transient: back off and retry.
                        accept_errors += 1;
                        if accept_errors > 1000 {
                            return Err(ServerError::Accept { listen: local_addr, source });
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                },
            }
        }
        tasks.shutdown().await;
        Ok(())
    }
}

/// Serves `db_ctx` over the Postgres wire protocol until `shutdown` resolves.
pub async fn serve(
    db_ctx: Arc<SessionContext>,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    Server::bind(db_ctx, cfg).await?.run(shutdown).await
}
