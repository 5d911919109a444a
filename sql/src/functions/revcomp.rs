//! `revcomp(seq)`: reverse complement with IUPAC codes, preserving case.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};
use super::ascii::BytesColumn;

const NAME: &str = "revcomp";
const ARGS: [(&str, ArgKind); 1] = [("seq", ArgKind::Text)];

/// IUPAC complement per byte (0: not a nucleotide code). U complements to A;
/// gaps (`-`, `.`) and `*` map to themselves.
const COMPLEMENT: [u8; 256] = {
    let pairs: [(u8, u8); 17] = [
        (b'A', b'T'), (b'T', b'A'), (b'U', b'A'), (b'C', b'G'), (b'G', b'C'),
        (b'R', b'Y'), (b'Y', b'R'), (b'K', b'M'), (b'M', b'K'), (b'S', b'S'),
        (b'W', b'W'), (b'B', b'V'), (b'V', b'B'), (b'D', b'H'), (b'H', b'D'),
        (b'N', b'N'), (b'X', b'X'),
    ];
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < pairs.len() {
        let (from, to) = pairs[i];
        t[from as usize] = to;
        t[from.to_ascii_lowercase() as usize] = to.to_ascii_lowercase();
        i += 1;
    }
    t[b'-' as usize] = b'-';
    t[b'.' as usize] = b'.';
    t[b'*' as usize] = b'*';
    t
};

/// Appends the reverse complement of `seq` to `out`; on a byte that is not
/// an IUPAC code returns its 0-based position in `seq`.
pub fn reverse_complement_into(seq: &[u8], out: &mut Vec<u8>) -> Result<(), usize> {
    out.reserve(seq.len());
    for (k, &b) in seq.iter().rev().enumerate() {
        let c = COMPLEMENT[b as usize];
        if c == 0 {
            return Err(seq.len() - 1 - k);
        }
        out.push(c);
    }
    Ok(())
}

/// `revcomp(seq) -> Utf8`: reverse complement; IUPAC ambiguity codes map to
/// their complements (R↔Y, K↔M, B↔V, D↔H; S, W, N unchanged), `U` to `A`,
/// case is kept (soft-masking survives). NULL gives NULL; any other
/// character is an error naming it and its 1-based position.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RevcompFunc {
    signature: Signature,
}

impl Default for RevcompFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for RevcompFunc {
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
        Ok(DataType::Utf8)
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let seq = Texts::new(&arrays[0], NAME, "seq")?;
        let n = arrays[0].len();
        let mut out = BytesColumn::with_capacity(n, seq.total_bytes());
        for i in 0..n {
            let Some(s) = seq.get(i) else {
                out.append_null();
                continue;
            };
            if let Err(pos) = reverse_complement_into(s.as_bytes(), out.buffer()) {
                let ch = s[pos..].chars().next().unwrap_or('?');
                return exec_err!(
                    "{NAME}: '{ch}' at position {} is not an IUPAC nucleotide code",
                    pos + 1
                );
            }
            out.end_value(NAME)?;
        }
        args::finish(Arc::new(out.finish(NAME)?), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::test_util::{call, text};
    use arrow::array::{Array, AsArray};

    #[test]
    fn every_code() {
        let rc = |s: &str| {
            let mut v = Vec::new();
            reverse_complement_into(s.as_bytes(), &mut v).unwrap();
            String::from_utf8(v).unwrap()
        };
        assert_eq!(rc("ACGT"), "ACGT");
        assert_eq!(rc("AACg"), "cGTT");
        assert_eq!(rc("RYKMSWBDHVN"), "NBDHVWSKMRY");
        assert_eq!(rc("ryk-"), "-mry");
        assert_eq!(rc("U"), "A");
        assert_eq!(rc(""), "");
    }

    #[test]
    fn nulls_and_errors() {
        let out = call(&RevcompFunc::default(), vec![text(&[Some("GATTACA"), None])]).unwrap();
        let s = out.as_string::<i32>();
        assert_eq!(s.value(0), "TGTAATC");
        assert!(s.is_null(1));
        let e = call(&RevcompFunc::default(), vec![text(&[Some("ACZT")])]).unwrap_err();
        assert!(e.to_string().contains("'Z' at position 3 is not an IUPAC"), "{e}");
    }
}
