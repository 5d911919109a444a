//! `gc_content(seq)`: fraction of G and C among the A, C, G, T bases.

use std::sync::Arc;

use arrow::array::Float64Builder;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};

const NAME: &str = "gc_content";
const ARGS: [(&str, ArgKind); 1] = [("seq", ArgKind::Text)];

/// Per byte: 1 for A/T, 2 for G/C (either case), 0 for anything else.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'A' as usize] = 1;
    t[b'T' as usize] = 1;
    t[b'a' as usize] = 1;
    t[b't' as usize] = 1;
    t[b'C' as usize] = 2;
    t[b'G' as usize] = 2;
    t[b'c' as usize] = 2;
    t[b'g' as usize] = 2;
    t
};

/// GC fraction of `seq`: (G+C) / (A+C+G+T), case-insensitive, ignoring N and
/// other IUPAC codes; `None` when the sequence has no A, C, G or T.
pub fn gc_fraction(seq: &[u8]) -> Option<f64> {
    let (mut at, mut gc) = (0u64, 0u64);
    for &b in seq {
        match CLASS[b as usize] {
            1 => at += 1,
            2 => gc += 1,
            _ => {}
        }
    }
    let acgt = at + gc;
    (acgt > 0).then(|| gc as f64 / acgt as f64)
}

/// `gc_content(seq) -> Float64`: see [`gc_fraction`]. NULL for NULL input
/// and for sequences without any A/C/G/T (e.g. all N).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GcContentFunc {
    signature: Signature,
}

impl Default for GcContentFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for GcContentFunc {
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
        Ok(DataType::Float64)
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let seq = Texts::new(&arrays[0], NAME, "seq")?;
        let n = arrays[0].len();
        let mut out = Float64Builder::with_capacity(n);
        for i in 0..n {
            out.append_option(seq.get(i).and_then(|s| gc_fraction(s.as_bytes())));
        }
        args::finish(Arc::new(out.finish()), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::test_util::{call, text};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;

    #[test]
    fn counts_gc_case_insensitive() {
        assert_eq!(gc_fraction(b"GGCC"), Some(1.0));
        assert_eq!(gc_fraction(b"acgtNNNN"), Some(0.5));
        assert_eq!(gc_fraction(b"gAtTaCa"), Some(2.0 / 7.0));
        assert_eq!(gc_fraction(b"NNNRY"), None);
        assert_eq!(gc_fraction(b""), None);
    }

    #[test]
    fn column_with_nulls() {
        let out = call(&GcContentFunc::default(), vec![text(&[Some("GC"), None, Some("NN")])])
            .unwrap();
        let f = out.as_primitive::<Float64Type>();
        assert_eq!(f.value(0), 1.0);
        assert!(f.is_null(1) && f.is_null(2));
    }
}
