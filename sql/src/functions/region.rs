//! `region(chrom, start, end)`: format a 0-based half-open interval as a
//! 1-based closed region string, `chr1:1-1024`.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::StringBuilder;
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};

const NAME: &str = "region";
const ARGS: [(&str, ArgKind); 3] =
    [("chrom", ArgKind::Text), ("start", ArgKind::Int), ("end", ArgKind::Int)];

/// `region(chrom, start, end) -> Utf8`.
///
/// `start`/`end` are 0-based half-open; the result is 1-based closed
/// (`chrom:start+1-end`). A zero-length interval (`start = end`, an insertion
/// point in BED) renders as `chrom:start+1-start`, which `parse_region` reads
/// back as the same zero-length interval. NULL in any argument gives NULL;
/// a negative start or `end < start` is an error.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegionFunc {
    signature: Signature,
}

impl Default for RegionFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for RegionFunc {
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
        let chrom = Texts::new(&arrays[0], NAME, "chrom")?;
        let start = args::ints(&arrays[1], NAME, "start")?;
        let end = args::ints(&arrays[2], NAME, "end")?;
        let n = start.len();
        let mut out = StringBuilder::with_capacity(n, chrom.total_bytes() + n * 20);
        for i in 0..n {
            let (Some(c), Some(s), Some(e)) =
                (chrom.get(i), args::int_at(start, i), args::int_at(end, i))
            else {
                out.append_null();
                continue;
            };
            if s < 0 {
                return exec_err!("{NAME}: start must be >= 0, got {s} ({c}:{s}-{e})");
            }
            if e < s {
                return exec_err!("{NAME}: end {e} is before start {s} on {c}");
            }
            let Some(first) = s.checked_add(1) else {
                return exec_err!("{NAME}: start {s} does not fit a 1-based position in Int64 ({c}:{s}-{e})");
            };
            // Writing into the builder's value buffer cannot fail.
            let _ = write!(out, "{c}:{first}-{e}");
            out.append_value("");
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
    fn formats_one_based_closed() {
        let out = call(
            &RegionFunc::default(),
            vec![
                text(&[Some("chr1"), Some("chrX"), None, Some("chr2")]),
                int(&[Some(0), Some(99), Some(1), Some(5)]),
                int(&[Some(1024), Some(100), Some(2), Some(5)]),
            ],
        )
        .unwrap();
        let s = out.as_string::<i32>();
        assert_eq!(s.value(0), "chr1:1-1024");
        assert_eq!(s.value(1), "chrX:100-100");
        assert!(s.is_null(2));
        assert_eq!(s.value(3), "chr2:6-5");
    }

    #[test]
    fn rejects_negative_and_inverted() {
        let e = call(
            &RegionFunc::default(),
            vec![text(&[Some("chr1")]), int(&[Some(-1)]), int(&[Some(3)])],
        )
        .unwrap_err();
        assert!(e.to_string().contains("region: start must be >= 0"), "{e}");
        let e = call(
            &RegionFunc::default(),
            vec![text(&[Some("chr1")]), int(&[Some(10)]), int(&[Some(3)])],
        )
        .unwrap_err();
        assert!(e.to_string().contains("end 3 is before start 10 on chr1"), "{e}");
    }
}
