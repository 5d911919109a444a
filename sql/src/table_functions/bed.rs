//! Parsing BED3–BED12, narrowPeak and broadPeak files into Arrow columns.

use std::io::BufRead;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema};

use crate::error::SqlError;

/// The layout of a BED-like file: how many leading columns have a standard
/// meaning. Further columns are read as text named `field_<n>` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BedFormat {
    /// BED3 to BED12.
    Bed(usize),
    /// ENCODE narrowPeak (BED6+4: signal_value, p_value, q_value, peak).
    NarrowPeak,
    /// ENCODE broadPeak (BED6+3: signal_value, p_value, q_value).
    BroadPeak,
}

impl BedFormat {
    /// Parses a format name: `bed3`..`bed12`, `narrowPeak`, `broadPeak`
    /// (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "narrowpeak" => Some(Self::NarrowPeak),
            "broadpeak" => Some(Self::BroadPeak),
            _ => {
                let n: usize = lower.strip_prefix("bed")?.parse().ok()?;
                (3..=12).contains(&n).then_some(Self::Bed(n))
            }
        }
    }

    /// Number of standard columns.
    pub fn standard_columns(self) -> usize {
        match self {
            Self::Bed(n) => n,
            Self::NarrowPeak => 10,
            Self::BroadPeak => 9,
        }
    }

    /// Guesses the format from the path and the first record's fields: the
    /// extension names a peak format; otherwise 10 columns are narrowPeak,
    /// 9 columns broadPeak unless columns 7 and 8 are integers (BED9), more
    /// than 12 columns are BED12 plus text columns.
    pub fn detect(path: &str, fields: &[&str]) -> Option<Self> {
        let lower = path.to_ascii_lowercase();
        if lower.contains("narrowpeak") {
            return Some(Self::NarrowPeak);
        }
        if lower.contains("broadpeak") {
            return Some(Self::BroadPeak);
        }
        match fields.len() {
            0..=2 => None,
            9 => {
                let ints = fields[6].parse::<i64>().is_ok() && fields[7].parse::<i64>().is_ok();
                Some(if ints { Self::Bed(9) } else { Self::BroadPeak })
            }
            10 => Some(Self::NarrowPeak),
            n => Some(Self::Bed(n.min(12))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Float,
    /// Int64 if every value is an integer, Float64 if every value is a number,
    /// text otherwise; `.` is NULL.
    Score,
    Strand,
    IntList,
}

fn columns(format: BedFormat) -> Vec<(&'static str, Kind)> {
    let bed = [
        ("chrom", Kind::Text),
        ("start", Kind::Int),
        ("end", Kind::Int),
        ("name", Kind::Text),
        ("score", Kind::Score),
        ("strand", Kind::Strand),
        ("thick_start", Kind::Int),
        ("thick_end", Kind::Int),
        ("item_rgb", Kind::Text),
        ("block_count", Kind::Int),
        ("block_sizes", Kind::IntList),
        ("block_starts", Kind::IntList),
    ];
    let peak = [("signal_value", Kind::Float), ("p_value", Kind::Float), ("q_value", Kind::Float)];
    match format {
        BedFormat::Bed(n) => bed[..n].to_vec(),
        BedFormat::BroadPeak => bed[..6].iter().chain(&peak).copied().collect(),
        BedFormat::NarrowPeak => {
            let mut v: Vec<_> = bed[..6].iter().chain(&peak).copied().collect();
            v.push(("peak", Kind::Int));
            v
        }
    }
}

enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Score { raw: StringBuilder, all_int: bool, all_num: bool },
    IntList(ListBuilder<Int64Builder>),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Text | Kind::Strand => Builder::Text(StringBuilder::new()),
            Kind::Int => Builder::Int(Int64Builder::new()),
            Kind::Float => Builder::Float(Float64Builder::new()),
            Kind::Score => Builder::Score { raw: StringBuilder::new(), all_int: true, all_num: true },
            Kind::IntList => Builder::IntList(ListBuilder::new(Int64Builder::new())),
        }
    }

    fn push(&mut self, kind: Kind, v: &str) -> Result<(), String> {
        match self {
            Builder::Text(b) => {
                if kind == Kind::Strand && !matches!(v, "+" | "-" | ".") {
                    return Err(format!("'{v}' is not a strand (+, - or .)"));
                }
                b.append_value(v);
            }
            Builder::Int(b) => b.append_value(
                v.parse().map_err(|_| format!("'{v}' is not an integer"))?,
            ),
            Builder::Float(b) => {
                b.append_value(v.parse().map_err(|_| format!("'{v}' is not a number"))?)
            }
            Builder::Score { raw, all_int, all_num } => {
                if v == "." {
                    raw.append_null();
                } else {
                    if *all_int && v.parse::<i64>().is_err() {
                        *all_int = false;
                    }
                    if *all_num && !*all_int && v.parse::<f64>().is_err() {
                        *all_num = false;
                    }
                    raw.append_value(v);
                }
            }
            Builder::IntList(b) => {
                for part in v.split(',').filter(|p| !p.is_empty()) {
                    let n = part
                        .parse()
                        .map_err(|_| format!("'{v}' is not a comma-separated list of integers"))?;
                    b.values().append_value(n);
                }
                b.append(true);
            }
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Float(mut b) => Arc::new(b.finish()),
            Builder::IntList(mut b) => Arc::new(b.finish()),
            Builder::Score { mut raw, all_int, all_num } => {
                let raw = raw.finish();
                if all_int {
                    let ints: arrow::array::Int64Array =
                        raw.iter().map(|v| v.and_then(|s| s.parse().ok())).collect();
                    Arc::new(ints)
                } else if all_num {
                    let f: arrow::array::Float64Array =
                        raw.iter().map(|v| v.and_then(|s| s.parse().ok())).collect();
                    Arc::new(f)
                } else {
                    Arc::new(raw)
                }
            }
        }
    }
}

