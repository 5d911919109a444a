//! Region lookups without the planner: a parse cache and a direct executor
//! for `SELECT columns FROM <window set> WHERE <region> [LIMIT n]`.
//!
//! A client asking for one window or one region (`WHERE chrom = $1 AND start
//! >= $2 AND "end" <= $3`) spends nearly all of its time, on the normal path,
//! in DataFusion's SQL planning, optimizer and physical planner and in the
//! tasks of a scan, not in reading the few windows it gets back. Two things
//! remove that cost for the statements where it can be done exactly:
//!
//! * **Parse cache.** The statement and logical plan of a SQL text whose plan
//!   is a lookup (below) are kept, keyed by the text, and reused while the
//!   table it reads is still the registered one (a catalog change
//!   re-registers tables, which invalidates the entry). Only lookups are
//!   cached, so nothing else can go stale.
//! * **Direct execution.** A plan of the shape `[Limit] ← Projection of plain
//!   columns ← [Filter] ← TableScan` of a window-set table, whose filter (with
//!   the parameters bound) is made only of plain comparisons of `chrom`,
//!   `start` and `end` with literals, is answered by
//!   [`WindowTable::lookup`]: window arithmetic, the decoded-file cache and an
//!   exact re-check of each row. The result is encoded by the same arrow-pg
//!   encoder as the planned path, so clients see the same types and bytes.
//!
//! Everything else, and any lookup that could return more than
//! [`MAX_LOOKUP_ROWS`] windows (which then streams through the planned path),
//! is handled as before. A session in a failed transaction always takes the
//! normal path, which reports the error.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::ops::ControlFlow;

use datafusion::common::{ParamValues, ScalarValue};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, SetExpr, Statement as SqlStatement, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser as SqlParser;
use pgwire::api::stmt::QueryParser;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::{TableProvider, source_as_provider};
use datafusion::logical_expr::{Expr, FetchType, LogicalPlan, SkipType};
use datafusion::prelude::SessionContext;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use omicsdb_sql::window_table::{Lookup, WindowTable};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::QueryResponse;
use pgwire::api::ClientInfo;
use pgwire::error::PgWireResult;
use pgwire::messages::response::TransactionStatus;
use pgwire::types::format::FormatOptions;

use super::session::Statement;

/// Most windows a lookup answers directly; larger results take the planned,
/// streaming path so that they are never held whole.
pub const MAX_LOOKUP_ROWS: u64 = 65_536;

/// Most windows a lookup answers directly when it returns `seq` (1 kb or so
/// per row).
pub const MAX_LOOKUP_ROWS_WITH_SEQ: u64 = 4_096;

/// Most SQL texts kept by the parse cache (and by the list of texts known not
/// to be lookups); a full map is emptied and refilled.
const CACHE_ENTRIES: usize = 1024;

/// A lookup found in a logical plan.
struct Shape {
    table: Arc<dyn TableProvider>,
    table_name: datafusion::common::TableReference,
    projection: Vec<usize>,
    filters: Vec<Expr>,
    limit: Option<usize>,
}

/// The parse cache and the lookup executor, shared by all sessions.
pub struct FastPath {
    ctx: Arc<SessionContext>,
    plans: Mutex<HashMap<String, Statement>>,
    declined: Mutex<HashSet<String>>,
    served: Arc<AtomicU64>,
}

impl FastPath {
    /// An empty cache over `ctx`'s tables.
    pub fn new(ctx: Arc<SessionContext>) -> FastPath {
        FastPath { ctx, plans: Mutex::default(), declined: Mutex::default(), served: Arc::default() }
    }

