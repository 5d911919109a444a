//! Roles: what a `reader` may run; everything else is `admin`-only.
//!
//! A session's role is set when it authenticates (see [`super::auth`]): the
//! user's role from the catalog with SCRAM, `admin` for trust sessions
//! (`ServeConfig::trust`, loopback only). [`RoleHook`] runs before every
//! other query hook, in the simple protocol for each statement and in the
//! extended protocol at Parse (and again at Execute), and refuses what a
//! reader may not do with SQLSTATE 42501, naming the statement and the role.
//!
//! A reader may run: `SELECT`/`WITH`/`VALUES` queries (without `SELECT
//! INTO`), `EXPLAIN [ANALYZE]` of such a query, `DESCRIBE`, `SHOW`, `SET` of
//! the session variables in [`READER_SETTINGS`](super::settings::READER_SETTINGS)
//! (compared by identifier value, case-folded: never `datafusion.*`, `SET
//! ROLE` or `SET SESSION AUTHORIZATION`; `statement_timeout` only within the
//! server's maximum, see [`super::settings`]),
//! `BEGIN`/`COMMIT`/`ROLLBACK`, savepoints, and cursors
//! (`DECLARE`/`FETCH`/`CLOSE`). Anywhere in such a statement, calls of the
//! table functions that read files on the server ([`FILE_FUNCTIONS`]) are
//! refused too. The check is an allow-list on the parsed statement: a
//! statement kind not listed (COPY, INSERT, CREATE, DROP, PREPARE, ...) is
//! admin-only.

use std::ops::ControlFlow;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Select, Statement, TableFactor, Visit, Visitor};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use omicsdb_storage::users::Role;
use datafusion::error::DataFusionError;
use omicsdb_sql::SqlError;
use pgwire::api::results::Response;
use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use super::settings::reader_may_set;
use super::sqlstate::SqlStateErrorHandler;

/// SQLSTATE insufficient_privilege.
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// Table functions that read files on the server: admin-only (and, for
/// every role, confined to the directories of the served context's
/// `FileAccess` policy).
pub const FILE_FUNCTIONS: [&str; 3] = ["read_bed", "read_fasta", "closest"];

/// The role of an authenticated session, kept in its session extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRole(pub Role);

/// The session's role; `None` before authentication.
pub fn session_role<C: ClientInfo + ?Sized>(client: &C) -> Option<Role> {
    client.session_extensions().get::<SessionRole>().map(|r| r.0)
}

/// The admin-only part of `statement` (e.g. `COPY`, `CREATE TABLE`,
/// `read_bed()`), or `None` when a reader may run it.
pub fn admin_only_part(statement: &Statement) -> Option<String> {
    match statement.visit(&mut ReaderCheck) {
        ControlFlow::Break(what) => Some(what),
        ControlFlow::Continue(()) => None,
    }
}

/// Walks a statement, stopping at the first thing a reader may not run.
struct ReaderCheck;

impl Visitor for ReaderCheck {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        match reader_statement(statement) {
            Ok(()) => ControlFlow::Continue(()),
            Err(what) => ControlFlow::Break(what),
        }
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<String> {
        if select.into.is_some() {
            return ControlFlow::Break("SELECT INTO".to_owned());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table: &TableFactor) -> ControlFlow<String> {
        match table {
            TableFactor::Table { name, args: Some(_), .. } | TableFactor::Function { name, .. } => file_function(name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<String> {
        match expr {
            Expr::Function(f) => file_function(&f.name),
            _ => ControlFlow::Continue(()),
        }
    }
}

fn file_function(name: &ObjectName) -> ControlFlow<String> {
    let last = name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase());
    match last {
        Some(f) if FILE_FUNCTIONS.contains(&f.as_str()) => {
            ControlFlow::Break(format!("{f}() (it reads files on the server)"))
        }
        _ => ControlFlow::Continue(()),
    }
}

/// `Ok` for the statement kinds a reader may run (their parts are checked by
/// the walk), `Err(name)` otherwise.
fn reader_statement(statement: &Statement) -> Result<(), String> {
    match statement {
        Statement::Query(_)
        | Statement::Explain { .. }
        | Statement::ExplainTable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCharset { .. }
        | Statement::ShowObjects { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { into: None, .. }
        | Statement::Close { .. } => Ok(()),
        Statement::Set(set) => reader_may_set(set),
        other => Err(statement_name(other)),
    }
}

/// The statement's leading keywords: `COPY`, `INSERT`, `CREATE TABLE`,
/// `DROP VIEW`, `CREATE OR REPLACE VIEW`, ...
pub fn statement_name(statement: &Statement) -> String {
    const MODIFIERS: [&str; 9] =
        ["OR", "REPLACE", "TEMPORARY", "TEMP", "UNLOGGED", "EXTERNAL", "MATERIALIZED", "UNIQUE", "GLOBAL"];
    let text = statement.to_string();
    let mut words = text
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphabetic()));
    let mut name = words.next().unwrap_or_else(|| "statement".to_owned());
    if matches!(name.as_str(), "CREATE" | "DROP" | "ALTER") {
        for word in words {
            name.push(' ');
            name.push_str(&word);
            if !MODIFIERS.contains(&word.as_str()) {
                break;
            }
        }
    }
    name
}

/// Refuses `statement` with 42501 unless the session may run it.
pub fn check_statement<C: ClientInfo + ?Sized>(client: &C, statement: &Statement) -> PgWireResult<()> {
    let role = session_role(client);
    if role == Some(Role::Admin) {
        return Ok(());
    }
    let Some(what) = admin_only_part(statement) else {
        return Ok(());
    };
    let user = client.metadata().get("user").map(String::as_str).unwrap_or("");
    let role = role.map_or("none", Role::as_str);
    Err(PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        INSUFFICIENT_PRIVILEGE.to_owned(),
        format!("permission denied: {what} is admin-only, and user \"{user}\" has role {role}"),
    ))))
}