/// Whether a line carries no record (blank, comment, track or browser line).
fn is_header(line: &str) -> bool {
    line.is_empty()
        || line.starts_with('#')
        || line.starts_with("track ")
        || line.starts_with("track\t")
        || line.starts_with("browser ")
        || line.starts_with("browser\t")
}

fn split(line: &str) -> Vec<&str> {
    if line.contains('\t') { line.split('\t').collect() } else { line.split_whitespace().collect() }
}

/// Reads a whole BED-like file into one record batch. `format` forces the
/// layout; otherwise it is detected with [`BedFormat::detect`]. Errors name
/// the file, the 1-based line and the column.
pub fn read_bed(
    path: &str,
    reader: impl BufRead,
    format: Option<BedFormat>,
) -> Result<RecordBatch, SqlError> {
    let malformed =
        |line: u64, message: String| SqlError::Malformed { path: path.to_string(), line, message };
    let io = |source| SqlError::Io { path: path.to_string(), source };
    let mut reader = reader;
    let mut buf = String::new();
    let mut line_no = 0u64;
    let mut layout: Option<(Vec<(String, Kind)>, Vec<Builder>)> = None;
    loop {
        buf.clear();
        if reader.read_line(&mut buf).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let line = buf.trim_end_matches(['\n', '\r']);
        if is_header(line) {
            continue;
        }
        let fields = split(line);
        let (cols, builders) = match &mut layout {
            Some(l) => (&l.0, &mut l.1),
            None => {
                let f = match format {
                    Some(f) => f,
                    None => BedFormat::detect(path, &fields).ok_or_else(|| {
                        malformed(line_no, format!("expected at least 3 columns, found {}", fields.len()))
                    })?,
                };
                if fields.len() < f.standard_columns() {
                    return Err(malformed(
                        line_no,
                        format!("{f:?} needs {} columns, found {}", f.standard_columns(), fields.len()),
                    ));
                }
                let mut cols: Vec<(String, Kind)> =
                    columns(f).into_iter().map(|(n, k)| (n.to_string(), k)).collect();
                for i in cols.len()..fields.len() {
                    cols.push((format!("field_{}", i + 1), Kind::Text));
                }
                let builders = cols.iter().map(|(_, k)| Builder::new(*k)).collect();
                let l = layout.insert((cols, builders));
                (&l.0, &mut l.1)
            }
        };
        if fields.len() != cols.len() {
            return Err(malformed(
                line_no,
                format!("expected {} columns like the first record, found {}", cols.len(), fields.len()),
            ));
        }
        let start: i64 = fields[1].parse().map_err(|_| {
            malformed(line_no, format!("column 2 (start): '{}' is not an integer", fields[1]))
        })?;
        let end: i64 = fields[2].parse().map_err(|_| {
            malformed(line_no, format!("column 3 (end): '{}' is not an integer", fields[2]))
        })?;
        if start < 0 || end < start {
            return Err(malformed(
                line_no,
                format!("invalid interval: start {start}, end {end} (need 0 <= start <= end)"),
            ));
        }
        for (i, ((name, kind), b)) in cols.iter().zip(builders.iter_mut()).enumerate() {
            b.push(*kind, fields[i])
                .map_err(|m| malformed(line_no, format!("column {} ({name}): {m}", i + 1)))?;
        }
    }
    let Some((cols, builders)) = layout else {
        // An empty file is an empty BED3.
        let schema = Arc::new(Schema::new(vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
        ]));
        return Ok(RecordBatch::new_empty(schema));
    };
    let arrays: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
    let fields: Vec<Field> = cols
        .iter()
        .zip(&arrays)
        .map(|((name, _), a)| {
            let required = matches!(name.as_str(), "chrom" | "start" | "end");
            Field::new(name, a.data_type().clone(), !required)
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| malformed(line_no, format!("cannot build the table: {e}")))
}