    /// The count of statements answered directly (shared; it keeps counting).
    pub fn served(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.served)
    }

    /// The cached statement for `sql`, if it is a lookup whose table is
    /// still the one registered under its name.
    pub async fn cached<C: ClientInfo>(&self, client: &C, sql: &str) -> Option<Statement> {
        if client.transaction_status() == TransactionStatus::Error {
            return None;
        }
        let statement = self.plans.lock().unwrap_or_else(|p| p.into_inner()).get(sql).cloned()?;
        let shape = statement.1.as_ref().and_then(|(_, plan)| shape(plan))?;
        let current = self.ctx.table_provider(shape.table_name.clone()).await.ok()?;
        if same_table(&current, &shape.table) {
            Some(statement)
        } else {
            self.plans.lock().unwrap_or_else(|p| p.into_inner()).remove(sql);
            None
        }
    }

    /// Keeps `statement` for `sql` if it is a single-statement lookup;
    /// otherwise remembers that `sql` is not one.
    pub fn remember(&self, sql: &str, statement: &Statement) {
        let single = !sql.trim_end().trim_end_matches(';').contains(';');
        let lookup = statement.1.as_ref().is_some_and(|(_, plan)| shape(plan).is_some());
        if single && lookup {
            bounded_insert(&mut self.plans.lock().unwrap_or_else(|p| p.into_inner()), sql.to_string(), statement.clone());
        } else {
            let mut declined = self.declined.lock().unwrap_or_else(|p| p.into_inner());
            if declined.len() >= CACHE_ENTRIES {
                declined.clear();
            }
            declined.insert(sql.to_string());
        }
    }

    /// Whether `sql` is known not to be a lookup (so a simple query need
    /// not be planned twice).
    fn declined(&self, sql: &str) -> bool {
        self.declined.lock().unwrap_or_else(|p| p.into_inner()).contains(sql)
    }

    /// Answers a bound portal directly if its statement is a lookup;
    /// `None` sends it down the normal path.
    pub fn execute_portal<C: ClientInfo>(&self, client: &C, portal: &Portal<Statement>) -> Option<QueryResponse> {
        if client.transaction_status() == TransactionStatus::Error {
            return None;
        }
        let (_, Some((_, plan))) = &portal.statement.statement else { return None };
        let mut shape = shape(plan)?;
        if portal.parameter_len() > 0 {
            let types = plan.get_parameter_types().ok()?;
            let mut ordered: Vec<(u32, Option<DataType>)> = types
                .into_iter()
                .map(|(id, t)| Some((id.trim_start_matches('$').parse::<u32>().ok()?, t)))
                .collect::<Option<_>>()?;
            ordered.sort_by_key(|(i, _)| *i);
            let refs: Vec<Option<&DataType>> = ordered.iter().map(|(_, t)| t.as_ref()).collect();
            if refs.iter().any(Option::is_none) {
                return None;
            }
            let values = deserialize_parameters(portal, &refs).ok()?;
            // Placeholders can only be in the filters of a lookup: bind them
            // there (cheaper than rewriting and re-checking the whole plan).
            shape.filters = shape.filters.into_iter().map(|f| bind(f, &values)).collect::<Option<_>>()?;
        }
        self.execute_shape(client, shape, plan.schema().as_arrow(), &portal.result_column_format)
    }

    /// Answers a simple-protocol query directly if it is a lookup.
    ///
    /// Simple-protocol clients (psql, pgbench's default mode, scripts)
    /// write the values into the text, so each region is a new text. The
    /// literals of the WHERE clause are taken out as `$1, $2, ...`: the
    /// statement is planned (and cached) once per query *shape*, and each
    /// text binds its own values, as a prepared statement would. A literal
    /// that does not fit its parameter's type (`start = 1.5`, `start =
    /// '7'`) sends the query down the planned path, which applies SQL's
    /// own coercions.
    pub async fn execute_simple<C, P>(&self, client: &C, parser: &P, sql: &str) -> Option<QueryResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
        P: QueryParser<Statement = Statement>,
    {
        if client.transaction_status() == TransactionStatus::Error {
            return None;
        }
        let (template, literals) = template(sql)?;
        if self.declined(&template) {
            return None;
        }
        let statement = match self.cached(client, &template).await {
            Some(statement) => statement,
            None => parser.parse_sql(client, &template, &[]).await.ok()??,
        };
        let (_, Some((_, plan))) = &statement else { return None };
        let mut shape = shape(plan)?;
        if !literals.is_empty() {
            let types = plan.get_parameter_types().ok()?;
            let mut values = Vec::with_capacity(literals.len());
            for (i, literal) in literals.into_iter().enumerate() {
                let data_type = types.get(&format!("${}", i + 1))?.as_ref()?;
                values.push(literal.bind(data_type)?);
            }
            let values = ParamValues::List(values.into_iter().map(Into::into).collect());
            shape.filters = shape.filters.into_iter().map(|f| bind(f, &values)).collect::<Option<_>>()?;
        }
        self.execute_shape(client, shape, plan.schema().as_arrow(), &Format::UnifiedText)
    }

    fn execute_shape<C: ClientInfo>(&self, client: &C, shape: Shape, schema_out: &Schema, format: &Format) -> Option<QueryResponse> {
        let table = shape.table.downcast_ref::<WindowTable>()?;
        let schema = table.schema();
        let with_seq = shape.projection.iter().any(|&i| schema.field(i).name() == "seq");
        let max = if with_seq { MAX_LOOKUP_ROWS_WITH_SEQ } else { MAX_LOOKUP_ROWS };
        let batches = match table.lookup(&shape.projection, &shape.filters, shape.limit, max) {
            Ok(Lookup::Rows(batches)) => batches,
            // Declined, or an error the planned path will report in its own words.
            Ok(Lookup::NotExact | Lookup::TooLarge) | Err(_) => return None,
        };
        let response = respond(schema_out, batches, format, client).ok()?;
        self.served.fetch_add(1, Ordering::Relaxed);
        Some(response)
    }
}

