//! Argument checks shared by the model functions: `seq` is any string column,
//! `model` and `pooling` are constant strings (the result type depends on them).

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::ColumnarValue;

use crate::error::UdfError;

/// Maps argument types to the types the function reads: strings stay as they are,
/// NULL literals become Utf8; anything else is a plan error naming the argument.
pub fn coerce(
    function: &str,
    names: &[&str],
    required: usize,
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    if arg_types.len() < required || arg_types.len() > names.len() {
        return plan_err!(
            "{function} expects {required} to {} arguments ({}), got {}",
            names.len(),
            names.join(", "),
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .zip(names)
        .map(|(t, name)| match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(t.clone()),
            DataType::Null => Ok(DataType::Utf8),
            DataType::Dictionary(_, v)
                if matches!(
                    **v,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                Ok((**v).clone())
            }
            other => plan_err!("{function}: argument `{name}` must be a string, got {other}"),
        })
        .collect()
}

/// The value of a constant string argument at plan time: `Ok(None)` when the
/// argument is absent, an error when it is not a non-NULL constant string.
pub fn plan_constant(
    function: &'static str,
    argument: &'static str,
    present: bool,
    scalar: Option<&ScalarValue>,
) -> Result<Option<String>, UdfError> {
    if !present {
        return Ok(None);
    }
    let bad = |message: &str| UdfError::Argument {
        function,
        argument,
        message: message.to_string(),
    };
    match scalar {
        None => Err(bad(
            "must be a constant string (a literal such as 'NAME'), not a column or expression",
        )),
        Some(s) => match s.try_as_str() {
            Some(Some(v)) => Ok(Some(v.to_string())),
            Some(None) => Err(bad("must not be NULL")),
            None => Err(bad("must be a string")),
        },
    }
}

/// The value of a constant string argument at execution time (`Ok(None)` when absent).
pub fn exec_constant(
    function: &'static str,
    argument: &'static str,
    value: Option<&ColumnarValue>,
) -> Result<Option<String>, UdfError> {
    match value {
        None => Ok(None),
        Some(ColumnarValue::Scalar(s)) => plan_constant(function, argument, true, Some(s)),
        Some(ColumnarValue::Array(a)) => {
            // A constant folded into a one-value column is accepted; a real column is not.
            let bad = || UdfError::Argument {
                function,
                argument,
                message: "must be a constant string".into(),
            };
            let strings = texts(a).ok_or_else(bad)?;
            let first = strings.first().copied().flatten();
            if first.is_none() || strings.iter().any(|s| *s != first) {
                return Err(bad());
            }
            Ok(first.map(|b| String::from_utf8_lossy(b).into_owned()))
        }
    }
}

/// The rows of a string column as bytes (`None` for NULL); `None` if it is not a string column.
pub fn texts(array: &ArrayRef) -> Option<Vec<Option<&[u8]>>> {
    let n = array.len();
    match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            Some(
                (0..n)
                    .map(|i| a.is_valid(i).then(|| a.value(i).as_bytes()))
                    .collect(),
            )
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Some(
                (0..n)
                    .map(|i| a.is_valid(i).then(|| a.value(i).as_bytes()))
                    .collect(),
            )
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            Some(
                (0..n)
                    .map(|i| a.is_valid(i).then(|| a.value(i).as_bytes()))
                    .collect(),
            )
        }
        DataType::Null => Some(vec![None; n]),
        _ => None,
    }
}

/// [`texts`] of a string argument, or an error naming the function, the argument and
/// the type it got.
pub fn string_rows<'a>(
    function: &'static str,
    argument: &'static str,
    array: &'a ArrayRef,
) -> Result<Vec<Option<&'a [u8]>>, UdfError> {
    texts(array).ok_or_else(|| UdfError::Argument {
        function,
        argument,
        message: format!("must be a string, got {}", array.data_type()),
    })
}

/// Whether every argument is a scalar (the result must then be a scalar too).
pub fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Wraps a result array: a scalar when all inputs were scalars.
pub fn finish(result: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}
