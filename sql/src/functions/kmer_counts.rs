//! `kmer_counts(seq, k)`: how often each k-mer occurs in a sequence.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Int64Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};
use super::kmers::check_row;

const NAME: &str = "kmer_counts";
const ARGS: [(&str, ArgKind); 2] = [("seq", ArgKind::Text), ("k", ArgKind::Int)];

fn entry_fields() -> Fields {
    Fields::from(vec![
        Field::new("kmer", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
    ])
}

/// `kmer_counts(seq, k) -> List<Struct(kmer Utf8, count Int64)>`: one entry
/// per distinct overlapping k-mer, sorted by k-mer (byte order), counted
/// exactly as written (case-sensitive; apply `upper()` first to fold
/// soft-masking). A list of structs rather than a Map so that it unnests and
/// compares in plain SQL. Shorter than `k`: empty list; NULL in: NULL out;
/// `k < 1` is an error.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KmerCountsFunc {
    signature: Signature,
}

impl Default for KmerCountsFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for KmerCountsFunc {
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
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Struct(entry_fields()),
            true,
        ))))
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
        let entries = StructBuilder::new(
            entry_fields(),
            vec![Box::new(StringBuilder::new()), Box::new(Int64Builder::new())],
        );
        let mut out = ListBuilder::with_capacity(entries, n);
        // Reused across rows so that each row costs no allocation once warm.
        let mut counts: HashMap<&str, i64> = HashMap::new();
        let mut sorted: Vec<(&str, i64)> = Vec::new();
        for i in 0..n {
            let (Some(s), Some(k)) = (seq.get(i), args::int_at(ks, i)) else {
                out.append_null();
                continue;
            };
            let k = check_row(NAME, s, k)?;
            counts.clear();
            if s.len() >= k {
                for j in 0..=s.len() - k {
                    *counts.entry(&s[j..j + k]).or_insert(0) += 1;
                }
            }
            // Each entry: k value bytes, a 4-byte offset and an 8-byte count.
            budget.charge((counts.len() as u64).saturating_mul(k as u64 + 12))?;
            sorted.clear();
            sorted.extend(counts.iter().map(|(k, v)| (*k, *v)));
            sorted.sort_unstable();
            let st = out.values();
            for (kmer, count) in &sorted {
                if let Some(b) = st.field_builder::<StringBuilder>(0) {
                    b.append_value(kmer);
                }
                if let Some(b) = st.field_builder::<Int64Builder>(1) {
                    b.append_value(*count);
                }
                st.append(true);
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
    use arrow::datatypes::Int64Type;

    #[test]
    fn counts_sorted() {
        let out = call(
            &KmerCountsFunc::default(),
            vec![text(&[Some("AAAT"), Some("A"), None]), int(&[Some(2), Some(2), Some(2)])],
        )
        .unwrap();
        let l = out.as_list::<i32>();
        let row = l.value(0);
        let row = row.as_struct();
        let kmers: Vec<_> = row.column(0).as_string::<i32>().iter().flatten().collect();
        let counts: Vec<_> = row.column(1).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(kmers, ["AA", "AT"]);
        assert_eq!(counts, [2, 1]);
        assert_eq!(l.value(1).len(), 0);
        assert!(l.is_null(2));
    }
}