/// Encodes `batches` as the rows of `schema` (the plan's output: names and
/// types as the planned path announces them).
fn respond<C: ClientInfo>(schema: &Schema, batches: Vec<RecordBatch>, format: &Format, client: &C) -> PgWireResult<QueryResponse> {
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(arrow_schema_to_pg_fields(schema, format, Some(options))?);
    let rows_fields = Arc::clone(&fields);
    let rows = batches.into_iter().flat_map(move |b| encode_recordbatch(Arc::clone(&rows_fields), b));
    Ok(QueryResponse::new(fields, futures::stream::iter(rows)))
}

/// A literal taken out of a simple query's WHERE clause.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Number(String),
    String(String),
}

impl Literal {
    /// The value for a parameter of `data_type`: numbers for integer
    /// parameters, strings for string parameters, nothing else.
    fn bind(self, data_type: &DataType) -> Option<ScalarValue> {
        match (self, data_type) {
            (Literal::Number(n), t) if t.is_integer() => ScalarValue::try_from_string(n, t).ok(),
            (Literal::String(s), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                ScalarValue::try_from_string(s, data_type).ok()
            }
            _ => None,
        }
    }
}

/// `sql` as a single SELECT whose WHERE-clause literals are replaced by
/// `$1, $2, ...` (in text order), and those literals; `None` for anything
/// that is not one SELECT or already has parameters.
fn template(sql: &str) -> Option<(String, Vec<Literal>)> {
    scan_template(sql).or_else(|| parse_template(sql))
}

/// [`template`] by a single pass over the text, for the plain statements
/// lookups are (a full parse costs as much as the lookup itself): words,
/// quoted names, strings, numbers and punctuation, with the literals between
/// the top-level WHERE and the next top-level clause taken out. Anything it
/// does not know (comments, `$`, `E'...'`-style prefixed strings, non-ASCII
/// outside quotes, a `;` before the end) gives `None` and the statement is
/// templated by the SQL parser instead. A template that is not valid SQL
/// simply fails to plan, and the query takes the planned path.
fn scan_template(sql: &str) -> Option<(String, Vec<Literal>)> {
    const CLAUSES: [&str; 9] = ["limit", "order", "group", "having", "offset", "fetch", "union", "window", "for"];
    let head = sql.trim_start().get(..7)?;
    if !head[..6].eq_ignore_ascii_case("select") || !head.as_bytes()[6].is_ascii_whitespace() {
        return None;
    }
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut literals = Vec::new();
    let (mut i, mut depth, mut in_where) = (0usize, 0i32, false);
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut take = |out: &mut String, literal: Literal| {
        literals.push(literal);
        out.push_str(&format!("${}", literals.len()));
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push(c as char);
                i += 1;
            }
            b'\'' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match b.get(j)? {
                        b'\'' if b.get(j + 1) == Some(&b'\'') => {
                            text.push('\'');
                            j += 2;
                        }
                        b'\'' => break,
                        _ => {
                            let ch = sql[j..].chars().next()?;
                            text.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                if in_where {
                    take(&mut out, Literal::String(text));
                } else {
                    out.push_str(&sql[i..=j]);
                }
                i = j + 1;
            }
            b'"' => {
                let mut j = i + 1;
                while !(b.get(j)? == &b'"' && b.get(j + 1) != Some(&b'"')) {
                    j += if b[j] == b'"' { 2 } else { 1 };
                }
                out.push_str(&sql[i..=j]);
                i = j + 1;
            }
            b'0'..=b'9' | b'.' if c != b'.' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                    j += 1;
                    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                        j += 1;
                    }
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                if b.get(j).is_some_and(|&n| ident(n) || n == b'\'' || n == b'"') {
                    return None;
                }
                if in_where {
                    take(&mut out, Literal::Number(sql[i..j].to_string()));
                } else {
                    out.push_str(&sql[i..j]);
                }
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i;
                while j < b.len() && ident(b[j]) {
                    j += 1;
                }
                if b.get(j).is_some_and(|&n| n == b'\'' || n == b'$') {
                    return None;
                }
                let word = &sql[i..j];
                if depth == 0 {
                    if word.eq_ignore_ascii_case("where") {
                        in_where = true;
                    } else if CLAUSES.iter().any(|k| word.eq_ignore_ascii_case(k)) {
                        in_where = false;
                    }
                }
                out.push_str(word);
                i = j;
            }
            b'(' | b')' => {
                depth += if c == b'(' { 1 } else { -1 };
                out.push(c as char);
                i += 1;
            }
            b';' => {
                if !sql[i + 1..].trim().is_empty() {
                    return None;
                }
                break;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => return None,
            b'/' if b.get(i + 1) == Some(&b'*') => return None,
            b'$' => return None,
            c if c.is_ascii() => {
                out.push(c as char);
                i += 1;
            }
            _ => return None,
        }
    }
    Some((out.trim_end().to_string(), literals))
}

