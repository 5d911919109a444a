//! `kmers(seq, k)`: every overlapping k-mer of a sequence, in order.

use std::sync::Arc;

use arrow::array::{ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};

const NAME: &str = "kmers";
const ARGS: [(&str, ArgKind); 2] = [("seq", ArgKind::Text), ("k", ArgKind::Int)];

/// Checks `k` and the sequence of one row; returns `k` as usize.
pub(crate) fn check_row(function: &str, seq: &str, k: i64) -> Result<usize> {
    if k < 1 {
        return exec_err!("{function}: argument `k` must be >= 1, got {k}");
    }
    if !seq.is_ascii() {
        return exec_err!("{function}: argument `seq` contains non-ASCII characters");
    }
    Ok(usize::try_from(k).unwrap_or(usize::MAX))
}

/// `kmers(seq, k) -> List<Utf8>`: the `len - k + 1` overlapping substrings of
/// length `k`, left to right, exactly as written (case kept, N included).
/// A sequence shorter than `k` gives an empty list; NULL in either argument
/// gives NULL; `k < 1` is an error.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KmersFunc {
    signature: Signature,
}

impl Default for KmersFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for KmersFunc {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::coerce(NAME, &ARGS, 0, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))))
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let seq = Texts::new(&arrays[0], NAME, "seq")?;
        let ks = args::ints(&arrays[1], NAME, "k")?;
        let n = ks.len();
        let mut budget = args::OutputBudget::new(NAME, &args.config_options);
        let mut out = ListBuilder::with_capacity(StringBuilder::new(), n);
        for i in 0..n {
            let (Some(s), Some(k)) = (seq.get(i), args::int_at(ks, i)) else {
                out.append_null();
                continue;
            };
            let k = check_row(NAME, s, k)?;
            if s.len() >= k {
                // Each k-mer: k value bytes and a 4-byte offset.
                let count = (s.len() - k + 1) as u64;
                budget.charge(count.saturating_mul(k as u64 + 4))?;
                for j in 0..=s.len() - k {
                    out.values().append_value(&s[j..j + k]);
                }
            }
            out.append(true);
        }
        args::finish(Arc::new(out.finish()), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::test_util::{call, int, text};
    use arrow::array::{Array, AsArray};

    #[test]
    fn lists_kmers() {
        let out = call(
            &KmersFunc::default(),
            vec![
                text(&[Some("ACGTa"), Some("AC"), None, Some("AC")]),
                int(&[Some(3), Some(3), Some(2), None]),
            ],
        )
        .unwrap();
        let l = out.as_list::<i32>();
        let v = l.value(0);
        let v = v.as_string::<i32>();
        assert_eq!(v.iter().flatten().collect::<Vec<_>>(), ["ACG", "CGT", "GTa"]);
        assert_eq!(l.value(1).len(), 0);
        assert!(l.is_null(2) && l.is_null(3));
        let e = call(&KmersFunc::default(), vec![text(&[Some("AC")]), int(&[Some(0)])])
            .unwrap_err();
        assert!(e.to_string().contains("kmers: argument `k` must be >= 1, got 0"), "{e}");
    }
}
