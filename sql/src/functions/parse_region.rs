//! `parse_region(text)`: read a 1-based closed region string into a
//! 0-based half-open struct(chrom, start, end).

use std::sync::Arc;

use arrow::array::{Int64Builder, StringBuilder, StructArray};
use arrow::array::builder::NullBufferBuilder;
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};
use super::SequenceSource;

const NAME: &str = "parse_region";
const ARGS: [(&str, ArgKind); 1] = [("region", ArgKind::Text)];

/// `parse_region(text) -> struct(chrom Utf8, start Int64, end Int64)`.
///
/// Accepted forms (surrounding whitespace ignored, commas allowed in numbers):
/// - `chr1:1,000-2,000`: 1-based closed, gives start 999, end 2000;
/// - `chr1:1000`: from base 1000 to the end of the chromosome (samtools);
/// - `chr1`: the whole chromosome, start 0.
///
/// Where the end is open (`chr1`, `chr1:1000`) it is the chromosome's length
/// if the session's [`SequenceSource`] knows it, otherwise NULL.
/// `chr1:6-5` (end one before start) is the zero-length interval `[5, 5)`,
/// as written by `region()`. Position 0, other inverted ranges, empty names
/// and non-numeric coordinates are errors naming the offending text.
#[derive(Debug)]
pub struct ParseRegionFunc {
    signature: Signature,
    lengths: Option<Arc<dyn SequenceSource>>,
}

impl ParseRegionFunc {
    /// A `parse_region` that looks up chromosome lengths in `lengths`.
    pub fn new(lengths: Option<Arc<dyn SequenceSource>>) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), lengths }
    }

    /// The struct type the function returns.
    pub fn struct_fields() -> Fields {
        Fields::from(vec![
            Field::new("chrom", DataType::Utf8, true),
            Field::new("start", DataType::Int64, true),
            Field::new("end", DataType::Int64, true),
        ])
    }
}

impl PartialEq for ParseRegionFunc {
    fn eq(&self, other: &Self) -> bool {
        match (&self.lengths, &other.lengths) {
            (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
            (None, None) => true,
            _ => false,
        }
    }
}
impl Eq for ParseRegionFunc {}
impl std::hash::Hash for ParseRegionFunc {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        NAME.hash(state);
        self.lengths.as_ref().map(|a| Arc::as_ptr(a) as *const () as usize).hash(state);
    }
}

/// A parsed region: chromosome, 0-based start, optional end.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedRegion<'a> {
    /// The chromosome name.
    pub chrom: &'a str,
    /// 0-based start.
    pub start: i64,
    /// 0-based exclusive end; `None` for "to the end of the chromosome".
    pub end: Option<i64>,
}

/// Parses one region string; the error message names the text.
pub fn parse(text: &str) -> Result<ParsedRegion<'_>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty region".into());
    }
    let Some((chrom, coords)) = t.rsplit_once(':') else {
        if t.contains(char::is_whitespace) {
            return Err(format!("invalid region '{text}': whitespace in chromosome name"));
        }
        return Ok(ParsedRegion { chrom: t, start: 0, end: None });
    };
    if chrom.is_empty() || chrom.contains(char::is_whitespace) {
        return Err(format!("invalid region '{text}': missing or invalid chromosome name"));
    }
    // The separator is the first '-' after the start's own digits, so that a
    // negative start ("-5-10") is reported as negative, not as missing.
    let split = coords.char_indices().skip(1).find(|&(_, c)| c == '-').map(|(i, _)| i);
    let (first, last) = match split {
        Some(i) => (&coords[..i], Some(&coords[i + 1..])),
        None => (coords, None),
    };
    let first_text = first;
    let first = number(first).map_err(|why| format!("invalid region '{text}': start '{first_text}' {why}"))?;
    if first == 0 {
        return Err(format!("invalid region '{text}': positions are 1-based, start 0 is not allowed"));
    }
    let end = match last {
        None => None,
        Some(b) => {
            let last = number(b).map_err(|why| format!("invalid region '{text}': end '{b}' {why}"))?;
            // `first >= 1`, so `first - 1` cannot overflow (`last + 1` could).
            if last < first - 1 {
                return Err(format!(
                    "invalid region '{text}': end {last} is before start {first}"
                ));
            }
            Some(last)
        }
    };
    Ok(ParsedRegion { chrom, start: first - 1, end })
}

/// A non-negative decimal with optional thousands commas that fits in an
/// `i64`; otherwise why not ("is not a number", "is negative", "is too
/// large").
fn number(s: &str) -> Result<i64, &'static str> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if digits.is_empty() || digits.starts_with(',') || digits.ends_with(',') {
        return Err("is not a number");
    }
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return Err("is not a number");
    }
    if negative {
        return Err("is negative");
    }
    let mut v: i64 = 0;
    for b in digits.bytes().filter(u8::is_ascii_digit) {
        v = v.checked_mul(10).and_then(|v| v.checked_add(i64::from(b - b'0'))).ok_or("is too large")?;
    }
    Ok(v)
}

