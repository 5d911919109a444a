//! `sequence(chrom, start, end [, assembly])`: reference bases of a region.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, ArgKind, Texts};
use super::ascii::BytesColumn;
use super::SequenceSource;

const NAME: &str = "sequence";
const ARGS: [(&str, ArgKind); 4] = [
    ("chrom", ArgKind::Text),
    ("start", ArgKind::Int),
    ("end", ArgKind::Int),
    ("assembly", ArgKind::Text),
];

/// The largest region `sequence()` returns in one value, in base pairs.
pub const MAX_SEQUENCE_BP: i64 = 10_000_000;

/// `sequence(chrom, start, end [, assembly]) -> Utf8`: the bases of
/// `[start, end)` (0-based half-open) as stored (soft-masked bases stay
/// lower case). Without `assembly` the source's default assembly is used.
/// NULL in any argument gives NULL. Errors name the region: negative or
/// inverted coordinates, regions over [`MAX_SEQUENCE_BP`], and whatever the
/// [`SequenceSource`] reports (unknown chromosome, end past the chromosome).
#[derive(Debug)]
pub struct SequenceFunc {
    signature: Signature,
    source: Option<Arc<dyn SequenceSource>>,
}

impl SequenceFunc {
    /// A `sequence` reading from `source`; with `None` every call fails with
    /// an error saying that no sequence source is attached.
    pub fn new(source: Option<Arc<dyn SequenceSource>>) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), source }
    }
}

impl PartialEq for SequenceFunc {
    fn eq(&self, other: &Self) -> bool {
        match (&self.source, &other.source) {
            (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
            (None, None) => true,
            _ => false,
        }
    }
}
impl Eq for SequenceFunc {}
impl std::hash::Hash for SequenceFunc {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        NAME.hash(state);
        self.source.as_ref().map(|a| Arc::as_ptr(a) as *const () as usize).hash(state);
    }
}

impl ScalarUDFImpl for SequenceFunc {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::coerce(NAME, &ARGS, 1, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(source) = &self.source else {
            return exec_err!("{NAME}: no sequence source is attached to this session");
        };
        let scalar = args::all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let chrom = Texts::new(&arrays[0], NAME, "chrom")?;
        let start = args::ints(&arrays[1], NAME, "start")?;
        let end = args::ints(&arrays[2], NAME, "end")?;
        let assembly = match arrays.get(3) {
            Some(a) => Some(Texts::new(a, NAME, "assembly")?),
            None => None,
        };
        let n = start.len();
        let mut budget = args::OutputBudget::new(NAME, &args.config_options);
        let mut out = BytesColumn::with_capacity(n, 0);
        for i in 0..n {
            let (Some(c), Some(s), Some(e)) =
                (chrom.get(i), args::int_at(start, i), args::int_at(end, i))
            else {
                out.append_null();
                continue;
            };
            let asm = match &assembly {
                Some(a) => match a.get(i) {
                    Some(v) => Some(v),
                    None => {
                        out.append_null();
                        continue;
                    }
                },
                None => None,
            };
            if s < 0 {
                return exec_err!("{NAME}: start must be >= 0, got {c}:{s}-{e}");
            }
            if e < s {
                return exec_err!("{NAME}: end is before start in {c}:{s}-{e}");
            }
            if e - s > MAX_SEQUENCE_BP {
                return exec_err!(
                    "{NAME}: region {c}:{s}-{e} is {} bp, more than the {MAX_SEQUENCE_BP} bp limit",
                    e - s
                );
            }
            budget.charge((e - s) as u64)?;
            // s and e are non-negative here, so the casts are lossless.
            match source.fetch(asm, c, s as u64, e as u64) {
                Ok(bases) => {
                    if bases.len() as i64 != e - s {
                        return exec_err!(
                            "{NAME}: source returned {} bases for {c}:{s}-{e}",
                            bases.len()
                        );
                    }
                    out.buffer().extend_from_slice(&bases);
                    out.end_value(NAME)?;
                }
                Err(msg) => return exec_err!("{NAME}: {c}:{s}-{e}: {msg}"),
            }
        }
        args::finish(Arc::new(out.finish(NAME)?), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::test_util::{call, int, text};
    use crate::functions::MemorySequenceSource;
    use arrow::array::{Array, AsArray};

    fn source() -> Arc<dyn SequenceSource> {
        Arc::new(MemorySequenceSource::new("hg38", [("chr1", "ACGTacgtNN")]))
    }

    #[test]
    fn fetches_with_nulls() {
        let f = SequenceFunc::new(Some(source()));
        let out = call(
            &f,
            vec![
                text(&[Some("chr1"), Some("chr1"), None]),
                int(&[Some(2), Some(0), Some(0)]),
                int(&[Some(6), Some(0), Some(1)]),
            ],
        )
        .unwrap();
        let s = out.as_string::<i32>();
        assert_eq!(s.value(0), "GTac");
        assert_eq!(s.value(1), "");
        assert!(s.is_null(2));
    }

    #[test]
    fn errors_name_the_region() {
        let f = SequenceFunc::new(Some(source()));
        let run = |c: &str, s: i64, e: i64| {
            call(&f, vec![text(&[Some(c)]), int(&[Some(s)]), int(&[Some(e)])])
                .unwrap_err()
                .to_string()
        };
        assert!(run("chrZ", 0, 5).contains("sequence: chrZ:0-5: unknown chromosome 'chrZ'"));
        assert!(run("chr1", 5, 20).contains("chr1:5-20"));
        assert!(run("chr1", 5, 2).contains("end is before start in chr1:5-2"));
        assert!(run("chr1", 0, 20_000_000).contains("more than the 10000000 bp limit"));
        let none = SequenceFunc::new(None);
        let e = call(&none, vec![text(&[Some("chr1")]), int(&[Some(0)]), int(&[Some(1)])])
            .unwrap_err();
        assert!(e.to_string().contains("no sequence source"), "{e}");
    }
}
