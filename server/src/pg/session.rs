//! Query handling: datafusion-postgres' session service, wrapped so that
//! cancel and `statement_timeout` reach the streaming phase.
//!
//! A [`SessionService`] delegates parsing, planning, parameters, `SET`/`SHOW`,
//! transactions and Arrow→Postgres encoding to datafusion-postgres'
//! `DfSessionService`, then wraps each result's row stream in
//! [`GuardedRows`]. Rows are encoded batch by batch as DataFusion produces
//! them, so a large result starts at once and is never held whole: for the
//! extended protocol that needs our own `on_execute`, because pgwire's
//! default collects all rows of an Execute into a `Vec` before sending any.
//!
//! On top of datafusion-postgres' hooks the service adds the reader/admin
//! check (`roles.rs`, before every other hook), savepoints, the
//! `statement_timeout` limits (`settings.rs`) and the struct → `json` result
//! rewrite (`hooks.rs`, `json.rs`).
//!
//! Each connection gets its own [`SessionService`] over its own
//! `SessionContext` ([`QueryService::session`]): settings are per session,
//! never shared; the region-lookup cache ([`FastPath`]) is shared.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, Parser, QueryHook};
use futures::{Sink, SinkExt, StreamExt};
use datafusion::prelude::SessionContext;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DescribePortalResponse, DescribeResponse, DescribeStatementResponse, FieldInfo, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, DEFAULT_NAME, ErrorHandler, PgWireConnectionState, PgWireServerHandlers, Type,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::error::ErrorInfo;
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Execute, Parse, ParseComplete, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use tokio::time::Instant;

use super::auth::{SessionStartup, StartupSettings};
use super::fastpath::FastPath;
use super::cancel::{CancelRegistry, GuardedRows, SessionControl, control_of, statement_deadline};
use super::hooks::{JsonResultHook, SavepointHook, is_rollback_to_savepoint};
use super::json;
use super::roles::{FileAccessErrorHandler, RoleHook};
use super::settings::StatementTimeoutHook;

/// The prepared-statement type stored in each session's portal store.
pub type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;

/// What the query handlers of all sessions share: the served context, the
/// hooks and the region-lookup cache. [`QueryService::session`] makes each
/// connection's handler.
pub struct QueryService {
    base: Arc<SessionContext>,
    hooks: Vec<Arc<dyn QueryHook>>,
    fast: Arc<FastPath>,
}

impl QueryService {
    /// Sessions over `ctx`, with datafusion-postgres' default hooks
    /// (cursors, `SET`/`SHOW`, transactions) plus the role check, savepoints
    /// and `statement_timeout` first and the simple-protocol JSON rewrite
    /// last.
    pub fn new(ctx: Arc<SessionContext>) -> QueryService {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(RoleHook),
            Arc::new(SavepointHook),
            Arc::new(CursorStatementHook),
            Arc::new(StatementTimeoutHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
            Arc::new(JsonResultHook),
        ];
        let fast = Arc::new(FastPath::new(Arc::clone(&ctx)));
        QueryService { base: ctx, hooks, fast }
    }

    /// The handler of one new connection. Its session gets its own
    /// `SessionContext` made from the served context's state as it is now:
    /// catalogs, tables, functions and the runtime are the served context's
    /// (shared `Arc`s, so tables registered later are seen), the settings
    /// are the session's own, so `SET datafusion.*` (admins only) and `SET
    /// timezone` change this session and no other.
    pub fn session(&self) -> Arc<SessionService> {
        let ctx = Arc::new(SessionContext::new_with_state(self.base.state()));
        let inner = Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), self.hooks.clone()));
        let parser = Arc::new(JsonParser {
            inner: <DfSessionService as ExtendedQueryHandler>::query_parser(&inner),
            fast: Arc::clone(&self.fast),
        });
        Arc::new(SessionService { ctx, inner, parser, fast: Arc::clone(&self.fast) })
    }

    /// The count of statements answered as region lookups without planning
    /// (see [`FastPath`]).
    pub fn lookups_served(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.fast.served()
    }
}

/// The simple and extended query handler of one session (see
/// [`QueryService::session`]).
pub struct SessionService {
    /// The session's own context (the one `inner` plans with).
    ctx: Arc<SessionContext>,
    inner: Arc<DfSessionService>,
    parser: Arc<JsonParser>,
    fast: Arc<FastPath>,
}

/// datafusion-postgres' parser, with the plan of every query wrapped so
/// that struct columns come out as `json` (see [`json`]), Describe
/// announcing those columns as `json`, and region lookups served from the
/// parse cache (see [`FastPath`]).
pub struct JsonParser {
    inner: Arc<Parser>,
    fast: Arc<FastPath>,
}