impl ScalarUDFImpl for ParseRegionFunc {
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
        Ok(DataType::Struct(Self::struct_fields()))
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let texts = Texts::new(&arrays[0], NAME, "region")?;
        let n = arrays[0].len();
        let mut chroms = StringBuilder::with_capacity(n, texts.total_bytes());
        let mut starts = Int64Builder::with_capacity(n);
        let mut ends = Int64Builder::with_capacity(n);
        let mut nulls = NullBufferBuilder::new(n);
        for i in 0..n {
            let Some(t) = texts.get(i) else {
                chroms.append_null();
                starts.append_null();
                ends.append_null();
                nulls.append_null();
                continue;
            };
            let r = match parse(t) {
                Ok(r) => r,
                Err(msg) => return exec_err!("{NAME}: {msg}"),
            };
            let end = match r.end {
                Some(e) => Some(e),
                None => self
                    .lengths
                    .as_ref()
                    .and_then(|l| l.chrom_length(None, r.chrom))
                    .and_then(|l| i64::try_from(l).ok()),
            };
            if let Some(e) = end
                && e < r.start
            {
                return exec_err!("{NAME}: region '{t}' starts after the end of {} ({e})", r.chrom);
            }
            chroms.append_value(r.chrom);
            starts.append_value(r.start);
            ends.append_option(end);
            nulls.append_non_null();
        }
        let out = StructArray::try_new(
            Self::struct_fields(),
            vec![Arc::new(chroms.finish()), Arc::new(starts.finish()), Arc::new(ends.finish())],
            nulls.finish(),
        )?;
        args::finish(Arc::new(out), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::test_util::{call, text};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    #[test]
    fn parses_all_forms() {
        fn ok(t: &str) -> ParsedRegion<'_> {
            parse(t).unwrap()
        }
        assert_eq!(ok("chr1:1,000-2,000"), ParsedRegion { chrom: "chr1", start: 999, end: Some(2000) });
        assert_eq!(ok(" chrX:1-1 "), ParsedRegion { chrom: "chrX", start: 0, end: Some(1) });
        assert_eq!(ok("chr1"), ParsedRegion { chrom: "chr1", start: 0, end: None });
        assert_eq!(ok("chr1:1000"), ParsedRegion { chrom: "chr1", start: 999, end: None });
        assert_eq!(ok("chr2:6-5"), ParsedRegion { chrom: "chr2", start: 5, end: Some(5) });
        assert_eq!(ok("HLA-A*01:01:5-9"), ParsedRegion { chrom: "HLA-A*01:01", start: 4, end: Some(9) });
    }

    #[test]
    fn rejects_garbage() {
        for (t, want) in [
            ("", "empty region"),
            ("chr1:0-10", "start 0 is not allowed"),
            ("chr1:10-5", "end 5 is before start 10"),
            ("chr1:abc-5", "start 'abc' is not a number"),
            ("chr1:5-x", "end 'x' is not a number"),
            (":5-10", "missing or invalid chromosome"),
            ("chr1:1,,-5", "is not a number"),
            ("chr1:99999999999999999999-1", "start '99999999999999999999' is too large"),
        ] {
            let e = parse(t).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        }
    }

    #[derive(Debug)]
    struct Lengths;
    impl SequenceSource for Lengths {
        fn fetch(&self, _: Option<&str>, _: &str, _: u64, _: u64) -> Result<Vec<u8>, String> {
            Err("no bases".into())
        }
        fn chrom_length(&self, _: Option<&str>, chrom: &str) -> Option<u64> {
            (chrom == "chr1").then_some(5000)
        }
    }

    #[test]
    fn builds_struct_with_nulls_and_lengths() {
        let f = ParseRegionFunc::new(Some(Arc::new(Lengths)));
        let out = call(&f, vec![text(&[Some("chr1"), None, Some("chr2"), Some("chr1:10-20")])])
            .unwrap();
        let s = out.as_struct();
        assert!(s.is_null(1));
        let starts = s.column(1).as_primitive::<Int64Type>();
        let ends = s.column(2).as_primitive::<Int64Type>();
        assert_eq!(s.column(0).as_string::<i32>().value(0), "chr1");
        assert_eq!((starts.value(0), ends.value(0)), (0, 5000));
        assert!(ends.is_null(2));
        assert_eq!((starts.value(3), ends.value(3)), (9, 20));
        let e = call(&f, vec![text(&[Some("chr1:6000")])]).unwrap_err();
        assert!(e.to_string().contains("starts after the end of chr1"), "{e}");
    }
}
