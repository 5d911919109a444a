//! Session settings: which variables a reader may `SET`, and
//! `statement_timeout` under the server's maximum.
//!
//! Settings are names, not text: `SET "DataFusion".execution.batch_size`
//! and `SET datafusion.execution.batch_size` are the same setting, because
//! DataFusion joins the identifier values with `.` and lower-cases them
//! (PostgreSQL's own setting names are case-insensitive too). So every check
//! here compares [`setting_name`], never the statement's text.
//!
//! `statement_timeout` is answered by [`StatementTimeoutHook`] rather than
//! datafusion-postgres' `SetShowHook`, which reads a value it cannot parse
//! (`'1h'`, `'-5s'`) as "no timeout". Every session starts at the server's
//! maximum ([`TimeoutPolicy`], set at authentication, see [`super::auth`]);
//! a reader may lower it but not set 0 (none) or more than the maximum; an
//! admin may set any value.

use std::time::Duration;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{ContextModifier, Expr, ObjectName, Set, Statement, UnaryOperator};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use super::roles::{INSUFFICIENT_PRIVILEGE, session_role};
use super::sqlstate::codes;
use omicsdb_storage::users::Role;

/// Session variables a reader may `SET` (names as [`setting_name`] gives
/// them). They change only the session: what psql, libpq, JDBC, psycopg,
/// SQLAlchemy and BI tools send when they connect, plus `statement_timeout`
/// (within the maximum). `timezone` is DataFusion's per-session
/// `datafusion.execution.time_zone`; the others are kept by the protocol
/// layer or accepted without effect.
pub const READER_SETTINGS: &[&str] = &[
    "statement_timeout",
    "application_name",
    "search_path",
    "datestyle",
    "intervalstyle",
    "extra_float_digits",
    "bytea_output",
    "client_encoding",
    "timezone",
    "client_min_messages",
    "standard_conforming_strings",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "transaction_isolation",
    "transaction_read_only",
];

/// Client metadata key datafusion-postgres keeps `statement_timeout` in
/// (milliseconds; absent = none).
pub const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// The largest `statement_timeout` PostgreSQL accepts (milliseconds).
pub const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// The setting a `SET` name means: identifier values joined with `.`,
/// lower-cased, quotes ignored. `None` for names that are not identifiers.
pub fn setting_name(name: &ObjectName) -> Option<String> {
    let parts: Option<Vec<String>> = name.0.iter().map(|p| p.as_ident().map(|i| i.value.to_lowercase())).collect();
    Some(parts?.join("."))
}

/// `Ok` when a reader may run `set`, else what was refused (`SET name ...`).
pub fn reader_may_set(set: &Set) -> Result<(), String> {
    let variable = |name: &ObjectName| match setting_name(name) {
        Some(n) if READER_SETTINGS.contains(&n.as_str()) => Ok(()),
        Some(n) => Err(format!("SET {n} (readers may set only the session variables {})", READER_SETTINGS.join(", "))),
        None => Err(format!("SET {name}")),
    };
    match set {
        Set::SingleAssignment { scope: Some(ContextModifier::Global), .. } => Err("SET GLOBAL".to_owned()),
        Set::SingleAssignment { hivevar: true, .. } => Err("SET HIVEVAR".to_owned()),
        Set::SingleAssignment { variable: name, .. } => variable(name),
        Set::ParenthesizedAssignments { variables, .. } => variables.iter().try_for_each(variable),
        Set::MultipleAssignments { assignments } => assignments.iter().try_for_each(|a| variable(&a.name)),
        // Session-only, and the engine keeps them per session.
        Set::SetTimeZone { .. } | Set::SetNames { .. } | Set::SetNamesDefault {} | Set::SetTransaction { .. } => Ok(()),
        Set::SetRole { .. } => Err("SET ROLE".to_owned()),
        Set::SetSessionAuthorization(_) => Err("SET SESSION AUTHORIZATION".to_owned()),
        other => Err(format!("{other}")),
    }
}

/// A session's statement-timeout limits, kept in its session extensions
/// from authentication on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutPolicy {
    /// The server's maximum statement timeout, and every session's initial
    /// `statement_timeout`.
    pub max: Duration,
    /// Whether the session may set more than `max`, or 0 (no timeout):
    /// admins may, readers may not.
    pub may_lift: bool,
}

impl TimeoutPolicy {
    /// The policy for a session of `role` on a server whose maximum is `max`.
    pub fn for_role(role: Role, max: Duration) -> TimeoutPolicy {
        TimeoutPolicy { max, may_lift: role == Role::Admin }
    }

    /// The timeout a statement gets when the session asked for `requested`
    /// (`None` or zero: none): a session that may not lift the maximum never
    /// gets more than it, whatever its metadata says.
    pub fn effective(&self, requested: Option<Duration>) -> Option<Duration> {
        let requested = requested.filter(|d| !d.is_zero());
        if self.may_lift {
            requested
        } else {
            Some(requested.map_or(self.max, |d| d.min(self.max)))
        }
    }
}

