//! Genome arguments (`complement`, `slop`, `flank`, `makewindows`): chromosome
//! lengths from an assembly of the database, a query or table with `chrom`
//! and `length` (or `chrom`, `start`, `end`), or a `chrom.sizes` file.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::Session;
use datafusion::common::Result;

use super::source::{has_table, open_file, Intervals, Source};
use crate::error::SqlError;

/// Resolves genome argument `arg` of `function`: a query or table; else, when
/// the database has a `chroms` table, the assembly of that name; else a
/// two-column `chrom.sizes` file.
pub fn resolve(function: &'static str, session: &dyn Session, arg: &str) -> Result<Source> {
    if let Some(s) = Source::query_or_table(function, session, arg)? {
        s.check_columns(function, true)?;
        return Ok(s);
    }
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if plain && has_table(function, session, "chroms") {
        let sql = format!("SELECT chrom, length FROM chroms WHERE assembly = '{arg}' ORDER BY chrom");
        return Source::from_sql(function, session, arg, &sql);
    }
    let reader = open_file(function, session, arg)?;
    Ok(Source::from_rows(arg, read_sizes(function, arg, reader)?))
}

/// Reads a `chrom.sizes` file (chromosome, tab, length; `#` lines skipped).
fn read_sizes(function: &'static str, path: &str, reader: Box<dyn BufRead + Send>) -> Result<RecordBatch, SqlError> {
    let (mut chroms, mut lengths) = (Vec::new(), Vec::new());
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| SqlError::Io { path: path.to_string(), source })?;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split('\t');
        let (Some(c), Some(l)) = (f.next(), f.next()) else {
            return Err(SqlError::Malformed { path: path.into(), line: n as u64 + 1, message: "expected chrom<TAB>length".into() });
        };
        let len: i64 = l.trim().parse().ok().filter(|v| *v >= 0).ok_or_else(|| SqlError::Malformed {
            path: path.into(),
            line: n as u64 + 1,
            message: format!("length '{l}' is not a non-negative integer"),
        })?;
        chroms.push(c.to_string());
        lengths.push(len);
    }
    if chroms.is_empty() {
        return Err(SqlError::Argument { function, message: format!("genome file '{path}' lists no chromosomes") });
    }
    let schema = Arc::new(Schema::new(vec![Field::new("chrom", DataType::Utf8, false), Field::new("length", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(chroms)), Arc::new(Int64Array::from(lengths))])
        .map_err(|e| SqlError::Argument { function, message: e.to_string() })
}

/// Chromosome lengths in the genome's order.
#[derive(Debug)]
pub struct ChromSizes {
    /// (chrom, length), in order.
    pub order: Vec<(String, i64)>,
    by_name: HashMap<String, i64>,
}

impl ChromSizes {
    /// From the rows of a resolved genome source.
    pub fn new(function: &'static str, source: &str, batch: &RecordBatch) -> Result<Self> {
        let ivs = Intervals::new(function, source, batch)?;
        if ivs.is_empty() {
            return Err(SqlError::Argument { function, message: format!("genome '{source}' has no chromosomes") }.into());
        }
        let order: Vec<(String, i64)> = (0..ivs.len()).map(|i| (ivs.chrom.value(i).to_string(), ivs.end[i])).collect();
        let by_name = order.iter().cloned().collect();
        Ok(Self { order, by_name })
    }

    /// The length of `chrom`, or an error naming it.
    pub fn length(&self, function: &'static str, source: &str, chrom: &str) -> Result<i64> {
        self.by_name.get(chrom).copied().ok_or_else(|| {
            SqlError::Argument { function, message: format!("chromosome '{chrom}' is not in the genome '{source}'") }.into()
        })
    }
}
