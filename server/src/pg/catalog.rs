//! pg_catalog, information_schema and the functions clients call at connect.
//!
//! datafusion-pg-catalog provides pg_catalog tables (pg_class, pg_namespace,
//! pg_attribute, pg_type, pg_proc, ...) computed from the live DataFusion
//! catalog, plus functions such as `current_schema()`, `pg_get_userbyid()`,
//! `has_table_privilege()`; psql's `\d` family runs on them. What it lacks is
//! added here:
//!
//! * a PostgreSQL-shaped `version()`: DataFusion's returns "Apache DataFusion
//!   ...", which SQLAlchemy's dialect cannot parse ("Could not determine
//!   version from string");
//! * what psql's `\df` calls: `pg_function_is_visible`,
//!   `pg_get_function_result`, `pg_get_function_arguments` (and
//!   `pg_get_function_identity_arguments`), rendered from pg_proc/pg_type the
//!   way PostgreSQL does (`SETOF record`, `OUT word text`, `VARIADIC "any"`);
//! * `to_regtype(text)`, which psycopg's type lookup (run by SQLAlchemy at
//!   connect) filters pg_type with;
//! * omicsdb's own functions in pg_proc: datafusion-pg-catalog's pg_proc is a
//!   fixed copy of PostgreSQL's, so `\df` would list nothing. The functions
//!   the context has beyond DataFusion's built-ins (scalar, aggregate, window
//!   and table functions: `parse_region`, `predict_omics`, `read_bed`, ...)
//!   are appended in schema `public` when the server starts. Their argument
//!   and result types are not declared in a form pg_proc can show (they check
//!   their arguments themselves), so those two columns stay empty for them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Int32Builder, Int64Array, RecordBatch, StringArray,
    StringBuilder, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use super::error::ServerError;

/// PostgreSQL major.minor the server reports (`server_version`, `version()`).
/// psql 15+ and drivers pick their catalog queries from it.
pub const PG_COMPAT_VERSION: &str = "16.6";

/// First pg_proc oid given to omicsdb's own functions (above PostgreSQL's
/// fixed oids and the oids datafusion-pg-catalog gives tables).
const FIRST_FUNCTION_OID: i32 = 900_000;

/// pg_type oid of `record`.
const RECORD_OID: i64 = 2249;

/// The `version()` string: PostgreSQL-shaped so drivers can parse it.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_COMPAT_VERSION} (omicsdb {} on Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

fn catalog_error(e: impl std::fmt::Display) -> ServerError {
    ServerError::Catalog(e.to_string())
}

/// Installs pg_catalog (with omicsdb's functions in pg_proc),
/// information_schema and the functions above into `ctx`.
///
/// Turns on `information_schema` in the context's configuration (it is what
/// `information_schema.tables`/`columns` queries from BI tools read). The
/// function list in pg_proc is taken now: functions registered later do not
/// show in `\df`.
pub async fn install(ctx: &SessionContext) -> Result<(), ServerError> {
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().catalog.information_schema = true;
    }
    let catalog = ctx.state().config().options().catalog.default_catalog.clone();
    setup_pg_catalog(ctx, &catalog, Arc::new(AuthManager::default())).map_err(catalog_error)?;
    register_basics(ctx);
    super::sizes::register(ctx);
    super::describe::register(ctx);

    let own = own_functions(ctx).await.map_err(catalog_error)?;
    add_functions_to_pg_proc(ctx, &catalog, &own).await.map_err(catalog_error)?;
    let described = describe_functions(ctx).await.map_err(catalog_error)?;
    register_describers(ctx, described);
    Ok(())
}

fn register_basics(ctx: &SessionContext) {
    let version = version_string();
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version.clone()))))
        }),
    ));
    // psql's \df filters functions with pg_function_is_visible(p.oid); every
    // function in the catalog is on the search path here.
    ctx.register_udf(create_udf(
        "pg_function_is_visible",
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let visible: BooleanArray =
                (0..arrays[0].len()).map(|i| (!arrays[0].is_null(i)).then_some(true)).collect();
            Ok(ColumnarValue::Array(Arc::new(visible)))
        }),
    ));
    // psql's \df+ shows COALESCE(pg_get_function_sqlbody(oid), prosrc); no
    // function here has a SQL-standard body.
    ctx.register_udf(create_udf(
        "pg_get_function_sqlbody",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            Ok(ColumnarValue::Array(new_null_array(&DataType::Utf8, arrays[0].len())))
        }),
    ));
}