/// [`template`] with the SQL parser: any statement it parses.
fn parse_template(sql: &str) -> Option<(String, Vec<Literal>)> {
    let mut statements = SqlParser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let SqlStatement::Query(query) = &mut statements[0] else { return None };
    let SetExpr::Select(select) = query.body.as_mut() else { return None };
    let mut literals = Vec::new();
    if let Some(selection) = select.selection.as_mut() {
        let flow = visit_expressions_mut(selection, |e| {
            if let SqlExpr::Value(v) = e {
                let literal = match &v.value {
                    Value::Number(n, _) => Literal::Number(n.clone()),
                    Value::SingleQuotedString(s) => Literal::String(s.clone()),
                    Value::Placeholder(_) => return ControlFlow::Break(()),
                    _ => return ControlFlow::Continue(()),
                };
                literals.push(literal);
                v.value = Value::Placeholder(format!("${}", literals.len()));
            }
            ControlFlow::Continue(())
        });
        if flow.is_break() {
            return None;
        }
    }
    Some((statements[0].to_string(), literals))
}

/// `expr` with its placeholders replaced by their values; `None` if one has no value.
fn bind(expr: Expr, values: &ParamValues) -> Option<Expr> {
    expr.transform(|e| match e {
        Expr::Placeholder(p) => {
            let value = values.get_placeholders_with_values(&p.id)?;
            Ok(Transformed::yes(Expr::Literal(value.value, None)))
        }
        e => Ok(Transformed::no(e)),
    })
    .map(|t| t.data)
    .ok()
}

