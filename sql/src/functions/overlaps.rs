//! `overlaps(chrom_a, start_a, end_a, chrom_b, start_b, end_b)` and
//! `interval_distance(...)`: pairwise interval relations, bedtools semantics.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Int64Array, Int64Builder};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};
use crate::coords;

/// Name of the overlap function (the interval-join rule looks for it).
pub const OVERLAPS_NAME: &str = "overlaps";
const DISTANCE_NAME: &str = "interval_distance";
const ARGS: [(&str, ArgKind); 6] = [
    ("chrom_a", ArgKind::Text),
    ("start_a", ArgKind::Int),
    ("end_a", ArgKind::Int),
    ("chrom_b", ArgKind::Text),
    ("start_b", ArgKind::Int),
    ("end_b", ArgKind::Int),
];

/// The six argument columns of one call.
struct Pairs<'a> {
    chrom_a: Texts<'a>,
    start_a: &'a Int64Array,
    end_a: &'a Int64Array,
    chrom_b: Texts<'a>,
    start_b: &'a Int64Array,
    end_b: &'a Int64Array,
}

/// One row: `None` if any argument is NULL.
type Row<'a> = Option<(&'a str, i64, i64, &'a str, i64, i64)>;

impl<'a> Pairs<'a> {
    fn new(function: &str, a: &'a [ArrayRef]) -> Result<Self> {
        Ok(Self {
            chrom_a: Texts::new(&a[0], function, "chrom_a")?,
            start_a: args::ints(&a[1], function, "start_a")?,
            end_a: args::ints(&a[2], function, "end_a")?,
            chrom_b: Texts::new(&a[3], function, "chrom_b")?,
            start_b: args::ints(&a[4], function, "start_b")?,
            end_b: args::ints(&a[5], function, "end_b")?,
        })
    }

    fn row(&self, function: &str, i: usize) -> Result<Row<'a>> {
        let (Some(ca), Some(sa), Some(ea), Some(cb), Some(sb), Some(eb)) = (
            self.chrom_a.get(i),
            args::int_at(self.start_a, i),
            args::int_at(self.end_a, i),
            self.chrom_b.get(i),
            args::int_at(self.start_b, i),
            args::int_at(self.end_b, i),
        ) else {
            return Ok(None);
        };
        if ea < sa {
            return exec_err!("{function}: end_a {ea} is before start_a {sa} ({ca})");
        }
        if eb < sb {
            return exec_err!("{function}: end_b {eb} is before start_b {sb} ({cb})");
        }
        Ok(Some((ca, sa, ea, cb, sb, eb)))
    }
}

/// `overlaps(chrom_a, start_a, end_a, chrom_b, start_b, end_b) -> Boolean`:
/// true when both intervals (0-based half-open) are on the same chromosome
/// and share at least one base. Zero-length intervals follow bedtools: `[p, p)`
/// counts as `[p-1, p+1)`, so it overlaps intervals ending or starting at `p`
/// (see [`crate::coords`]). Book-ended intervals do not overlap. NULL in any
/// argument gives NULL; `end < start` is an error. As a join condition it is
/// planned as an interval join.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OverlapsFunc {
    signature: Signature,
}

impl Default for OverlapsFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for OverlapsFunc {
    fn name(&self) -> &str {
        OVERLAPS_NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::coerce(OVERLAPS_NAME, &ARGS, 0, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let p = Pairs::new(OVERLAPS_NAME, &arrays)?;
        let n = arrays[1].len();
        let mut out = BooleanBuilder::with_capacity(n);
        for i in 0..n {
            out.append_option(p.row(OVERLAPS_NAME, i)?.map(|(ca, sa, ea, cb, sb, eb)| {
                ca == cb && coords::overlaps(sa, ea, sb, eb)
            }));
        }
        args::finish(Arc::new(out.finish()), scalar)
    }
}

/// `interval_distance(chrom_a, start_a, end_a, chrom_b, start_b, end_b) ->
/// Int64`: `bedtools closest -d` distance: 0 when the intervals overlap,
/// otherwise the gap in bases plus one (book-ended intervals are at distance
/// 1), symmetric in a and b; NULL for different chromosomes or any NULL
/// argument; `end < start` is an error.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IntervalDistanceFunc {
    signature: Signature,
}

impl Default for IntervalDistanceFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for IntervalDistanceFunc {
    fn name(&self) -> &str {
        DISTANCE_NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::coerce(DISTANCE_NAME, &ARGS, 0, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let p = Pairs::new(DISTANCE_NAME, &arrays)?;
        let n = arrays[1].len();
        let mut out = Int64Builder::with_capacity(n);
        for i in 0..n {
            let Some((ca, sa, ea, cb, sb, eb)) = p.row(DISTANCE_NAME, i)? else {
                out.append_null();
                continue;
            };
            if ca != cb {
                out.append_null();
                continue;
            }
            match coords::distance(sa, ea, sb, eb) {
                Some(d) => out.append_value(d),
                None => {
                    return exec_err!(
                        "{DISTANCE_NAME}: the distance between {ca}:[{sa}, {ea}) and {cb}:[{sb}, {eb}) does not fit in Int64"
                    );
                }
            }
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

    fn six(rows: &[(Option<&str>, i64, i64, &str, i64, i64)]) -> Vec<ColumnarValue> {
        vec![
            text(&rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            int(&rows.iter().map(|r| Some(r.1)).collect::<Vec<_>>()),
            int(&rows.iter().map(|r| Some(r.2)).collect::<Vec<_>>()),
            text(&rows.iter().map(|r| Some(r.3)).collect::<Vec<_>>()),
            int(&rows.iter().map(|r| Some(r.4)).collect::<Vec<_>>()),
            int(&rows.iter().map(|r| Some(r.5)).collect::<Vec<_>>()),
        ]
    }

    #[test]
    fn overlap_and_distance_rows() {
        let rows = [
            (Some("chr1"), 10, 20, "chr1", 15, 30),
            (Some("chr1"), 10, 20, "chr1", 20, 30),
            (Some("chr1"), 10, 20, "chr2", 10, 20),
            (None, 10, 20, "chr1", 10, 20),
            (Some("chr1"), 5, 5, "chr1", 0, 5),
            (Some("chr1"), 100, 200, "chr1", 60, 70),
        ];
        let o = call(&OverlapsFunc::default(), six(&rows)).unwrap();
        let o = o.as_boolean();
        assert_eq!(
            (0..4).map(|i| o.is_valid(i).then(|| o.value(i))).collect::<Vec<_>>(),
            [Some(true), Some(false), Some(false), None]
        );
        assert!(o.value(4) && !o.value(5));
        let d = call(&IntervalDistanceFunc::default(), six(&rows)).unwrap();
        let d = d.as_primitive::<Int64Type>();
        assert_eq!(d.value(0), 0);
        assert_eq!(d.value(1), 1);
        assert!(d.is_null(2) && d.is_null(3));
        assert_eq!(d.value(4), 0);
        assert_eq!(d.value(5), 31);
    }

    #[test]
    fn inverted_is_error() {
        let e = call(&OverlapsFunc::default(), six(&[(Some("chr1"), 20, 10, "chr1", 0, 5)]))
            .unwrap_err();
        assert!(e.to_string().contains("overlaps: end_a 10 is before start_a 20 (chr1)"), "{e}");
    }
}