#[async_trait]
impl QueryParser for JsonParser {
    type Statement = Statement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if let Some(statement) = self.fast.cached(client, sql).await {
            return Ok(Some(statement));
        }
        let rewritten = super::describe::rewrite_sql(sql);
        let parsed = match self.inner.parse_sql(client, rewritten.as_deref().unwrap_or(sql), types).await? {
            Some((query, Some((statement, plan)))) if matches!(statement, SqlStatement::Query(_)) => {
                let plan = json::wrap_plan(plan).map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                Some((query, Some((statement, plan))))
            }
            other => other,
        };
        if let Some(statement) = &parsed {
            self.fast.remember(sql, statement);
        }
        Ok(parsed)
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
    /// Starts watching a statement of the session `ctx` belongs to, and arms
    /// the [`omicsdb_udf::StatementInterrupt`] its model calls check: the
    /// statement's DataFrame is made from `ctx`'s config after this.
    fn start<C: ClientInfo + ?Sized>(client: &C, ctx: &SessionContext) -> Watch {
        let control = control_of(client);
        let since = control.as_ref().map_or(0, |c| c.epoch());
        let deadline = statement_deadline(client);
        if let Some(control) = &control {
            let interrupt = control.interrupt(since, deadline);
            ctx.state_ref().write().config_mut().options_mut().extensions.insert(interrupt);
        }
        Watch { control, since, deadline }
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
impl SimpleQueryHandler for SessionService {
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
        if may_be_lookup(query) {
            if let Some(response) = self.fast.execute_simple(client, self.parser.as_ref(), query).await {
                return Ok(vec![Response::Query(response)]);
            }
        }
        let watch = Watch::start(client, &self.ctx);
        let responses = watch
            .run(<DfSessionService as SimpleQueryHandler>::do_query(&self.inner, client, query))
            .await?;
        Ok(responses.into_iter().map(|r| watch.guard(r)).collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for SessionService {
    type Statement = Statement;
    type QueryParser = JsonParser;

    fn query_parser(&self) -> Arc<JsonParser> {
        self.parser.clone()
    }

    // Parse, Bind and Describe answer with `feed`, not pgwire's `send`: the
    // replies of one Parse/Bind/Describe/Execute/Sync round go out in one
    // socket write at Sync (or Flush), as PostgreSQL sends them, instead of
    // one write (and one client wake-up) per message.

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client.portal_store().put_empty_statement(&name),
        }
        client.feed(PgWireBackendMessage::ParseComplete(ParseComplete::new())).await?;
        Ok(())
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) => {
                if !message.parameters.is_empty() {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "ERROR".to_owned(),
                        "08P01".to_owned(),
                        format!(
                            "bind message supplies {} parameters, but prepared statement {statement_name:?} requires 0",
                            message.parameters.len()
                        ),
                    ))));
                }
                client.portal_store().put_empty_portal(portal_name);
            }
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
        client.feed(PgWireBackendMessage::BindComplete(BindComplete::new())).await?;
        Ok(())
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => match client.portal_store().get_statement(name) {
                Some(Entry::Value(stmt)) => {
                    let response = self.do_describe_statement(client, &stmt).await?;
                    feed_describe_response(client, &response).await
                }
                Some(Entry::Empty) => feed_describe_response(client, &DescribeStatementResponse::no_data()).await,
                None => Err(PgWireError::StatementNotFound(name.to_owned())),
            },
            TARGET_TYPE_BYTE_PORTAL => match client.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => {
                    let response = self.do_describe_portal(client, &portal).await?;
                    feed_describe_response(client, &response).await
                }
                Some(Entry::Empty) => feed_describe_response(client, &DescribePortalResponse::no_data()).await,
                None => Err(PgWireError::PortalNotFound(name.to_owned())),
            },
            other => Err(PgWireError::InvalidTargetType(other)),
        }
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
                // Flushed with the ReadyForQuery at Sync.
                client.feed(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                *portal.state().lock().await = PortalExecutionState::Finished;
            }
            Response::EmptyQuery => {
                client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
            }
            Response::Execution(tag) => {
                client.feed(PgWireBackendMessage::CommandComplete(tag.into())).await?;
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
        if let Some(response) = self.fast.execute_portal(client, portal) {
            return Ok(Response::Query(response));
        }
        let watch = Watch::start(client, &self.ctx);
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

/// `send_describe_response` of pgwire, with `feed` (see `on_parse`).
async fn feed_describe_response<C, R>(client: &mut C, response: &R) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    R: DescribeResponse,
{
    if let Some(types) = response.parameters() {
        let oids = types.iter().map(|t| t.oid()).collect();
        client.feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(oids))).await?;
    }
    if response.is_no_data() {
        client.feed(PgWireBackendMessage::NoData(NoData::new())).await?;
    } else {
        let fields = response.fields().iter().map(Into::into).collect();
        client.feed(PgWireBackendMessage::RowDescription(RowDescription::new(fields))).await?;
    }
    Ok(())
}

/// A cheap test on a simple query's text: could it be a region lookup (a
/// plain `SELECT ... FROM ... WHERE ...` of columns)? Texts that fail it skip
/// the lookup attempt, so other queries are not planned twice; the test only
/// saves work, [`FastPath`] decides exactly.
fn may_be_lookup(sql: &str) -> bool {
    let lower = sql.trim_start().to_ascii_lowercase();
    // A parenthesis is a function call or a subquery unless it opens an IN list.
    let calls = lower.match_indices('(').any(|(at, _)| !lower[..at].trim_end().ends_with(" in"));
    lower.starts_with("select")
        && !calls
        && ![" join ", " order ", " group ", " union ", " having ", " distinct ", " offset ", " into "]
            .iter()
            .any(|k| lower.contains(k))
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

/// What the handlers of all connections share.
pub struct Handlers {
    pub(crate) service: Arc<QueryService>,
    pub(crate) startup: Arc<StartupSettings>,
    pub(crate) registry: Arc<CancelRegistry>,
}

impl Handlers {
    /// The handlers of one new connection: its own session and startup
    /// handler.
    pub fn connection(&self) -> ConnectionHandlers {
        ConnectionHandlers {
            session: self.service.session(),
            startup: Arc::new(SessionStartup::for_connection(&self.startup)),
            registry: self.registry.clone(),
        }
    }
}

/// The pgwire handler set of one connection.
pub struct ConnectionHandlers {
    pub(crate) session: Arc<SessionService>,
    startup: Arc<SessionStartup>,
    registry: Arc<CancelRegistry>,
}

impl PgWireServerHandlers for ConnectionHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.session.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.session.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(FileAccessErrorHandler)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(RegistryCancelHandler {
            registry: self.registry.clone(),
        })
    }
}