fn bounded_insert(map: &mut HashMap<String, Statement>, key: String, value: Statement) {
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

fn same_table(a: &Arc<dyn TableProvider>, b: &Arc<dyn TableProvider>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// Matches `[Limit] ← Projection(columns) ← [Filter] ← TableScan(window set)`.
fn shape(plan: &LogicalPlan) -> Option<Shape> {
    let (plan, limit) = match plan {
        LogicalPlan::Limit(l) => {
            if !matches!(l.get_skip_type().ok()?, SkipType::Literal(0)) {
                return None;
            }
            match l.get_fetch_type().ok()? {
                FetchType::Literal(fetch) => (l.input.as_ref(), fetch),
                FetchType::UnsupportedExpr => return None,
            }
        }
        p => (p, None),
    };
    let LogicalPlan::Projection(projection) = plan else { return None };
    let (filters, input) = match projection.input.as_ref() {
        LogicalPlan::Filter(f) => (vec![f.predicate.clone()], f.input.as_ref()),
        p => (vec![], p),
    };
    let LogicalPlan::TableScan(scan) = input else { return None };
    if !scan.filters.is_empty() || scan.fetch.is_some() {
        return None;
    }
    let table = source_as_provider(&scan.source).ok()?;
    let window = table.downcast_ref::<WindowTable>()?;
    let schema = window.schema();
    let mut columns = Vec::with_capacity(projection.expr.len());
    for e in &projection.expr {
        let column = match e {
            Expr::Column(c) => c,
            Expr::Alias(a) => match a.expr.as_ref() {
                Expr::Column(c) => c,
                _ => return None,
            },
            _ => return None,
        };
        columns.push(schema.index_of(&column.name).ok()?);
    }
    Some(Shape { table, table_name: scan.table_name.clone(), projection: columns, filters, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn plan(ctx: &SessionContext, sql: &str) -> LogicalPlan {
        ctx.state().create_logical_plan(sql).await.unwrap()
    }

    #[tokio::test]
    async fn only_plain_selects_of_a_window_table_are_lookups() {
        let dir = tempfile_dir();
        let db = omicsdb::Database::open(dir.join("db")).unwrap();
        let path = toy_fasta(&dir);
        db.ingest_genome(&omicsdb::GenomeIngest {
            assembly: "toy".into(),
            path,
            width: 100,
            stride: 100,
            window_set: None,
            replace: false,
        })
        .unwrap();
        let ctx = db.context();
        for sql in [
            "SELECT chrom, start, \"end\" FROM windows WHERE chrom = 'chr1' AND start >= 100",
            "SELECT * FROM windows",
            "SELECT region AS r FROM windows WHERE start = 0 LIMIT 3",
        ] {
            assert!(shape(&plan(ctx, sql).await).is_some(), "{sql} is a lookup");
        }
        for sql in [
            "SELECT start + 1 FROM windows",
            "SELECT chrom FROM windows ORDER BY start",
            "SELECT count(*) FROM windows",
            "SELECT chrom FROM windows LIMIT 2 OFFSET 1",
            "SELECT name FROM window_sets",
            "SELECT w.chrom FROM windows w JOIN windows v ON w.start = v.start",
        ] {
            assert!(shape(&plan(ctx, sql).await).is_none(), "{sql} is not a lookup");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn simple_queries_are_templated_by_their_where_literals() {
        let sql = "SELECT chrom, start FROM windows WHERE chrom = '20' AND start >= 1000 LIMIT 5";
        for (t, lits) in [scan_template(sql).unwrap(), parse_template(sql).unwrap()] {
            assert_eq!(t, "SELECT chrom, start FROM windows WHERE chrom = $1 AND start >= $2 LIMIT 5");
            assert_eq!(lits, vec![Literal::String("20".into()), Literal::Number("1000".into())]);
        }
        let (t, lits) = scan_template("select \"end\" from w where chrom in ('a''b', 'c') and -5 <= start;").unwrap();
        assert_eq!(t, "select \"end\" from w where chrom in ($1, $2) and -$3 <= start");
        assert_eq!(lits, vec![Literal::String("a'b".into()), Literal::String("c".into()), Literal::Number("5".into())]);
        // Left to the parser: comments, prefixed strings, placeholders, two statements.
        for sql in ["SELECT 1 -- c", "SELECT * FROM w WHERE chrom = E'x'", "SELECT * FROM w WHERE start = $1", "SELECT 1; SELECT 2"] {
            assert!(scan_template(sql).is_none(), "{sql}");
        }
        assert!(template("SELECT 1; SELECT 2").is_none());
        assert!(template("SELECT * FROM windows WHERE start = $1").is_none());
        assert!(template("INSERT INTO t VALUES (1)").is_none());
        assert_eq!(Literal::Number("7".into()).bind(&DataType::Int64), Some(ScalarValue::Int64(Some(7))));
        assert_eq!(Literal::Number("1.5".into()).bind(&DataType::Int64), None);
        assert_eq!(Literal::String("7".into()).bind(&DataType::Int64), None);
        assert_eq!(Literal::Number("7".into()).bind(&DataType::Utf8), None);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("omicsdb-fastpath-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn toy_fasta(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("toy.fa");
        std::fs::write(&path, format!(">chr1\n{}\n", "ACGT".repeat(1000))).unwrap();
        path
    }
}