/// Rows of `batch` as `chrom`, `start`, `end` slices (for callers that index
/// intervals); `None` if those columns are missing or mistyped.
pub fn interval_columns(
    batch: &RecordBatch,
) -> Option<(&arrow::array::StringArray, &arrow::array::Int64Array, &arrow::array::Int64Array)> {
    let c = batch.column_by_name("chrom")?.as_string_opt::<i32>()?;
    let s = batch.column_by_name("start")?.as_primitive_opt::<arrow::datatypes::Int64Type>()?;
    let e = batch.column_by_name("end")?.as_primitive_opt::<arrow::datatypes::Int64Type>()?;
    Some((c, s, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use arrow::datatypes::{Float64Type, Int64Type};

    fn read(text: &str, format: Option<BedFormat>) -> Result<RecordBatch, SqlError> {
        read_bed("t.bed", text.as_bytes(), format)
    }

    #[test]
    fn bed6_with_header_and_null_score() {
        let b = read("track name=x\n#c\nchr1\t0\t10\tg1\t5\t+\nchr2\t3\t3\tg2\t.\t-\n", None).unwrap();
        let names: Vec<_> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["chrom", "start", "end", "name", "score", "strand"]);
        let score = b.column(4).as_primitive::<Int64Type>();
        assert_eq!(score.value(0), 5);
        assert!(score.is_null(1));
        assert_eq!(b.num_rows(), 2);
    }

    #[test]
    fn bed12_blocks_and_extra_columns() {
        let line = "chr1\t10\t100\tx\t0\t+\t20\t90\t255,0,0\t2\t10,20,\t0,70,\textra\n";
        let b = read(line, None).unwrap();
        assert_eq!(b.schema().field(12).name(), "field_13");
        let sizes = b.column(10).as_list::<i32>().value(0);
        assert_eq!(sizes.as_primitive::<Int64Type>().values().to_vec(), [10, 20]);
    }

    #[test]
    fn peaks_detected() {
        let np = "chr19\t893202\t893659\t.\t0\t.\t16.705\t8.587900e+01\t3.311255e-82\t240\n";
        let b = read(np, None).unwrap();
        assert_eq!(b.schema().field(9).name(), "peak");
        assert_eq!(b.column(6).as_primitive::<Float64Type>().value(0), 16.705);
        let bp = "chr1\t569780\t570073\tp1\t6620\t.\t30.46574\t669.15131\t662.06726\n";
        let b = read(bp, None).unwrap();
        assert_eq!(b.schema().field(8).name(), "q_value");
        let b = read("chr1\t1\t2\tx\t0\t+\t1\t2\t0\n", None).unwrap();
        assert_eq!(b.schema().field(8).name(), "item_rgb");
    }

    #[test]
    fn text_scores_stay_text() {
        let b = read("chr1\t65419\t71585\t.\tOR4F5\n", None).unwrap();
        assert_eq!(b.column(4).as_string::<i32>().value(0), "OR4F5");
    }

    #[test]
    fn malformed_lines_name_file_line_and_column() {
        let e = read("chr1\t0\t10\nchr1\tx\t5\n", None).unwrap_err().to_string();
        assert_eq!(e, "t.bed:2: column 2 (start): 'x' is not an integer");
        let e = read("chr1\t0\t10\nchr1\t0\n", None).unwrap_err().to_string();
        assert_eq!(e, "t.bed:2: expected 3 columns like the first record, found 2");
        let e = read("chr1\t10\t5\n", None).unwrap_err().to_string();
        assert!(e.starts_with("t.bed:1: invalid interval: start 10, end 5"), "{e}");
        let e = read("chr1\t0\t5\tn\t0\t*\n", None).unwrap_err().to_string();
        assert!(e.contains("column 6 (strand): '*' is not a strand"), "{e}");
        let e = read("chr1\t0\t5\n", Some(BedFormat::Bed(6))).unwrap_err().to_string();
        assert!(e.contains("needs 6 columns, found 3"), "{e}");
    }
}
