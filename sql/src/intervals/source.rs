//! Interval sources: what the interval-algebra functions read.
//!
//! A source argument is a string naming, in this order of trial:
//! - a query: text starting with `SELECT`, `WITH`, `VALUES` or `(`;
//! - a table or view of the session (`peaks`, `windows`, `myschema.genes`);
//! - a BED-like file (plain, gzip or bgzip) under a directory the session's
//!   [`FileAccess`](crate::table_functions::access::FileAccess) allows, read
//!   as `read_bed` reads it.
//!
//! Its rows need `chrom`, `start` and `end` columns (0-based half-open; any
//! integer and string types), or `chrom` and `length` for a genome (each
//! chromosome is then the interval `[0, length)`); `strand` (`+`, `-`, other
//! or NULL: unstranded) is read when present. Every other column is carried
//! through by the functions that return source rows.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;

use crate::error::SqlError;
use crate::table_functions::{bed, source as files};
use crate::workers::Workers;

/// Where a source's rows come from.
#[derive(Debug, Clone)]
enum Input {
    /// A planned query (a table is `SELECT * FROM` it).
    Plan(Box<LogicalPlan>),
    /// A file, read when the query was planned.
    Rows(RecordBatch),
}

/// A resolved source argument.
#[derive(Debug, Clone)]
pub struct Source {
    /// The argument as the query gave it (for error messages).
    pub arg: String,
    /// The schema of its rows.
    pub schema: SchemaRef,
    input: Input,
}

/// Whether `text` is a query rather than a name.
fn is_query(text: &str) -> bool {
    let t = text.trim_start();
    let word: String = t.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_lowercase();
    t.starts_with('(') || matches!(word.as_str(), "select" | "with" | "values")
}

