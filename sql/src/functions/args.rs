//! Argument coercion and access shared by the genomic scalar functions.

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, LargeStringArray, StringArray, StringViewArray,
};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;

/// What one argument of a function must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// Any string type (Utf8, LargeUtf8, Utf8View); NULL literals become Utf8.
    Text,
    /// Any integer type, coerced to Int64.
    Int,
}

/// Checks the argument count and maps every argument type to the type the
/// function body reads (`coerce_types` of a `Signature::user_defined`).
///
/// `names` lists the arguments; the last `optional` of them may be left out.
pub(crate) fn coerce(
    function: &str,
    names: &[(&str, ArgKind)],
    optional: usize,
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    let required = names.len() - optional;
    if arg_types.len() < required || arg_types.len() > names.len() {
        let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        let count = if optional == 0 {
            format!("{}", names.len())
        } else {
            format!("{required} to {}", names.len())
        };
        return plan_err!(
            "{function} expects {count} arguments ({}), got {}",
            list.join(", "),
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .zip(names)
        .map(|(t, (name, kind))| coerce_one(function, name, *kind, t))
        .collect()
}

fn coerce_one(function: &str, name: &str, kind: ArgKind, t: &DataType) -> Result<DataType> {
    match (kind, t) {
        (ArgKind::Text, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => Ok(t.clone()),
        (ArgKind::Text, DataType::Null) => Ok(DataType::Utf8),
        (ArgKind::Text, DataType::Dictionary(_, v))
            if matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
        {
            Ok((**v).clone())
        }
        (ArgKind::Int, t) if t.is_integer() || *t == DataType::Null => Ok(DataType::Int64),
        (ArgKind::Text, other) => {
            plan_err!("{function}: argument `{name}` must be a string, got {other}")
        }
        (ArgKind::Int, other) => {
            plan_err!("{function}: argument `{name}` must be an integer, got {other}")
        }
    }
}

/// Whether every argument is a scalar, so the result must be a scalar too.
pub(crate) fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Wraps a computed array as the function result: a scalar when all inputs
/// were scalars (the array then has one row).
pub(crate) fn finish(result: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

/// A borrowed string column of any of Arrow's three string layouts.
pub(crate) enum Texts<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Texts<'a> {
    /// Reads `array` as strings; an error names the function and argument.
    pub(crate) fn new(array: &'a ArrayRef, function: &str, name: &str) -> Result<Self> {
        match array.data_type() {
            DataType::Utf8 => Ok(Texts::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Ok(Texts::Large(array.as_string::<i64>())),
            DataType::Utf8View => Ok(Texts::View(array.as_string_view())),
            other => exec_err!("{function}: argument `{name}` must be a string, got {other}"),
        }
    }

    /// The string at row `i`, `None` when NULL.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Texts::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Texts::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Texts::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }

    /// Sum of the byte lengths of all values (a capacity hint for builders).
    pub(crate) fn total_bytes(&self) -> usize {
        match self {
            Texts::Utf8(a) => a.value_data().len(),
            Texts::Large(a) => a.value_data().len(),
            Texts::View(a) => a.total_buffer_bytes_used(),
        }
    }
}

/// Reads an Int64 column (arguments are coerced to Int64 by [`coerce`]).
pub(crate) fn ints<'a>(array: &'a ArrayRef, function: &str, name: &str) -> Result<&'a Int64Array> {
    match array.as_primitive_opt::<arrow::datatypes::Int64Type>() {
        Some(a) => Ok(a),
        None => exec_err!(
            "{function}: argument `{name}` must be an integer, got {}",
            array.data_type()
        ),
    }
}

/// The Int64 at row `i`, `None` when NULL.
#[inline]
pub(crate) fn int_at(a: &Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}

/// The bytes one function call may still produce (see
/// [`crate::options::OmicsdbOptions::max_function_output_bytes`]): each row
/// charges its output before it is built, so an oversized result fails with
/// `ResourcesExhausted` (SQLSTATE 53200) instead of exhausting memory.
pub(crate) struct OutputBudget {
    function: &'static str,
    limit: u64,
    used: u64,
}

impl OutputBudget {
    /// The budget of one call of `function` under the session's settings.
    pub(crate) fn new(function: &'static str, config: &datafusion::common::config::ConfigOptions) -> Self {
        Self { function, limit: crate::options::max_function_output_bytes(config), used: 0 }
    }

    /// Charges `bytes` more of output; an error once the total passes the limit.
    pub(crate) fn charge(&mut self, bytes: u64) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(datafusion::error::DataFusionError::ResourcesExhausted(format!(
                "{}: the result would take more than {} bytes (omicsdb.max_function_output_bytes); \
                 ask for less per call, e.g. a smaller region, a smaller k or fewer rows",
                self.function, self.limit
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerce_checks_count_and_types() {
        let names = [("seq", ArgKind::Text), ("k", ArgKind::Int)];
        assert_eq!(
            coerce("kmers", &names, 0, &[DataType::Utf8View, DataType::Int32]).unwrap(),
            vec![DataType::Utf8View, DataType::Int64]
        );
        let e = coerce("kmers", &names, 0, &[DataType::Utf8]).unwrap_err().to_string();
        assert!(e.contains("kmers expects 2 arguments (seq, k), got 1"), "{e}");
        let e = coerce("kmers", &names, 0, &[DataType::Utf8, DataType::Float64])
            .unwrap_err()
            .to_string();
        assert!(e.contains("kmers: argument `k` must be an integer, got Float64"), "{e}");
        assert_eq!(
            coerce("x", &names, 1, &[DataType::Null]).unwrap(),
            vec![DataType::Utf8]
        );
    }
}
