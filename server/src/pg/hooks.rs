//! Query hooks added to datafusion-postgres' defaults (cursor, `SET`/`SHOW`,
//! transactions).
//!
//! * [`SavepointHook`]: `SAVEPOINT`, `RELEASE [SAVEPOINT]` and `ROLLBACK TO
//!   [SAVEPOINT]` answer like PostgreSQL instead of failing with "Unsupported
//!   SQL statement". psycopg runs its type lookups (which SQLAlchemy's dialect
//!   does at connect) inside a savepoint when a transaction is open. Like
//!   datafusion-postgres' `BEGIN`/`COMMIT`, they create nothing: queries are
//!   read-only snapshots, so there is nothing to roll back.
//! * [`JsonResultHook`]: simple-protocol `SELECT`s, planned here so that
//!   struct columns are sent as `json` (see [`super::json`]); the extended
//!   protocol gets the same rewrite in [`super::session::JsonParser`].

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::TransactionStatus;
use pgwire::types::format::FormatOptions;

use super::json;

fn aborted() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        "25P02".to_owned(),
        "current transaction is aborted, commands ignored until end of transaction block".to_owned(),
    )))
}

fn no_transaction(what: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        "25P01".to_owned(),
        format!("{what} can only be used in transaction blocks"),
    )))
}

/// True for `ROLLBACK TO [SAVEPOINT] name`.
pub fn is_rollback_to_savepoint(statement: &Statement) -> bool {
    matches!(statement, Statement::Rollback { savepoint: Some(_), .. })
}

fn is_savepoint_statement(statement: &Statement) -> bool {
    matches!(statement, Statement::Savepoint { .. } | Statement::ReleaseSavepoint { .. })
        || is_rollback_to_savepoint(statement)
}

/// The reply to a savepoint statement, `None` for any other statement.
///
/// `ROLLBACK TO` leaves an aborted transaction usable again; the session
/// handler turns the transaction state from failed back to open before the
/// statement runs (see `session.rs`), since pgwire derives the state from
/// the reply type and has none for "back in the transaction".
fn savepoint_reply(statement: &Statement, status: TransactionStatus) -> Option<PgWireResult<Response>> {
    let tag = match statement {
        Statement::Savepoint { .. } => "SAVEPOINT",
        Statement::ReleaseSavepoint { .. } => "RELEASE",
        Statement::Rollback { savepoint: Some(_), .. } => "ROLLBACK",
        _ => return None,
    };
    Some(match status {
        TransactionStatus::Idle => Err(no_transaction(tag)),
        TransactionStatus::Error if tag != "ROLLBACK" => Err(aborted()),
        _ => Ok(Response::Execution(Tag::new(tag))),
    })
}

fn empty_plan() -> LogicalPlan {
    LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::empty()),
    })
}

/// Answers `SAVEPOINT`, `RELEASE` and `ROLLBACK TO` (see the module docs).
#[derive(Debug, Default)]
pub struct SavepointHook;

#[async_trait]
impl QueryHook for SavepointHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        savepoint_reply(statement, client.transaction_status())
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        is_savepoint_statement(statement).then(|| Ok(empty_plan()))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        savepoint_reply(statement, client.transaction_status())
    }
}

/// Runs simple-protocol queries (`SELECT`, `WITH`, `VALUES`, ...) with their
/// struct columns sent as `json`. It must come after the transaction hook,
/// which refuses statements in a failed transaction.
#[derive(Debug, Default)]
pub struct JsonResultHook;

#[async_trait]
impl QueryHook for JsonResultHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !matches!(statement, Statement::Query(_)) {
            return None;
        }
        Some(run_query(statement, session_context, client).await)
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        None
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

fn api_error(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// What datafusion-postgres' simple path does (plan, execute, encode as
/// text), with the JSON projection in between. `statement_timeout` and
/// cancellation are applied around the whole statement by the session
/// service.
async fn run_query(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    let mut statement = statement.clone();
    super::describe::rewrite_statement(&mut statement);
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await
        .map_err(api_error)?;
    let plan = json::wrap_plan(plan).map_err(api_error)?;
    let json_columns = json::json_columns(&plan);
    let df = ctx.execute_logical_plan(plan).await.map_err(api_error)?;
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let mut response = encode_dataframe(df, &Format::UnifiedText, Some(options)).await?;
    if json_columns.iter().any(|j| *j) {
        response.row_schema = Arc::new(json::announce_json(&response.row_schema, &json_columns));
    }
    Ok(Response::Query(response))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0)
    }

    fn tag(reply: Option<PgWireResult<Response>>) -> Result<String, String> {
        match reply {
            Some(Ok(Response::Execution(tag))) => Ok(format!("{tag:?}")),
            Some(Ok(_)) => Err("other response".into()),
            Some(Err(e)) => Err(ErrorInfo::from(e).code),
            None => Err("not handled".into()),
        }
    }

    #[test]
    fn savepoints_answer_in_transactions() {
        use TransactionStatus::*;
        let sp = parse("SAVEPOINT \"_pg3_1\"");
        let release = parse("RELEASE SAVEPOINT \"_pg3_1\"");
        let back = parse("ROLLBACK TO SAVEPOINT \"_pg3_1\"");
        assert!(tag(savepoint_reply(&sp, Transaction)).unwrap().contains("SAVEPOINT"));
        assert!(tag(savepoint_reply(&release, Transaction)).unwrap().contains("RELEASE"));
        assert!(tag(savepoint_reply(&back, Error)).unwrap().contains("ROLLBACK"));
        assert_eq!(tag(savepoint_reply(&sp, Error)), Err("25P02".to_owned()));
        assert_eq!(tag(savepoint_reply(&sp, Idle)), Err("25P01".to_owned()));
        assert!(is_rollback_to_savepoint(&back));
        assert!(!is_rollback_to_savepoint(&parse("ROLLBACK")));
        assert!(savepoint_reply(&parse("ROLLBACK"), Transaction).is_none());
        assert!(savepoint_reply(&parse("SELECT 1"), Transaction).is_none());
    }
}