/// Whether `text` could name a table (`name` or `schema.name`, optionally quoted).
fn is_table_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').count() <= 3
        && text.split('.').all(|part| {
            let p = part.trim_matches('"');
            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Opens file `arg` for `function`, if the session may read it.
pub fn open_file(function: &'static str, session: &dyn Session, arg: &str) -> Result<Box<dyn std::io::BufRead + Send>, SqlError> {
    files::open_allowed(session, function, arg).map_err(|e| match e {
        SqlError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => SqlError::Argument {
            function,
            message: format!("source '{arg}' is neither a query, a table nor a readable file"),
        },
        other => other,
    })
}

/// Whether the session has a table or view `name`.
pub fn has_table(function: &'static str, session: &dyn Session, name: &str) -> bool {
    state_of(function, session).map(|s| table_exists(s, name)).unwrap_or(false)
}

fn state_of<'a>(function: &'static str, session: &'a dyn Session) -> Result<&'a SessionState, SqlError> {
    session.as_any().downcast_ref::<SessionState>().ok_or_else(|| SqlError::Argument {
        function,
        message: "interval sources need a DataFusion SessionState".into(),
    })
}

/// Plans `sql` in `state`. Table functions are called while the outer query is
/// planned, synchronously; planning a query only resolves table providers, which
/// for the catalogs omicsdb registers complete without waiting.
fn plan_sql(state: &SessionState, sql: &str) -> Result<LogicalPlan> {
    futures::executor::block_on(state.create_logical_plan(sql))
}

/// Whether the session has a table or view `name`.
fn table_exists(state: &SessionState, name: &str) -> bool {
    let reference = TableReference::from(name);
    match state.schema_for_ref(reference.clone()) {
        Ok(schema) => futures::executor::block_on(schema.table(reference.table())).ok().flatten().is_some(),
        Err(_) => false,
    }
}

impl Source {
    /// Resolves the source argument `arg` of `function` (see the module docs).
    pub fn resolve(function: &'static str, session: &dyn Session, arg: &str) -> Result<Self> {
        if let Some(s) = Self::query_or_table(function, session, arg)? {
            return Ok(s);
        }
        let reader = open_file(function, session, arg).map_err(|e| match e {
            // A bare name that is no table: say so rather than only that the file is not allowed.
            SqlError::AccessDenied { .. } if is_table_name(arg) && !arg.contains('.') => SqlError::Argument {
                function,
                message: format!("source '{arg}' is neither a query, a table nor a readable file ({e})"),
            },
            other => other,
        })?;
        let workers = Workers::new(session.config().target_partitions())?;
        Ok(Self::from_rows(arg, bed::read_bed_on(arg, reader, None, &workers)?))
    }

    /// `arg` as a query or a table of the session, or `None` when it is neither.
    pub fn query_or_table(function: &'static str, session: &dyn Session, arg: &str) -> Result<Option<Self>> {
        let state = state_of(function, session)?;
        if is_query(arg) {
            return Self::from_sql(function, session, arg, arg).map(Some);
        }
        if is_table_name(arg) && table_exists(state, arg) {
            return Self::from_sql(function, session, arg, &format!("SELECT * FROM {arg}")).map(Some);
        }
        Ok(None)
    }

    /// The rows of query `sql`, standing for argument `arg`.
    pub fn from_sql(function: &'static str, session: &dyn Session, arg: &str, sql: &str) -> Result<Self> {
        let state = state_of(function, session)?;
        let plan = plan_sql(state, sql)
            .map_err(|e| SqlError::Argument { function, message: format!("source '{arg}': {}", strip_prefixes(&e)) })?;
        Ok(Self { arg: arg.to_string(), schema: Arc::new(plan.schema().as_arrow().clone()), input: Input::Plan(Box::new(plan)) })
    }

    /// Rows read when the query was planned (a file).
    pub fn from_rows(arg: &str, rows: RecordBatch) -> Self {
        Self { arg: arg.to_string(), schema: rows.schema(), input: Input::Rows(rows) }
    }

    /// Resolves a string-literal argument at `index`.
    pub fn from_arg(function: &'static str, session: &dyn Session, args: &[Expr], index: usize, name: &str) -> Result<Self> {
        let text = files::string_arg(function, args, index, name)?;
        Self::resolve(function, session, &text)
    }

    /// Checks that the rows are intervals (or, with `genome`, also chromosome
    /// lengths), naming what is missing.
    pub fn check_columns(&self, function: &'static str, genome: bool) -> Result<(), SqlError> {
        let has = |n: &str| self.schema.column_with_name(n).is_some();
        let intervals = has("chrom") && has("start") && has("end");
        if intervals || (genome && has("chrom") && has("length")) {
            return Ok(());
        }
        let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let want = if genome { "chrom, start and end (or chrom and length)" } else { "chrom, start and end" };
        Err(SqlError::Argument { function, message: format!("source '{}' needs columns {want}; it has {}", self.arg, names.join(", ")) })
    }

    /// The physical plan that produces the rows.
    pub async fn physical(&self, session: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        match &self.input {
            Input::Plan(plan) => session.create_physical_plan(plan).await,
            Input::Rows(rows) => {
                Ok(MemorySourceConfig::try_new_exec(&[vec![rows.clone()]], Arc::clone(&self.schema), None)?)
            }
        }
    }
}

/// The message of a planning error without DataFusion's nested prefixes.
fn strip_prefixes(e: &DataFusionError) -> String {
    let text = e.to_string();
    let mut t = text.as_str();
    for p in ["Error during planning: ", "External error: ", "Schema error: "] {
        t = t.strip_prefix(p).unwrap_or(t);
    }
    t.to_string()
}

/// Strand of an interval as the algebra compares it.
pub type Strand = u8;

/// The interval columns of a batch of source rows, checked: no NULLs, start ≤ end.
#[derive(Debug)]
pub struct Intervals {
    /// Chromosome names.
    pub chrom: StringArray,
    /// Starts.
    pub start: Vec<i64>,
    /// Ends.
    pub end: Vec<i64>,
    /// `b'+'`, `b'-'` or `b'.'` (no strand).
    pub strand: Vec<Strand>,
}

impl Intervals {
    /// Reads `batch` (rows of `source`): `chrom`/`start`/`end`, or `chrom`/`length`
    /// as `[0, length)`; `strand` when present.
    pub fn new(function: &'static str, source: &str, batch: &RecordBatch) -> Result<Self> {
        let bad = |message: String| -> DataFusionError { SqlError::Argument { function, message: format!("source '{source}': {message}") }.into() };
        let col = |name: &str| batch.column_by_name(name);
        let chrom_col = col("chrom").ok_or_else(|| bad("no chrom column".into()))?;
        let chrom = cast(chrom_col, &DataType::Utf8)?.as_string::<i32>().clone();
        let ints = |c: &ArrayRef| -> Result<Int64Array> { Ok(cast(c, &DataType::Int64)?.as_primitive::<Int64Type>().clone()) };
        let (start, end) = match (col("start"), col("end"), col("length")) {
            (Some(s), Some(e), _) => (ints(s)?, ints(e)?),
            (_, _, Some(l)) => (Int64Array::from(vec![0; batch.num_rows()]), ints(l)?),
            _ => return Err(bad("needs columns chrom, start and end".into())),
        };
        let n = batch.num_rows();
        for i in 0..n {
            if chrom.is_null(i) || start.is_null(i) || end.is_null(i) {
                return Err(bad(format!("row {} has a NULL chrom, start or end", i + 1)));
            }
            if start.value(i) > end.value(i) || start.value(i) < 0 {
                return Err(bad(format!(
                    "row {} ({}:{}-{}) is not an interval (need 0 <= start <= end)",
                    i + 1,
                    chrom.value(i),
                    start.value(i),
                    end.value(i)
                )));
            }
        }
        let strand = match col("strand") {
            Some(s) => {
                let s = cast(s, &DataType::Utf8)?;
                let s = s.as_string::<i32>();
                (0..n)
                    .map(|i| match if s.is_null(i) { "" } else { s.value(i) } {
                        "+" => b'+',
                        "-" => b'-',
                        _ => b'.',
                    })
                    .collect()
            }
            None => vec![b'.'; n],
        };
        Ok(Self { chrom, start: start.values().to_vec(), end: end.values().to_vec(), strand })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.start.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }
}

/// `schema` with the `start` and `end` fields made Int64 (for functions that
/// compute new coordinates for source rows).
pub fn with_int64_coords(schema: &Schema) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "start" | "end" => Arc::new(f.as_ref().clone().with_data_type(DataType::Int64).with_nullable(false)),
            _ => Arc::clone(f),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_names_and_files_are_told_apart() {
        assert!(is_query("SELECT 1") && is_query("  with x as (select 1) select * from x") && is_query("(select 1)"));
        assert!(!is_query("peaks") && !is_query("selected_peaks.bed"));
        assert!(is_table_name("peaks") && is_table_name("public.peaks") && is_table_name("\"My_T\""));
        assert!(!is_table_name("data/peaks.bed") && !is_table_name("a b"));
    }
}
