//! What psql's `\d+ TABLE` and `\df+` need beyond `\d TABLE` and `\df`.
//!
//! * `col_description(oid, integer)`: answers NULL (no comments are stored),
//!   as PostgreSQL does for a column without one; `\d+` shows an empty
//!   Description column.
//! * `array_to_string` on text: datafusion-pg-catalog's `pg_proc.proacl` (and
//!   other `aclitem[]`/`text[]` columns) are text renderings such as
//!   `{=X/omics,omics=X/omics}`, on which DataFusion's `array_to_string`
//!   refuses to plan. `\df+` shows `array_to_string(p.proacl, E'\n')` as
//!   "Access privileges". The function registered here splits a text value
//!   as a PostgreSQL array literal and joins its elements as PostgreSQL does
//!   (NULL elements skipped, or replaced by the third argument); on real
//!   arrays it is DataFusion's `array_to_string`.
//! * `pg_get_viewdef(oid[, pretty])`, which `\d+` calls for a view (the
//!   pg_catalog relations are views here): NULL, as PostgreSQL answers for an
//!   oid it has no view for, so psql prints an empty "View definition:".
//! * `\d+ TABLE` asks for `array_to_string(c.reloptions || array(select
//!   'toast.' || x from unnest(tc.reloptions) x), ', ')`: pg_class here has
//!   no `reloptions` (no table has storage options) and DataFusion has no
//!   `array(SELECT ...)` constructor. [`rewrite_statement`] replaces that call
//!   with `''`, which is what psql sends itself when it does not want the
//!   options (plain `\d TABLE`), and psql then prints no "Options:" line.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result as DfResult, plan_err};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, SimpleScalarUDF, TypeSignature, Volatility,
    create_udf,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The functions [`register`] adds that a plain DataFusion context lacks
/// (PostgreSQL's own, so not listed as omicsdb's).
pub const FUNCTIONS: [&str; 2] = ["col_description", "pg_get_viewdef"];

/// A stable function of `args` that answers NULL text for every row: what
/// PostgreSQL returns for a comment (`obj_description`, `col_description`) that
/// was never set, as no comments are stored here.
pub fn null_text_udf(name: &str, args: Vec<DataType>) -> ScalarUDF {
    create_udf(
        name,
        args,
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = ColumnarValue::values_to_arrays(args)?[0].len();
            Ok(ColumnarValue::Array(new_null_array(&DataType::Utf8, n)))
        }),
    )
}

/// Registers `col_description` and the text-aware `array_to_string`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(null_text_udf("col_description", vec![DataType::Int64, DataType::Int64]));
    ctx.register_udf(ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "pg_get_viewdef",
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int64]),
                TypeSignature::Exact(vec![DataType::Int64, DataType::Boolean]),
            ],
            Volatility::Stable,
        ),
        DataType::Utf8,
        Arc::new(|args: &[ColumnarValue]| {
            let n = ColumnarValue::values_to_arrays(args)?[0].len();
            Ok(ColumnarValue::Array(new_null_array(&DataType::Utf8, n)))
        }),
    )));
    let builtin = datafusion::functions_nested::string::array_to_string_udf();
    ctx.register_udf(ScalarUDF::new_from_impl(ArrayToString::new(builtin)));
}

/// `array_to_string` that also takes a PostgreSQL array rendered as text
/// (see the module docs).
#[derive(Debug)]
struct ArrayToString {
    builtin: Arc<ScalarUDF>,
    signature: Signature,
}

