//! Query handling: datafusion-postgres' session service, wrapped so that
//! cancel and `statement_timeout` reach the streaming phase.
//!
//! [`QueryService`] delegates parsing, planning, parameters, `SET`/`SHOW`,
//! transactions and Arrow→Postgres encoding to datafusion-postgres'
//! `DfSessionService`, then wraps each result's row stream in
//! [`GuardedRows`]. Rows are encoded batch by batch as DataFusion produces
//! them, so a large result starts at once and is never held whole: for the
//! extended protocol that needs our own `on_execute`, because pgwire's
//! default collects all rows of an Execute into a `Vec` before sending any.
//!
//! On top of datafusion-postgres' hooks the service adds the reader/admin
//! check (`roles.rs`, before every other hook), savepoints and the
//! struct → `json` result rewrite (`hooks.rs`, `json.rs`).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, Parser, QueryHook};
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, DEFAULT_NAME, ErrorHandler, PgWireConnectionState, PgWireServerHandlers,
    PidSecretKeyGenerator, Type,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::messages::extendedquery::Execute;
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use tokio::time::Instant;

use super::auth::{SessionStartup, UserStore};
use super::cancel::{CancelRegistry, GuardedRows, SessionControl, control_of, statement_deadline};
use super::hooks::{JsonResultHook, SavepointHook, is_rollback_to_savepoint};
use super::json;
use super::roles::RoleHook;
use super::sqlstate::SqlStateErrorHandler;

/// The prepared-statement type stored in each session's portal store.
pub type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;

/// Simple and extended query handler for all sessions.
pub struct QueryService {
    inner: Arc<DfSessionService>,
    parser: Arc<JsonParser>,
}

impl QueryService {
    /// Wraps datafusion-postgres' service for `ctx`, with its default hooks
    /// (cursors, `SET`/`SHOW`, transactions) plus the role check and
    /// savepoints first and the simple-protocol JSON rewrite last.
    pub fn new(ctx: Arc<datafusion::prelude::SessionContext>) -> QueryService {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(RoleHook),
            Arc::new(SavepointHook),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
            Arc::new(JsonResultHook),
        ];
        let inner = Arc::new(DfSessionService::new_with_hooks(ctx, hooks));
        let parser = Arc::new(JsonParser {
            inner: <DfSessionService as ExtendedQueryHandler>::query_parser(&inner),
        });
        QueryService { inner, parser }
    }
}

/// datafusion-postgres' parser, with the plan of every query wrapped so
/// that struct columns come out as `json` (see [`json`]), and Describe
/// announcing those columns as `json`.
pub struct JsonParser {
    inner: Arc<Parser>,
}

#[async_trait]
impl QueryParser for JsonParser {
    type Statement = Statement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        match self.inner.parse_sql(client, sql, types).await? {
            Some((query, Some((statement, plan)))) if matches!(statement, SqlStatement::Query(_)) => {
                let plan = json::wrap_plan(plan).map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                Ok(Some((query, Some((statement, plan)))))
            }
            other => Ok(other),
        }
    }

    fn get_parameter_types(&self, stmt: &Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(&self, stmt: &Statement, column_format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        let fields = self.inner.get_result_schema(stmt, column_format)?;
        match stmt {
            (_, Some((_, plan))) => Ok(json::announce_json(&fields, &json::json_columns(plan))),
            _ => Ok(fields),
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

/// True when `sql` is a lone `ROLLBACK TO [SAVEPOINT] x`.
fn is_rollback_to_sql(sql: &str) -> bool {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser as SqlParser;
    if !sql.trim_start().get(..8).is_some_and(|w| w.eq_ignore_ascii_case("rollback")) {
        return false;
    }
    matches!(SqlParser::parse_sql(&PostgreSqlDialect {}, sql), Ok(s) if s.len() == 1 && is_rollback_to_savepoint(&s[0]))
}

/// `ROLLBACK TO SAVEPOINT` ends the failed state of a transaction. pgwire
/// derives the next state from the reply and has no reply meaning "back in
/// the transaction", so the state is set before the statement runs.
fn reopen_failed_transaction<C: ClientInfo>(client: &mut C) {
    if client.transaction_status() == TransactionStatus::Error {
        client.set_transaction_status(TransactionStatus::Transaction);
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryService {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if client.transaction_status() == TransactionStatus::Error && is_rollback_to_sql(&query.query) {
            reopen_failed_transaction(client);
        }
        self._on_query(client, query).await
    }

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
    type QueryParser = JsonParser;

    fn query_parser(&self) -> Arc<JsonParser> {
        self.parser.clone()
    }

    /// Streams the rows of an Execute without a row limit straight to the
    /// socket (pgwire's default collects them all first); Executes with a
    /// row limit, or on a portal already suspended, take pgwire's path.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let portal_name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(portal_name) {
            Some(Entry::Value(portal)) => portal,
            _ => return self._on_execute(client, message).await,
        };
        let statement = portal.statement.statement.1.as_ref().map(|(s, _)| s);
        if statement.is_some_and(is_rollback_to_savepoint) {
            reopen_failed_transaction(client);
        }
        let streamable = message.max_rows == 0
            && statement.is_some_and(|s| matches!(s, SqlStatement::Query(_)))
            && matches!(client.state(), PgWireConnectionState::ReadyForQuery)
            && matches!(*portal.state().lock().await, PortalExecutionState::Initial);
        if !streamable {
            return self._on_execute(client, message).await;
        }

        client.set_state(PgWireConnectionState::QueryInProgress);
        match ExtendedQueryHandler::do_query(self, client, portal.as_ref(), 0).await? {
            Response::Query(response) => {
                let command_tag = response.command_tag.clone();
                let mut rows = response.data_rows;
                let mut count = 0usize;
                // `feed` buffers; the codec writes to the socket whenever its
                // buffer passes its high-water mark, so rows leave as they come.
                while let Some(row) = rows.next().await {
                    let row: DataRow = row?;
                    client.feed(PgWireBackendMessage::DataRow(row)).await?;
                    count += 1;
                }
                let tag = Tag::new(&command_tag).with_rows(count);
                client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                *portal.state().lock().await = PortalExecutionState::Finished;
            }
            Response::EmptyQuery => {
                client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
            }
            Response::Execution(tag) => {
                client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
            }
            Response::Error(e) => return Err(PgWireError::UserError(e)),
            _ => {
                return Err(PgWireError::ApiError(
                    "unexpected response to a query in the extended protocol".into(),
                ));
            }
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
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