/// Sets a freshly authenticated session's `statement_timeout` to the
/// server's maximum and records its policy. This also overwrites a value the
/// client put in its startup packet.
pub fn start_session<C: ClientInfo + ?Sized>(client: &mut C, policy: TimeoutPolicy) {
    client.metadata_mut().insert(STATEMENT_TIMEOUT_KEY.to_owned(), policy.max.as_millis().to_string());
    client.session_extensions().insert(policy);
}

/// The `statement_timeout` the session asked for (`None`: none).
pub fn requested_timeout<C: ClientInfo + ?Sized>(client: &C) -> Option<Duration> {
    let ms = client.metadata().get(STATEMENT_TIMEOUT_KEY)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ms))
}

/// The timeout for a statement starting now in `client`'s session: what it
/// asked for, held to its [`TimeoutPolicy`] when it has one.
pub fn statement_timeout<C: ClientInfo + ?Sized>(client: &C) -> Option<Duration> {
    let requested = requested_timeout(client);
    match client.session_extensions().get::<TimeoutPolicy>() {
        Some(policy) => policy.effective(requested),
        None => requested.filter(|d| !d.is_zero()),
    }
}

/// A `statement_timeout` value: what `SET` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutValue {
    /// `DEFAULT`: back to the server's maximum.
    Default,
    /// A duration; zero means no timeout.
    Duration(Duration),
}

fn invalid_value(text: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        codes::INVALID_PARAMETER_VALUE.to_owned(),
        format!(
            "invalid value for parameter \"statement_timeout\": \"{text}\" (a duration from 0 to {MAX_TIMEOUT_MS}ms; \
             valid units are \"us\", \"ms\", \"s\", \"min\", \"h\" and \"d\", milliseconds without one)"
        ),
    )))
}

/// Parses a `statement_timeout` value as PostgreSQL does: a non-negative
/// number, optionally fractional, with an optional unit (`us`, `ms`, `s`,
/// `min`, `h`, `d`; milliseconds without one), at most [`MAX_TIMEOUT_MS`].
pub fn parse_timeout(text: &str) -> Result<Duration, PgWireError> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid_value(text))?;
    let ms_per_unit = match unit.trim_start() {
        "us" => 0.001,
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid_value(text)),
    };
    let ms = (number * ms_per_unit).round();
    if !ms.is_finite() || ms > MAX_TIMEOUT_MS as f64 {
        return Err(invalid_value(text));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// The value of `SET statement_timeout = <value>`.
pub fn timeout_value(values: &[Expr]) -> Result<TimeoutValue, PgWireError> {
    let [value] = values else {
        return Err(invalid_value(&values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")));
    };
    let text = match value {
        Expr::Identifier(ident) if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("default") => {
            return Ok(TimeoutValue::Default);
        }
        Expr::Value(v) => match &v.value {
            datafusion::sql::sqlparser::ast::Value::Number(n, _) => n.clone(),
            other => other.clone().into_string().ok_or_else(|| invalid_value(&other.to_string()))?,
        },
        Expr::UnaryOp { op: UnaryOperator::Minus, .. } => return Err(invalid_value(&value.to_string())),
        other => return Err(invalid_value(&other.to_string())),
    };
    parse_timeout(&text).map(TimeoutValue::Duration)
}

/// The `statement_timeout` assignment in `statement`, if it is one: its
/// values. `SET`, `SET SESSION` and `SET LOCAL` (which, with no real
/// transactions, lasts for the session) all count.
fn timeout_assignment(statement: &Statement) -> Option<&[Expr]> {
    match statement {
        Statement::Set(Set::SingleAssignment { scope, hivevar: false, variable, values })
            if !matches!(scope, Some(ContextModifier::Global))
                && setting_name(variable).as_deref() == Some("statement_timeout") =>
        {
            Some(values)
        }
        _ => None,
    }
}

fn over_the_maximum<C: ClientInfo + ?Sized>(client: &C, asked: &str, max: Duration) -> PgWireError {
    let user = client.metadata().get("user").map(String::as_str).unwrap_or("");
    let role = session_role(client).map_or("none", Role::as_str);
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        INSUFFICIENT_PRIVILEGE.to_owned(),
        format!(
            "permission denied: statement_timeout {asked} is above the server's maximum of {}ms, \
             which only an admin may lift, and user \"{user}\" has role {role}",
            max.as_millis()
        ),
    )))
}

/// What `SET statement_timeout = values` does to the session: `Ok(ms)` to
/// store (`None`: no timeout), or the error to send.
fn checked_timeout<C: ClientInfo + ?Sized>(client: &C, values: &[Expr]) -> PgWireResult<Option<Duration>> {
    let policy = client.session_extensions().get::<TimeoutPolicy>().map(|p| *p);
    let wanted = match timeout_value(values)? {
        TimeoutValue::Default => return Ok(policy.map(|p| p.max)),
        TimeoutValue::Duration(d) => d,
    };
    match policy {
        Some(policy) if !policy.may_lift && (wanted.is_zero() || wanted > policy.max) => {
            let asked = if wanted.is_zero() { "0 (none)".to_owned() } else { format!("{}ms", wanted.as_millis()) };
            Err(over_the_maximum(client, &asked, policy.max))
        }
        _ => Ok(Some(wanted).filter(|d| !d.is_zero())),
    }
}

