//! `tokenize(seq)`: HyenaDNA character-tokenizer ids of a sequence.

use std::sync::Arc;

use arrow::array::{Int32Builder, ListBuilder};
use arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use omicsdb_model::tokenizer::token_id;

use super::args::{self, ArgKind, Texts};

const NAME: &str = "tokenize";
const ARGS: [(&str, ArgKind); 1] = [("seq", ArgKind::Text)];

/// `tokenize(seq) -> List<Int32>`: one HyenaDNA token id per base, without
/// special tokens (what the model is fed), as `omicsdb_model::tokenizer`:
/// `A C G T N` → 7 8 9 10 11; lowercase `a c g t n` → `[UNK]` 6 (the tokenizer
/// is case-sensitive; apply `upper()` first to fold soft-masking). Any other
/// character is an error naming it and its 1-based position. NULL gives NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TokenizeFunc {
    signature: Signature,
}

impl Default for TokenizeFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for TokenizeFunc {
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
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))))
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let seq = Texts::new(&arrays[0], NAME, "seq")?;
        let n = arrays[0].len();
        // One 4-byte id per base and a 4-byte offset per row.
        let mut budget = args::OutputBudget::new(NAME, &args.config_options);
        budget.charge((seq.total_bytes() as u64).saturating_mul(4).saturating_add(4 * n as u64))?;
        let values = Int32Builder::with_capacity(seq.total_bytes());
        let mut out = ListBuilder::with_capacity(values, n);
        for i in 0..n {
            let Some(s) = seq.get(i) else {
                out.append_null();
                continue;
            };
            for (pos, b) in s.bytes().enumerate() {
                match token_id(b) {
                    // Ids are below the vocabulary size (12), so they fit i32.
                    Some(id) => out.values().append_value(id as i32),
                    None => {
                        let ch = s.get(pos..).and_then(|t| t.chars().next()).unwrap_or('?');
                        return exec_err!(
                            "{NAME}: '{ch}' at position {} is not a HyenaDNA token (A, C, G, T, N)",
                            pos + 1
                        );
                    }
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
    use crate::functions::test_util::{call, text};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int32Type;

    #[test]
    fn matches_model_tokenizer() {
        let seq = "ACGTNacgtn";
        let out = call(&TokenizeFunc::default(), vec![text(&[Some(seq), None])]).unwrap();
        let l = out.as_list::<i32>();
        let ids: Vec<i32> = l.value(0).as_primitive::<Int32Type>().values().to_vec();
        let want: Vec<i32> = omicsdb_model::tokenizer::tokenize(seq.as_bytes())
            .unwrap()
            .into_iter()
            .map(|v| v as i32)
            .collect();
        assert_eq!(ids, want);
        assert_eq!(ids, [7, 8, 9, 10, 11, 6, 6, 6, 6, 6]);
        assert!(l.is_null(1));
        let e = call(&TokenizeFunc::default(), vec![text(&[Some("AC-T")])]).unwrap_err();
        assert!(e.to_string().contains("'-' at position 3 is not a HyenaDNA token"), "{e}");
    }
}
