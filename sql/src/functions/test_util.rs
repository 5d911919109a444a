//! Helpers for calling a `ScalarUDFImpl` directly in unit tests.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::Field;
use datafusion::common::config::ConfigOptions;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl};

/// A Utf8 column.
pub(crate) fn text(values: &[Option<&str>]) -> ColumnarValue {
    ColumnarValue::Array(Arc::new(StringArray::from(values.to_vec())))
}

/// An Int64 column.
pub(crate) fn int(values: &[Option<i64>]) -> ColumnarValue {
    ColumnarValue::Array(Arc::new(Int64Array::from(values.to_vec())))
}

/// Calls `udf` on `args` as DataFusion would (types already coerced).
pub(crate) fn call(udf: &dyn ScalarUDFImpl, args: Vec<ColumnarValue>) -> Result<ArrayRef> {
    let types: Vec<_> = args.iter().map(|a| a.data_type()).collect();
    let coerced = udf.coerce_types(&types)?;
    assert_eq!(coerced, types, "test inputs must already have the coerced types");
    let number_rows = args
        .iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1);
    let arg_fields = types
        .iter()
        .enumerate()
        .map(|(i, t)| Arc::new(Field::new(format!("a{i}"), t.clone(), true)))
        .collect();
    let return_field = Arc::new(Field::new("out", udf.return_type(&types)?, true));
    let out = udf.invoke_with_args(ScalarFunctionArgs {
        args,
        arg_fields,
        number_rows,
        return_field,
        config_options: Arc::new(ConfigOptions::default()),
    })?;
    out.to_array(number_rows)
}
