//! Structs (and maps, and lists of either) go to clients as `json` text.
//!
//! arrow-pg announces an Arrow struct as an anonymous composite type and
//! encodes it as a record, `(chr1,0,10)`: the field names are lost and drivers
//! hand the value to the application as an opaque string or tuple. Postgres
//! `json` (oid 114) keeps the names, and psycopg, JDBC and pandas decode it.
//!
//! arrow-pg has no hook for this (its type mapping is a plain function of the
//! Arrow type), so the server rewrites the plan instead: [`wrap_plan`] puts a
//! projection on top of a query's plan that turns every such column into JSON
//! text with [`StructToJson`] (arrow-json's encoder), keeping the column name.
//! The result is a Utf8 column, which arrow-pg would announce as `text`;
//! [`json_columns`] finds the rewritten columns again from the plan and
//! [`announce_json`] changes their announced type to `json`. The bytes on the
//! wire are the same for `text` and `json` in both text and binary formats
//! (json's binary form is its text), so only the announced type changes.
//!
//! Only the statement's output is rewritten: structs inside the query (e.g.
//! `parse_region(r)['start']`) are untouched, and the engine's own API still
//! returns Arrow structs.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::arrow::json::writer::{EncoderOptions, make_encoder};
use datafusion::common::{Column, Result, ScalarValue, exec_datafusion_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use pgwire::api::Type;
use pgwire::api::results::FieldInfo;

/// Name of the conversion function in rewritten plans (not registered in the
/// context, so no user query can call or shadow it).
pub const STRUCT_TO_JSON: &str = "omicsdb_struct_to_json";

/// True for Arrow types the server sends as `json`: structs, maps, and lists
/// whose items are structs, maps or lists (Postgres arrays cannot hold them).
/// Lists of scalars stay Postgres arrays (`float4[]`, ...).
pub fn is_json_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(_) | DataType::Map(_, _) => true,
        DataType::Dictionary(_, value) => is_json_type(value),
        _ => list_item(data_type).is_some_and(|item| is_json_type(item) || list_item(item).is_some()),
    }
}

fn list_item(data_type: &DataType) -> Option<&DataType> {
    match data_type {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => Some(f.data_type()),
        _ => None,
    }
}

/// `omicsdb_struct_to_json(x) -> Utf8`: one JSON value per row (objects for
/// structs, with explicit nulls for NULL fields), SQL NULL for NULL rows.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StructToJson {
    signature: Signature,
}

impl Default for StructToJson {
    fn default() -> Self {
        StructToJson {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for StructToJson {
    fn name(&self) -> &str {
        STRUCT_TO_JSON
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let array = arrays
            .first()
            .ok_or_else(|| exec_datafusion_err!("{STRUCT_TO_JSON} takes one argument"))?;
        let out = to_json_strings(array)?;
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// Encodes each row of `array` as JSON text.
pub fn to_json_strings(array: &ArrayRef) -> Result<ArrayRef> {
    let field = Arc::new(Field::new("value", array.data_type().clone(), true));
    let options = EncoderOptions::default().with_explicit_nulls(true);
    let mut encoder = make_encoder(&field, array.as_ref(), &options)?;
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 32);
    let mut buf = Vec::with_capacity(64);
    for i in 0..array.len() {
        if array.is_null(i) {
            out.append_null();
            continue;
        }
        buf.clear();
        encoder.encode(i, &mut buf);
        let text = std::str::from_utf8(&buf).map_err(|e| exec_datafusion_err!("{STRUCT_TO_JSON}: {e}"))?;
        out.append_value(text);
    }
    Ok(Arc::new(out.finish()))
}

fn struct_to_json_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(StructToJson::default()))
}

/// Puts a projection on top of `plan` that turns its struct/map output
/// columns into JSON text under the same (qualified) names; returns `plan`
/// unchanged when it has none.
pub fn wrap_plan(plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::DescribeTable(_)
    ) || !plan.schema().fields().iter().any(|f| is_json_type(f.data_type()))
    {
        return Ok(plan);
    }
    let udf = struct_to_json_udf();
    let exprs: Vec<Expr> = plan
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::from((qualifier, field)));
            if is_json_type(field.data_type()) {
                Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), vec![column]))
                    .alias_qualified(qualifier.cloned(), field.name())
            } else {
                column
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

/// Which output columns of `plan` [`wrap_plan`] turned into JSON.
pub fn json_columns(plan: &LogicalPlan) -> Vec<bool> {
    match plan {
        LogicalPlan::Projection(p) => p.expr.iter().map(is_json_call).collect(),
        _ => Vec::new(),
    }
}

fn is_json_call(expr: &Expr) -> bool {
    match expr {
        Expr::Alias(alias) => is_json_call(&alias.expr),
        Expr::ScalarFunction(f) => f.func.name() == STRUCT_TO_JSON,
        _ => false,
    }
}

/// `fields` with the columns marked in `json` announced as Postgres `json`.
pub fn announce_json(fields: &[FieldInfo], json: &[bool]) -> Vec<FieldInfo> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if json.get(i).copied().unwrap_or(false) && f.datatype() != &Type::JSON {
                FieldInfo::new(f.name().to_owned(), f.table_id(), f.column_id(), Type::JSON, f.format())
                    .with_format_options(f.format_options().clone())
                    .with_type_size(-1)
                    .with_type_modifier(f.type_modifier())
            } else {
                f.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray, StructArray};
    use datafusion::arrow::buffer::NullBuffer;
    use datafusion::arrow::datatypes::Fields;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[test]
    fn structs_become_json_objects_with_explicit_nulls() {
        let fields = Fields::from(vec![
            Field::new("chrom", DataType::Utf8, true),
            Field::new("start", DataType::Int64, true),
        ]);
        let array: ArrayRef = Arc::new(StructArray::new(
            fields,
            vec![
                Arc::new(StringArray::from(vec![Some("chr1"), Some("x\"y"), None])),
                Arc::new(Int64Array::from(vec![Some(0), None, None])),
            ],
            Some(NullBuffer::from(vec![true, true, false])),
        ));
        let out = to_json_strings(&array).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), r#"{"chrom":"chr1","start":0}"#);
        assert_eq!(out.value(1), r#"{"chrom":"x\"y","start":null}"#);
        assert!(out.is_null(2));
    }

    #[tokio::test]
    async fn plans_with_structs_get_a_json_projection() {
        let ctx = SessionContext::new();
        let plan = ctx
            .sql("SELECT 1 AS a, named_struct('chrom', 'chr1', 'start', 5) AS r")
            .await
            .unwrap()
            .into_unoptimized_plan();
        let wrapped = wrap_plan(plan).unwrap();
        assert_eq!(json_columns(&wrapped), vec![false, true]);
        let names: Vec<_> = wrapped.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["a", "r"]);
        let batches = ctx.execute_logical_plan(wrapped).await.unwrap().collect().await.unwrap();
        let r = batches[0].column(1).as_string::<i32>().value(0).to_owned();
        assert_eq!(r, r#"{"chrom":"chr1","start":5}"#);

        // Plans without structs are left alone.
        let plain = ctx.sql("SELECT 1 AS a").await.unwrap().into_unoptimized_plan();
        let same = wrap_plan(plain.clone()).unwrap();
        assert_eq!(same, plain);
        assert!(json_columns(&same).iter().all(|j| !j));
    }
}