fn store_timeout<C: ClientInfo + ?Sized>(client: &mut C, timeout: Option<Duration>) {
    match timeout {
        Some(d) => client.metadata_mut().insert(STATEMENT_TIMEOUT_KEY.to_owned(), d.as_millis().to_string()),
        None => client.metadata_mut().remove(STATEMENT_TIMEOUT_KEY),
    };
}

/// Answers `SET statement_timeout` (see the module docs). It must come
/// after the role check and before datafusion-postgres' `SetShowHook`.
#[derive(Debug, Default)]
pub struct StatementTimeoutHook;

#[async_trait]
impl QueryHook for StatementTimeoutHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let values = timeout_assignment(statement)?;
        Some(checked_timeout(&*client, values).map(|timeout| {
            store_timeout(client, timeout);
            Response::Execution(Tag::new("SET"))
        }))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let values = timeout_assignment(statement)?;
        // Refuse a bad value at Parse already; it is applied at Execute.
        Some(checked_timeout(client, values).map(|_| {
            LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: false, schema: std::sync::Arc::new(DFSchema::empty()) })
        }))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.handle_simple_query(statement, _session_context, client).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn values(sql: &str) -> Vec<Expr> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0);
        timeout_assignment(&statement).unwrap_or_else(|| panic!("{sql} sets statement_timeout")).to_vec()
    }

    #[test]
    fn timeouts_parse_in_postgres_units() {
        for (sql, ms) in [
            ("SET statement_timeout = 0", 0),
            ("SET statement_timeout = '0'", 0),
            ("SET statement_timeout = 1500", 1500),
            ("SET statement_timeout TO '1500'", 1500),
            ("SET statement_timeout = '250ms'", 250),
            ("SET statement_timeout = '2s'", 2000),
            ("SET statement_timeout = '1.5s'", 1500),
            ("SET statement_timeout = '2 min'", 120_000),
            ("SET statement_timeout = '1h'", 3_600_000),
            ("SET statement_timeout = '1d'", 86_400_000),
            ("SET statement_timeout = '2500us'", 3),
            ("SET \"Statement_Timeout\" = '5s'", 5000),
            ("SET SESSION statement_timeout = '5s'", 5000),
            ("SET LOCAL statement_timeout = '5s'", 5000),
        ] {
            assert_eq!(
                timeout_value(&values(sql)).unwrap(),
                TimeoutValue::Duration(Duration::from_millis(ms)),
                "{sql}"
            );
        }
        assert_eq!(timeout_value(&values("SET statement_timeout TO DEFAULT")).unwrap(), TimeoutValue::Default);
    }

    #[test]
    fn bad_timeouts_are_22023() {
        for sql in [
            "SET statement_timeout = 'soon'",
            "SET statement_timeout = '-5s'",
            "SET statement_timeout = -5",
            "SET statement_timeout = '5 parsecs'",
            "SET statement_timeout = '5S'",
            "SET statement_timeout = '30d'",
            "SET statement_timeout = ''",
            "SET statement_timeout = '1e400'",
            "SET statement_timeout = off",
        ] {
            let err = timeout_value(&values(sql)).expect_err(sql);
            assert_eq!(ErrorInfo::from(err).code, "22023", "{sql}");
        }
    }

    #[test]
    fn readers_stay_under_the_maximum_admins_may_lift_it() {
        let max = Duration::from_secs(300);
        let reader = TimeoutPolicy::for_role(Role::Reader, max);
        let admin = TimeoutPolicy::for_role(Role::Admin, max);
        assert_eq!(reader.effective(None), Some(max));
        assert_eq!(reader.effective(Some(Duration::ZERO)), Some(max));
        assert_eq!(reader.effective(Some(Duration::from_secs(3600))), Some(max));
        assert_eq!(reader.effective(Some(Duration::from_secs(2))), Some(Duration::from_secs(2)));
        assert_eq!(admin.effective(None), None);
        assert_eq!(admin.effective(Some(Duration::ZERO)), None);
        assert_eq!(admin.effective(Some(Duration::from_secs(3600))), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn names_compare_by_value_not_text() {
        let name = |sql: &str| match Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0) {
            Statement::Set(Set::SingleAssignment { variable, .. }) => setting_name(&variable),
            other => panic!("{other}"),
        };
        assert_eq!(name("SET \"datafusion.runtime.memory_limit\" = '1K'").as_deref(), Some("datafusion.runtime.memory_limit"));
        assert_eq!(name("SET \"DataFusion\".Runtime.\"MEMORY_LIMIT\" = '1K'").as_deref(), Some("datafusion.runtime.memory_limit"));
        assert_eq!(name("SET Application_Name = 'x'").as_deref(), Some("application_name"));
    }
}
