//! Query handling: datafusion-postgres' session service, wrapped so that
//! cancel and `statement_timeout` reach the streaming phase.
//!
//! [`QueryService`] delegates parsing, planning, parameters, `SET`/`SHOW`,
//! transactions and Arrow→Postgres encoding to datafusion-postgres'
//! `DfSessionService`, then wraps each result's row stream in
//! [`GuardedRows`]. Rows are encoded batch by batch as DataFusion produces
//! them, so a large result starts at once and is never held whole.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::{DfSessionService, Parser};
use futures::Sink;
use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ErrorHandler, PgWireServerHandlers, PidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::cancel::CancelRequest;
use tokio::time::Instant;

use super::auth::{SessionStartup, UserStore};
use super::cancel::{CancelRegistry, GuardedRows, SessionControl, control_of, statement_deadline};
use super::sqlstate::SqlStateErrorHandler;

/// The prepared-statement type stored in each session's portal store.
pub type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;

/// Simple and extended query handler for all sessions.
pub struct QueryService {
    inner: Arc<DfSessionService>,
}

impl QueryService {
    /// Wraps datafusion-postgres' service for `ctx` (with its default hooks:
    /// `SET`/`SHOW`, transactions, cursors).
    pub fn new(ctx: Arc<datafusion::prelude::SessionContext>) -> QueryService {
        QueryService {
            inner: Arc::new(DfSessionService::new(ctx)),
        }
    }
}

/// What a statement starting now must watch: the session's control, its
/// cancel epoch and the `statement_timeout` deadline.
struct Watch {
    control: Option<Arc<SessionControl>>,
    since: u64,
    deadline: Option<Instant>,
}

impl Watch {
    fn start<C: ClientInfo + ?Sized>(client: &C) -> Watch {
        let control = control_of(client);
        let since = control.as_ref().map_or(0, |c| c.epoch());
        Watch {
            control,
            since,
            deadline: statement_deadline(client),
        }
    }

    /// Runs the planning phase, stopping it on cancel or timeout.
    async fn run<T>(&self, work: impl std::future::Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
        match (&self.control, self.deadline) {
            (Some(control), deadline) => {
                let stop = control.clone().interrupted(self.since, deadline);
                tokio::select! {
                    result = work => result,
                    why = stop => Err(why.into_error()),
                }
            }
            (None, Some(deadline)) => tokio::time::timeout_at(deadline, work)
                .await
                .unwrap_or_else(|_| Err(super::cancel::Interrupt::TimedOut.into_error())),
            (None, None) => work.await,
        }
    }

    /// Wraps the streaming phase of a query response.
    fn guard(&self, response: Response) -> Response {
        match (response, &self.control) {
            (Response::Query(mut query), Some(control)) => {
                let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
                query.data_rows = Box::pin(GuardedRows::new(rows, control.clone(), self.since, self.deadline));
                Response::Query(query)
            }
            (response, _) => response,
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let watch = Watch::start(client);
        let responses = watch
            .run(<DfSessionService as SimpleQueryHandler>::do_query(&self.inner, client, query))
            .await?;
        Ok(responses.into_iter().map(|r| watch.guard(r)).collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryService {
    type Statement = Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        <DfSessionService as ExtendedQueryHandler>::query_parser(&self.inner)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let watch = Watch::start(client);
        let response = watch
            .run(<DfSessionService as ExtendedQueryHandler>::do_query(
                &self.inner,
                client,
                portal,
                max_rows,
            ))
            .await?;
        Ok(watch.guard(response))
    }
}

/// Routes a CancelRequest to the session it names.
#[derive(Debug)]
pub struct RegistryCancelHandler {
    registry: Arc<CancelRegistry>,
}

#[async_trait]
impl CancelHandler for RegistryCancelHandler {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.registry.cancel(request.pid, &request.secret_key);
    }
}

/// The pgwire handler set shared by all connections.
pub struct Handlers {
    pub(crate) service: Arc<QueryService>,
    pub(crate) users: Arc<UserStore>,
    pub(crate) params: Arc<DefaultServerParameterProvider>,
    pub(crate) keys: Arc<dyn PidSecretKeyGenerator>,
    pub(crate) require_tls: bool,
    pub(crate) registry: Arc<CancelRegistry>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(SessionStartup::for_connection(
            &self.users,
            &self.params,
            &self.keys,
            self.require_tls,
        ))
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(SqlStateErrorHandler)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(RegistryCancelHandler {
            registry: self.registry.clone(),
        })
    }
}