impl ArrayToString {
    fn new(builtin: Arc<ScalarUDF>) -> ArrayToString {
        ArrayToString {
            builtin,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl PartialEq for ArrayToString {
    fn eq(&self, other: &Self) -> bool {
        self.builtin.name() == other.builtin.name()
    }
}

impl Eq for ArrayToString {}

impl std::hash::Hash for ArrayToString {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "omicsdb_array_to_string".hash(state);
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null)
}

impl ScalarUDFImpl for ArrayToString {
    fn name(&self) -> &str {
        "array_to_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        if !(2..=3).contains(&arg_types.len()) {
            return plan_err!("array_to_string takes 2 or 3 arguments, got {}", arg_types.len());
        }
        if is_text(&arg_types[0]) {
            if let Some(t) = arg_types[1..].iter().find(|t| !is_text(t)) {
                return plan_err!("array_to_string: the delimiter and null string must be text, got {t}");
            }
            return Ok(vec![DataType::Utf8; arg_types.len()]);
        }
        let fields: Vec<FieldRef> = arg_types.iter().map(|t| Arc::new(Field::new("a", t.clone(), true))).collect();
        Ok(fields_with_udf(&fields, self.builtin.as_ref())?.iter().map(|f| f.data_type().clone()).collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let first_is_text = args.arg_fields.first().is_some_and(|f| is_text(f.data_type()));
        if !first_is_text {
            return self.builtin.invoke_with_args(args);
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let texts: Vec<_> = arrays.iter().map(|a| cast(a, &DataType::Utf8)).collect::<DfResult<_, _>>()?;
        let value = texts[0].as_string::<i32>();
        let delimiter = texts[1].as_string::<i32>();
        let null_string = texts.get(2).map(|a| a.as_string::<i32>());
        let mut out = StringBuilder::with_capacity(value.len(), value.len() * 8);
        for i in 0..value.len() {
            if value.is_null(i) || delimiter.is_null(i) {
                out.append_null();
                continue;
            }
            let null = null_string.and_then(|n| (!n.is_null(i)).then(|| n.value(i)));
            out.append_value(join_text_array(value.value(i), delimiter.value(i), null));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The elements of a PostgreSQL array literal (`{a,"b c",NULL}`), `None`
/// for NULL. Text that is not an array literal is one element; nested
/// arrays are flattened, as `array_to_string` does.
fn array_elements(text: &str) -> Vec<Option<String>> {
    let t = text.trim();
    let Some(inner) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
        return vec![Some(t.to_owned())];
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = inner.chars();
    let push = |current: &mut String, was_quoted: &mut bool, out: &mut Vec<Option<String>>| {
        let element = if *was_quoted { current.clone() } else { current.trim().to_owned() };
        if !*was_quoted && element.eq_ignore_ascii_case("null") {
            out.push(None);
        } else if *was_quoted || !element.is_empty() {
            out.push(Some(element));
        }
        current.clear();
        *was_quoted = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '{' | '}' if !quoted => push(&mut current, &mut was_quoted, &mut out),
            ',' if !quoted => push(&mut current, &mut was_quoted, &mut out),
            c => current.push(c),
        }
    }
    push(&mut current, &mut was_quoted, &mut out);
    out
}

fn join_text_array(text: &str, delimiter: &str, null: Option<&str>) -> String {
    let parts: Vec<String> = array_elements(text)
        .into_iter()
        .filter_map(|e| e.or_else(|| null.map(str::to_owned)))
        .collect();
    parts.join(delimiter)
}

/// True for a call to `array_to_string` whose first argument reads
/// `reloptions`.
fn is_reloptions_call(expr: &Expr) -> bool {
    let Expr::Function(f) = expr else { return false };
    let named = f
        .name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.eq_ignore_ascii_case("array_to_string"));
    if !named {
        return false;
    }
    let FunctionArguments::List(list) = &f.args else { return false };
    match list.args.first() {
        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) => {
            first.to_string().to_ascii_lowercase().contains("reloptions")
        }
        _ => false,
    }
}

/// Rewrites what psql's `\d+ TABLE` sends that the catalog cannot answer (see
/// the module docs). True when something was rewritten.
pub fn rewrite_statement(statement: &mut Statement) -> bool {
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        if is_reloptions_call(expr) {
            *expr = Expr::value(Value::SingleQuotedString(String::new()));
            changed = true;
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// [`rewrite_statement`] on SQL text (the extended protocol's Parse): the
/// rewritten text, or `None` when there is nothing to rewrite or the text
/// does not parse (the normal path then reports the error).
pub fn rewrite_sql(sql: &str) -> Option<String> {
    if !sql.contains("reloptions") {
        return None;
    }
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let mut changed = false;
    for s in &mut statements {
        changed |= rewrite_statement(s);
    }
    changed.then(|| statements.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    async fn texts(ctx: &SessionContext, sql: &str) -> Vec<Option<String>> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out = Vec::new();
        for b in batches {
            let col = cast(b.column(0), &DataType::Utf8).unwrap();
            let col: &StringArray = col.as_string::<i32>();
            out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i).to_owned())));
        }
        out
    }

    #[test]
    fn text_arrays_are_split_like_postgres() {
        assert_eq!(join_text_array("{=X/omics,omics=X/omics}", "\n", None), "=X/omics\nomics=X/omics");
        assert_eq!(join_text_array("{a,NULL,\"b, c\",\"NULL\"}", "|", None), "a|b, c|NULL");
        assert_eq!(join_text_array("{a,NULL}", "|", Some("*")), "a|*");
        assert_eq!(join_text_array("{{1,2},{3}}", ",", None), "1,2,3");
        assert_eq!(join_text_array("{}", ",", None), "");
        assert_eq!(join_text_array("plain", ",", None), "plain");
        assert_eq!(join_text_array("{\"a\\\"b\"}", ",", None), "a\"b");
    }

    #[tokio::test]
    async fn array_to_string_takes_text_and_arrays() {
        let ctx = SessionContext::new();
        register(&ctx);
        let got = texts(&ctx, "SELECT array_to_string('{x,y}', '-')").await;
        assert_eq!(got, [Some("x-y".to_owned())]);
        let got = texts(&ctx, "SELECT array_to_string(CAST(NULL AS text), E'\\n')").await;
        assert_eq!(got, [None]);
        let got = texts(&ctx, "SELECT array_to_string(make_array(1, 2, 3), ',')").await;
        assert_eq!(got, [Some("1,2,3".to_owned())]);
        let got = texts(&ctx, "SELECT array_to_string(make_array('a', NULL), ',', '*')").await;
        assert_eq!(got, [Some("a,*".to_owned())]);
        let got = texts(&ctx, "SELECT col_description(1, 2)").await;
        assert_eq!(got, [None]);
        let got = texts(&ctx, "SELECT pg_get_viewdef(1, true)").await;
        assert_eq!(got, [None]);
        assert_eq!(texts(&ctx, "SELECT pg_get_viewdef(1)").await, [None]);
        // Wrong arity or types are plan errors, not panics.
        assert!(ctx.sql("SELECT array_to_string('{x}')").await.is_err());
        assert!(ctx.sql("SELECT array_to_string('{x}', 1)").await.is_err());
    }

    #[test]
    fn psql_reloptions_call_is_rewritten() {
        let sql = "SELECT c.relchecks, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x \
                   from pg_catalog.unnest(tc.reloptions) x), ', ') , c.reltablespace FROM pg_catalog.pg_class c \
                   LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid) WHERE c.oid = '16384'";
        let out = rewrite_sql(sql).expect("rewritten");
        assert!(!out.contains("reloptions") && out.contains("c.relchecks, '', c.reltablespace"), "{out}");
        assert_eq!(rewrite_sql("SELECT array_to_string(x, ',') FROM t"), None);
        assert_eq!(rewrite_sql("SELECT reloptions FROM"), None);
    }
}