/// The names of the server's own catalog functions (registered by
/// [`install`] itself), so they are never listed as omicsdb functions.
const SERVER_FUNCTIONS: [&str; 7] = [
    "version",
    "pg_function_is_visible",
    "pg_get_function_result",
    "pg_get_function_arguments",
    "pg_get_function_identity_arguments",
    "pg_get_function_sqlbody",
    "to_regtype",
];

/// One of omicsdb's functions, as listed in pg_proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnFunction {
    /// SQL name.
    pub name: String,
    /// pg_proc.prokind: `f` function, `a` aggregate, `w` window.
    pub kind: char,
    /// Table functions return a set.
    pub returns_set: bool,
    /// pg_proc.provolatile: `i`, `s` or `v`.
    pub volatility: char,
}

fn volatility_code(v: Volatility) -> char {
    match v {
        Volatility::Immutable => 'i',
        Volatility::Stable => 's',
        Volatility::Volatile => 'v',
    }
}

/// Functions `ctx` has that a plain DataFusion context (with pg_catalog
/// installed) does not: the engine's own, sorted by name.
pub async fn own_functions(ctx: &SessionContext) -> DfResult<Vec<OwnFunction>> {
    let baseline = SessionContext::new();
    setup_pg_catalog(&baseline, "datafusion", Arc::new(AuthManager::default())).map_err(|e| *e)?;
    let base = baseline.state();
    let mut known: HashSet<String> = base.scalar_functions().keys().cloned().collect();
    known.extend(base.aggregate_functions().keys().cloned());
    known.extend(base.window_functions().keys().cloned());
    known.extend(base.table_functions().keys().cloned());
    known.extend(
        SERVER_FUNCTIONS
            .iter()
            .chain(super::sizes::FUNCTIONS.iter())
            .chain(super::describe::FUNCTIONS.iter())
            .map(|s| s.to_string()),
    );

    let state = ctx.state();
    let mut out = Vec::new();
    for (name, f) in state.scalar_functions() {
        out.push(OwnFunction {
            name: name.clone(),
            kind: 'f',
            returns_set: false,
            volatility: volatility_code(f.signature().volatility),
        });
    }
    for (name, f) in state.aggregate_functions() {
        out.push(OwnFunction {
            name: name.clone(),
            kind: 'a',
            returns_set: false,
            volatility: volatility_code(f.signature().volatility),
        });
    }
    for (name, f) in state.window_functions() {
        out.push(OwnFunction {
            name: name.clone(),
            kind: 'w',
            returns_set: false,
            volatility: volatility_code(f.signature().volatility),
        });
    }
    for name in state.table_functions().keys() {
        out.push(OwnFunction {
            name: name.clone(),
            kind: 'f',
            returns_set: true,
            volatility: 'v',
        });
    }
    out.retain(|f| !known.contains(&f.name));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// The pg_catalog schema with its pg_proc replaced.
#[derive(Debug)]
struct WithOwnFunctions {
    inner: Arc<dyn SchemaProvider>,
    pg_proc: Arc<dyn TableProvider>,
}

#[async_trait]
impl SchemaProvider for WithOwnFunctions {
    fn owner_name(&self) -> Option<&str> {
        self.inner.owner_name()
    }

    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if name == "pg_proc" {
            return Ok(Some(self.pg_proc.clone()));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

async fn scalar_i64(ctx: &SessionContext, sql: &str) -> DfResult<Option<i64>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    for batch in batches {
        if batch.num_rows() > 0 {
            let col = cast(batch.column(0), &DataType::Int64)?;
            let col = col.as_primitive::<Int64Type>();
            return Ok((!col.is_null(0)).then(|| col.value(0)));
        }
    }
    Ok(None)
}

/// Replaces pg_catalog.pg_proc with PostgreSQL's rows plus one row per
/// function in `own`, in namespace `public`.
async fn add_functions_to_pg_proc(ctx: &SessionContext, catalog: &str, own: &[OwnFunction]) -> DfResult<()> {
    if own.is_empty() {
        return Ok(());
    }
    let Some(schema) = ctx.catalog(catalog).and_then(|c| c.schema("pg_catalog")) else {
        return Ok(());
    };
    let Some(static_proc) = schema.table("pg_proc").await? else {
        return Ok(());
    };
    let public = scalar_i64(ctx, "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'")
        .await?
        .unwrap_or(2200);
    let mut batches = ctx.read_table(static_proc.clone())?.collect().await?;
    let proc_schema = static_proc.schema();
    let n = own.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(proc_schema.fields().len());
    for field in proc_schema.fields() {
        let column: ArrayRef = match field.name().as_str() {
            "oid" => {
                let mut b = Int32Builder::with_capacity(n);
                (0..n).for_each(|i| b.append_value(FIRST_FUNCTION_OID + i as i32));
                Arc::new(b.finish())
            }
            "proname" => Arc::new(StringArray::from_iter_values(own.iter().map(|f| f.name.as_str()))),
            "pronamespace" => Arc::new(Int64Array::from(vec![public; n])),
            "proowner" => Arc::new(Int64Array::from(vec![10; n])),
            "prolang" => Arc::new(Int64Array::from(vec![12; n])),
            "prokind" => Arc::new(StringArray::from_iter_values(own.iter().map(|f| f.kind.to_string()))),
            "provolatile" => Arc::new(StringArray::from_iter_values(own.iter().map(|f| f.volatility.to_string()))),
            "proretset" => {
                let mut b = BooleanBuilder::with_capacity(n);
                own.iter().for_each(|f| b.append_value(f.returns_set));
                Arc::new(b.finish())
            }
            // Scalar, aggregate and window functions run on partitions in
            // parallel; table functions are scans of their own (PostgreSQL's
            // default, unsafe, for a function that declares nothing).
            "proparallel" => Arc::new(StringArray::from_iter_values(
                own.iter().map(|f| if f.returns_set { "u" } else { "s" }),
            )),
            "prosrc" => Arc::new(StringArray::from_iter_values(own.iter().map(|f| f.name.as_str()))),
            // Table functions return `SETOF record`; the others' result type
            // is not declared (0).
            "prorettype" => Arc::new(Int64Array::from_iter_values(
                own.iter().map(|f| if f.returns_set { RECORD_OID } else { 0 }),
            )),
            _ if field.is_nullable() => new_null_array(field.data_type(), n),
            _ => ScalarValue::new_default(field.data_type())?.to_array_of_size(n)?,
        };
        let column = if column.data_type() == field.data_type() {
            column
        } else {
            cast(&column, field.data_type())?
        };
        columns.push(column);
    }
    batches.push(RecordBatch::try_new(proc_schema.clone(), columns)?);
    let pg_proc = Arc::new(MemTable::try_new(proc_schema, vec![batches])?);
    let replaced = Arc::new(WithOwnFunctions { inner: schema, pg_proc });
    ctx.catalog(catalog)
        .ok_or_else(|| DataFusionError::Plan(format!("catalog {catalog} vanished")))?
        .register_schema("pg_catalog", replaced)?;
    Ok(())
}

/// What `pg_get_function_result`/`_arguments`/`_identity_arguments` return
/// for each pg_proc oid, and type oids by name for `to_regtype`.
#[derive(Debug, Default)]
pub struct Described {
    functions: HashMap<i64, FunctionText>,
    types: HashMap<String, i32>,
}

#[derive(Debug, Default, Clone)]
struct FunctionText {
    result: String,
    arguments: String,
    identity: String,
}

fn strings(batch: &RecordBatch, i: usize) -> DfResult<StringArray> {
    let col = cast(batch.column(i), &DataType::Utf8)?;
    Ok(col.as_string::<i32>().clone())
}

fn ints(batch: &RecordBatch, i: usize) -> DfResult<Int64Array> {
    let col = cast(batch.column(i), &DataType::Int64)?;
    Ok(col.as_primitive::<Int64Type>().clone())
}

fn opt(a: &StringArray, i: usize) -> &str {
    if a.is_null(i) { "" } else { a.value(i) }
}

/// Splits pg_proc's list renderings: `[25, 18]`, `['o', 'o']`, `23 23`.
fn split_list(text: &str) -> Vec<String> {
    let t = text.trim();
    let inner = t.strip_prefix(['[', '{']).and_then(|t| t.strip_suffix([']', '}'])).unwrap_or(t);
    let parts: Vec<&str> = if inner.contains(',') {
        inner.split(',').collect()
    } else {
        inner.split_whitespace().collect()
    };
    parts
        .into_iter()
        .map(|p| p.trim().trim_matches(['\'', '"']).to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// PostgreSQL's rendering of a function's arguments and result, from its
/// pg_proc columns and a type-name lookup.
fn render_function(
    ret_set: bool,
    ret_type: &str,
    arg_types: &[String],
    modes: &[String],
    names: &[String],
    type_name: &dyn Fn(&str) -> String,
) -> FunctionText {
    let mut arguments = Vec::new();
    let mut identity = Vec::new();
    let mut table = Vec::new();
    for (i, ty) in arg_types.iter().enumerate() {
        let mode = modes.get(i).map(String::as_str).unwrap_or("i");
        let name = names.get(i).map(String::as_str).unwrap_or("");
        let named = if name.is_empty() {
            type_name(ty)
        } else {
            format!("{name} {}", type_name(ty))
        };
        match mode {
            "t" => table.push(named),
            "o" => arguments.push(format!("OUT {named}")),
            "b" => {
                arguments.push(format!("INOUT {named}"));
                identity.push(format!("INOUT {named}"));
            }
            "v" => {
                arguments.push(format!("VARIADIC {named}"));
                identity.push(format!("VARIADIC {named}"));
            }
            _ => {
                arguments.push(named.clone());
                identity.push(named);
            }
        }
    }
    let result = if !table.is_empty() {
        format!("TABLE({})", table.join(", "))
    } else if ret_type.is_empty() {
        String::new()
    } else if ret_set {
        format!("SETOF {}", type_name(ret_type))
    } else {
        type_name(ret_type)
    };
    FunctionText {
        result,
        arguments: arguments.join(", "),
        identity: identity.join(", "),
    }
}

/// Reads pg_proc and pg_type into a [`Described`].
pub async fn describe_functions(ctx: &SessionContext) -> DfResult<Described> {
    let mut described = Described::default();
    let mut display: HashMap<String, String> = HashMap::new();
    let types = ctx
        .sql("SELECT t.oid, t.typname, format_type(t.oid, NULL) FROM pg_catalog.pg_type t")
        .await?
        .collect()
        .await?;
    for batch in &types {
        let (oids, names, formatted) = (ints(batch, 0)?, strings(batch, 1)?, strings(batch, 2)?);
        for i in 0..batch.num_rows() {
            if oids.is_null(i) || names.is_null(i) {
                continue;
            }
            let oid = oids.value(i);
            let name = names.value(i).to_owned();
            let shown = match opt(&formatted, i) {
                "" => name.clone(),
                f if f.starts_with("oid(") || f == "???" => name.clone(),
                f => f.to_owned(),
            };
            described.types.insert(shown.clone(), oid as i32);
            described.types.entry(name).or_insert(oid as i32);
            display.insert(oid.to_string(), shown);
        }
    }
    let type_name = |oid: &str| display.get(oid).cloned().unwrap_or_else(|| oid.to_owned());

    let procs = ctx
        .sql(
            "SELECT p.oid, p.proretset, p.prorettype, p.proargtypes, p.proallargtypes, p.proargmodes, \
             p.proargnames FROM pg_catalog.pg_proc p",
        )
        .await?
        .collect()
        .await?;
    for batch in &procs {
        let oids = ints(batch, 0)?;
        let retset = cast(batch.column(1), &DataType::Boolean)?;
        let retset = retset.as_boolean();
        let (rettype, argtypes, allargtypes) = (strings(batch, 2)?, strings(batch, 3)?, strings(batch, 4)?);
        let (modes, names) = (strings(batch, 5)?, strings(batch, 6)?);
        for i in 0..batch.num_rows() {
            if oids.is_null(i) {
                continue;
            }
            let all = split_list(opt(&allargtypes, i));
            let args = if all.is_empty() { split_list(opt(&argtypes, i)) } else { all };
            let ret = match opt(&rettype, i) {
                "0" => "",
                r => r,
            };
            let text = render_function(
                !retset.is_null(i) && retset.value(i),
                ret,
                &args,
                &split_list(opt(&modes, i)),
                &split_list(opt(&names, i)),
                &type_name,
            );
            described.functions.insert(oids.value(i), text);
        }
    }
    Ok(described)
}

/// A `(oid) -> text` UDF answering from `described`.
fn oid_text_udf(
    name: &str,
    described: Arc<Described>,
    pick: fn(&FunctionText) -> &str,
) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let oids = cast(&arrays[0], &DataType::Int64)?;
            let oids = oids.as_primitive::<Int64Type>();
            let mut out = StringBuilder::with_capacity(oids.len(), oids.len() * 16);
            for i in 0..oids.len() {
                match (!oids.is_null(i)).then(|| described.functions.get(&oids.value(i))).flatten() {
                    Some(text) => out.append_value(pick(text)),
                    None => out.append_null(),
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    )
}

fn register_describers(ctx: &SessionContext, described: Described) {
    let described = Arc::new(described);
    ctx.register_udf(oid_text_udf("pg_get_function_result", described.clone(), |t| &t.result));
    ctx.register_udf(oid_text_udf("pg_get_function_arguments", described.clone(), |t| &t.arguments));
    ctx.register_udf(oid_text_udf("pg_get_function_identity_arguments", described.clone(), |t| {
        &t.identity
    }));
    ctx.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = cast(&arrays[0], &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let mut out = Int32Builder::with_capacity(names.len());
            for i in 0..names.len() {
                let oid = (!names.is_null(i))
                    .then(|| {
                        let name = names.value(i).trim();
                        let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
                        let name = name.trim_matches('"');
                        described.types.get(name).or_else(|| described.types.get(&name.to_lowercase()))
                    })
                    .flatten();
                out.append_option(oid.copied());
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn catalog_tables_and_version_answer() {
        let ctx = SessionContext::new();
        install(&ctx).await.unwrap();
        let batches = ctx.sql("SELECT version()").await.unwrap().collect().await.unwrap();
        let v = batches[0].column(0).as_string::<i32>().value(0).to_owned();
        assert!(v.starts_with("PostgreSQL 16.6 (omicsdb"), "{v}");
        let n = ctx
            .sql("SELECT count(*) FROM pg_catalog.pg_namespace")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(n.len(), 1);
        ctx.sql("SELECT * FROM information_schema.tables").await.unwrap();
    }

    async fn texts(ctx: &SessionContext, sql: &str) -> Vec<Option<String>> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out = Vec::new();
        for b in batches {
            let col = cast(b.column(0), &DataType::Utf8).unwrap();
            let col = col.as_string::<i32>();
            out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i).to_owned())));
        }
        out
    }

    #[tokio::test]
    async fn functions_are_described_like_postgres() {
        let ctx = SessionContext::new();
        install(&ctx).await.unwrap();
        let one = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { texts(&ctx, sql).await.remove(0) }
        };
        // substr(text, integer) -> text; pg_get_keywords returns SETOF record
        // with OUT arguments; concat is VARIADIC "any".
        assert_eq!(one("SELECT pg_get_function_result(883)").await.as_deref(), Some("text"));
        assert_eq!(one("SELECT pg_get_function_arguments(883)").await.as_deref(), Some("text, integer"));
        assert_eq!(one("SELECT pg_get_function_result(1686)").await.as_deref(), Some("SETOF record"));
        let kw = one("SELECT pg_get_function_arguments(1686)").await.unwrap();
        assert!(kw.starts_with("OUT word text, OUT catcode \"char\""), "{kw}");
        assert_eq!(one("SELECT pg_get_function_identity_arguments(1686)").await.as_deref(), Some(""));
        let concat = one("SELECT pg_get_function_arguments(p.oid) FROM pg_catalog.pg_proc p WHERE proname = 'concat'")
            .await
            .unwrap();
        assert!(concat.starts_with("VARIADIC "), "{concat}");
        assert_eq!(one("SELECT pg_get_function_result(-5)").await, None);
        // to_regtype, as psycopg's type lookup uses it.
        assert_eq!(one("SELECT to_regtype('int4')").await.as_deref(), Some("23"));
        assert_eq!(one("SELECT to_regtype('integer')").await.as_deref(), Some("23"));
        assert_eq!(one("SELECT to_regtype('hstore')").await, None);
        // A plain DataFusion context has no functions of its own.
        assert!(own_functions(&ctx).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn own_functions_are_listed_in_pg_proc() {
        let ctx = SessionContext::new();
        ctx.register_udf(create_udf(
            "my_region_fn",
            vec![DataType::Utf8],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(|args: &[ColumnarValue]| Ok(args[0].clone())),
        ));
        install(&ctx).await.unwrap();
        let rows = texts(
            &ctx,
            "SELECT n.nspname || '.' || p.proname || ':' || p.prokind FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'my_region_fn'",
        )
        .await;
        assert_eq!(rows, vec![Some("public.my_region_fn:f".to_owned())]);
        // Installing twice (a second server on the same context) lists it once.
        install(&ctx).await.unwrap();
        let n = texts(&ctx, "SELECT count(*) FROM pg_catalog.pg_proc WHERE proname = 'my_region_fn'").await;
        assert_eq!(n, vec![Some("1".to_owned())]);
    }

    #[test]
    fn pg_proc_lists_are_split() {
        assert_eq!(split_list("[25, 18, 16]"), ["25", "18", "16"]);
        assert_eq!(split_list("['o', 'i']"), ["o", "i"]);
        assert_eq!(split_list("25 23"), ["25", "23"]);
        assert!(split_list("").is_empty());
    }
}