/// Refuses what the session's role may not run (see the module docs). It
/// must be the first hook: a hook that answers a statement ends the search.
#[derive(Debug, Default)]
pub struct RoleHook;

#[async_trait]
impl QueryHook for RoleHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        check_statement(&*client, statement).err().map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        check_statement(client, statement).err().map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        check_statement(&*client, statement).err().map(Err)
    }
}

/// The refusal of a file table function to read outside the directories
/// of the session's `FileAccess` policy, if `error` is one.
fn file_access_denied<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a SqlError> {
    if let Some(e @ SqlError::AccessDenied { .. }) = error.downcast_ref::<SqlError>() {
        return Some(e);
    }
    if let Some(df) = error.downcast_ref::<DataFusionError>() {
        let inner: Option<&(dyn std::error::Error + 'static)> = match df {
            DataFusionError::External(e) => Some(e.as_ref()),
            DataFusionError::Context(_, e) | DataFusionError::Diagnostic(_, e) => Some(e.as_ref()),
            DataFusionError::Shared(e) => Some(e.as_ref()),
            DataFusionError::Collection(errors) => errors.first().map(|e| e as &(dyn std::error::Error + 'static)),
            _ => None,
        };
        if let Some(found) = inner.and_then(file_access_denied) {
            return Some(found);
        }
    }
    error.source().and_then(file_access_denied)
}

/// Sends a file table function's `FileAccess` refusal as 42501 (it is a
/// permission error: the file lies outside the allowed directories), and
/// every other error as [`SqlStateErrorHandler`] classifies it.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileAccessErrorHandler;

impl ErrorHandler for FileAccessErrorHandler {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        match access_denied_info(error) {
            Some(info) => *error = PgWireError::UserError(Box::new(info)),
            None => SqlStateErrorHandler.on_error(client, error),
        }
    }
}

/// The 42501 error to send for a `FileAccess` refusal; `None` for any other
/// error.
pub fn access_denied_info(error: &PgWireError) -> Option<ErrorInfo> {
    let PgWireError::ApiError(inner) = error else { return None };
    let denied = file_access_denied(inner.as_ref())?;
    Some(ErrorInfo::new("ERROR".to_owned(), INSUFFICIENT_PRIVILEGE.to_owned(), denied.to_string()))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn refused(sql: &str) -> Option<String> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .remove(0);
        admin_only_part(&statement)
    }

    #[test]
    fn readers_may_read() {
        for sql in [
            "SELECT * FROM windows WHERE chrom = 'chr1'",
            "WITH w AS (SELECT 1 AS x) SELECT x FROM w",
            "VALUES (1), (2)",
            "SELECT parse_region('chr1:1-10'), generate_series(1, 3)",
            "SELECT * FROM generate_series(1, 3)",
            "SELECT * FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
            "EXPLAIN ANALYZE SELECT count(*) FROM windows",
            "SHOW statement_timeout",
            "SHOW ALL",
            "SET statement_timeout = '5s'",
            "SET search_path TO public",
            "SET TIME ZONE 'UTC'",
            "BEGIN",
            "START TRANSACTION READ ONLY",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT s1",
            "RELEASE SAVEPOINT s1",
            "ROLLBACK TO SAVEPOINT s1",
            "DECLARE c CURSOR FOR SELECT * FROM windows",
            "FETCH 10 FROM c",
            "CLOSE c",
        ] {
            assert_eq!(refused(sql), None, "{sql}");
        }
    }

    #[test]
    fn writes_and_server_files_are_admin_only() {
        for (sql, what) in [
            ("COPY windows TO '/tmp/x.csv'", "COPY"),
            ("COPY windows FROM '/tmp/x.csv'", "COPY"),
            ("COPY (SELECT 1) TO STDOUT", "COPY"),
            ("CREATE TABLE t (a int)", "CREATE TABLE"),
            ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE OR REPLACE VIEW"),
            ("DROP TABLE windows", "DROP TABLE"),
            ("ALTER TABLE windows ADD COLUMN x int", "ALTER TABLE"),
            ("INSERT INTO windows VALUES (1)", "INSERT"),
            ("UPDATE windows SET score = 1", "UPDATE"),
            ("DELETE FROM windows", "DELETE"),
            ("TRUNCATE windows", "TRUNCATE"),
            ("PREPARE p AS INSERT INTO windows VALUES (1)", "PREPARE"),
            ("SELECT * FROM read_bed('/etc/passwd')", "read_bed()"),
            ("SELECT * FROM READ_FASTA('/x.fa')", "read_fasta()"),
            ("SELECT * FROM public.closest('a.bed', 'b.bed')", "closest()"),
            ("SELECT count(*) FROM windows w JOIN read_bed('/x.bed') b ON w.chrom = b.chrom", "read_bed()"),
            ("SELECT * FROM windows WHERE chrom IN (SELECT chrom FROM read_bed('/x.bed'))", "read_bed()"),
            ("WITH b AS (SELECT * FROM read_bed('/x.bed')) SELECT * FROM b", "read_bed()"),
            ("EXPLAIN SELECT * FROM read_bed('/x.bed')", "read_bed()"),
            ("EXPLAIN ANALYZE INSERT INTO windows VALUES (1)", "INSERT"),
            ("DECLARE c CURSOR FOR SELECT * FROM read_fasta('/x.fa')", "read_fasta()"),
            ("SELECT * INTO t2 FROM windows", "SELECT INTO"),
            ("SET datafusion.execution.batch_size = 1", "SET datafusion.execution.batch_size"),
            ("SET ROLE admin", "SET ROLE"),
            ("SET SESSION AUTHORIZATION admin", "SET SESSION AUTHORIZATION"),
        ] {
            let got = refused(sql).unwrap_or_else(|| panic!("{sql} must be refused to readers"));
            assert!(got.starts_with(what), "{sql}: {got}");
        }
    }

    #[test]
    fn file_access_refusals_are_42501_however_wrapped() {
        use omicsdb_sql::table_functions::access::FileAccess;
        let denied = || FileAccess::none().resolve("read_bed", "/etc/passwd").unwrap_err();
        let wrapped: Vec<DataFusionError> = vec![
            denied().into(),
            DataFusionError::Context("planning".into(), Box::new(denied().into())),
            DataFusionError::Shared(std::sync::Arc::new(denied().into())),
        ];
        for df in wrapped {
            let info = access_denied_info(&PgWireError::ApiError(Box::new(df))).expect("a FileAccess refusal");
            assert_eq!(info.code, "42501", "{}", info.message);
            assert!(info.message.contains("/etc/passwd") && info.message.contains("--allow-dir"), "{}", info.message);
        }
        let other = PgWireError::ApiError(Box::new(DataFusionError::Plan("table 'x' not found".into())));
        assert!(access_denied_info(&other).is_none());
    }

    #[test]
    fn readers_may_set_only_session_variables_in_any_spelling() {
        for (sql, what) in [
            // Quoting keeps the text but not the meaning: DataFusion joins the
            // identifier values and lower-cases them.
            ("SET \"datafusion.runtime.memory_limit\" = '1K'", "SET datafusion.runtime.memory_limit"),
            ("SET \"datafusion\".runtime.memory_limit = '1K'", "SET datafusion.runtime.memory_limit"),
            ("SET \"DATAFUSION.EXECUTION.BATCH_SIZE\" = 1", "SET datafusion.execution.batch_size"),
            ("SET DataFusion.Execution.Batch_Size = 1", "SET datafusion.execution.batch_size"),
            ("SET SESSION \"datafusion.execution.batch_size\" TO 1", "SET datafusion.execution.batch_size"),
            ("SET LOCAL datafusion.execution.batch_size TO 1", "SET datafusion.execution.batch_size"),
            ("SET work_mem = '1GB'", "SET work_mem"),
            ("SET \"time\".zone = 'UTC'", "SET time.zone"),
            ("SET GLOBAL statement_timeout = 0", "SET GLOBAL"),
        ] {
            let got = refused(sql).unwrap_or_else(|| panic!("{sql} must be refused to readers"));
            assert!(got.starts_with(what), "{sql}: {got}");
        }
        for sql in [
            "SET application_name = 'notebook'",
            "SET \"application_name\" TO 'x'",
            "SET Application_Name = 'x'",
            "SET SESSION search_path TO public",
            "SET extra_float_digits = 3",
            "SET DateStyle = 'ISO, MDY'",
            "SET IntervalStyle = 'postgres'",
            "SET bytea_output = 'hex'",
            "SET client_encoding = 'UTF8'",
            "SET NAMES 'UTF8'",
            "SET TIME ZONE 'UTC'",
            "SET timezone = 'UTC'",
            "SET statement_timeout = '5s'",
            "SET \"Statement_Timeout\" = 1000",
            "SET client_min_messages = warning",
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET TRANSACTION READ ONLY",
        ] {
            assert_eq!(refused(sql), None, "{sql}");
        }
    }
}
