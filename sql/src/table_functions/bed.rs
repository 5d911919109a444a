//! Parsing BED3–BED12, narrowPeak and broadPeak files into Arrow columns.

use std::io::{BufRead, Read};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema};

use crate::error::SqlError;
use crate::workers::Workers;

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

    fn finish(self) -> Part {
        match self {
            Builder::Text(mut b) => Part::Array(Arc::new(b.finish())),
            Builder::Int(mut b) => Part::Array(Arc::new(b.finish())),
            Builder::Float(mut b) => Part::Array(Arc::new(b.finish())),
            Builder::IntList(mut b) => Part::Array(Arc::new(b.finish())),
            Builder::Score { mut raw, all_int, all_num } => Part::Score { raw: raw.finish(), all_int, all_num },
        }
    }
}

/// One block's values of a column.
enum Part {
    Array(ArrayRef),
    /// Scores as text, and whether every one is an integer / a number.
    Score { raw: StringArray, all_int: bool, all_num: bool },
}

impl Part {
    /// The column of every block, in order. Scores are Int64 if every value
    /// of the file is an integer, Float64 if every value is a number, text
    /// otherwise.
    fn concat(parts: Vec<Part>) -> Result<ArrayRef, arrow::error::ArrowError> {
        let (mut arrays, mut ints, mut nums, mut score) = (Vec::with_capacity(parts.len()), true, true, false);
        for p in parts {
            match p {
                Part::Array(a) => arrays.push(a),
                Part::Score { raw, all_int, all_num } => {
                    (ints, nums, score) = (ints && all_int, nums && all_num, true);
                    arrays.push(Arc::new(raw) as ArrayRef);
                }
            }
        }
        let whole = match arrays.as_slice() {
            [one] => Arc::clone(one),
            _ => arrow::compute::concat(&arrays.iter().map(|a| a.as_ref()).collect::<Vec<_>>())?,
        };
        if !score || !(ints || nums) {
            return Ok(whole);
        }
        let raw = whole.as_string::<i32>();
        Ok(if ints {
            Arc::new(raw.iter().map(|v| v.and_then(|s| s.parse().ok())).collect::<arrow::array::Int64Array>())
        } else {
            Arc::new(raw.iter().map(|v| v.and_then(|s| s.parse().ok())).collect::<arrow::array::Float64Array>())
        })
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

/// Splits `line` into `fields` (reused between lines): at tabs, or at runs of
/// whitespace in a file without tabs.
fn split_into<'a>(line: &'a str, fields: &mut Vec<&'a str>) {
    fields.clear();
    if line.contains('\t') {
        fields.extend(line.split('\t'));
    } else {
        fields.extend(line.split_whitespace());
    }
}

/// Bytes of whole lines per block; a parse works on one block per worker.
const BLOCK_BYTES: usize = 4 << 20;

/// Whole-line blocks of a reader, each with the 1-based number of its first line.
struct Blocks<R> {
    reader: R,
    /// Bytes per block (more for a longer line).
    size: usize,
    carry: Vec<u8>,
    lines: u64,
    done: bool,
}

impl<R: BufRead> Blocks<R> {
    fn next(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        let mut buf = std::mem::take(&mut self.carry);
        loop {
            if !self.done && buf.len() < self.size {
                let want = (self.size - buf.len()) as u64;
                if self.reader.by_ref().take(want).read_to_end(&mut buf)? == 0 {
                    self.done = true;
                }
                continue;
            }
            if buf.is_empty() {
                return Ok(None);
            }
            match memchr::memrchr(b'\n', &buf) {
                Some(i) if !self.done => self.carry = buf.split_off(i + 1),
                // No newline yet: a line longer than a block; read on.
                None if !self.done => {
                    let more = (buf.len() + self.size) as u64;
                    if self.reader.by_ref().take(more).read_to_end(&mut buf)? == 0 {
                        self.done = true;
                    }
                    continue;
                }
                // The end of the input: the rest is the last block.
                _ => {}
            }
            let first = self.lines + 1;
            self.lines += memchr::memchr_iter(b'\n', &buf).count() as u64;
            return Ok(Some((first, buf)));
        }
    }
}

/// The columns of a file, fixed by its first record.
struct Layout {
    cols: Vec<(String, Kind)>,
}

/// `text` as UTF-8, or the line (numbered from `first`) where it is not.
fn block_text<'a>(path: &str, first: u64, text: &'a [u8]) -> Result<&'a str, SqlError> {
    std::str::from_utf8(text).map_err(|e| SqlError::Malformed {
        path: path.to_string(),
        line: first + memchr::memchr_iter(b'\n', &text[..e.valid_up_to()]).count() as u64,
        message: "not UTF-8 text".into(),
    })
}

/// The records of a block: each line that is not a header, without its line
/// end, with its index in the block.
fn records(text: &str) -> impl Iterator<Item = (u64, &str)> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n').enumerate().map(|(n, l)| (n as u64, l.trim_end_matches('\r'))).filter(|(_, l)| !is_header(l))
}

/// The layout of the first record of `block` (numbered from `first`), or
/// `None` when it has only header lines.
fn detect_layout(path: &str, format: Option<BedFormat>, first: u64, block: &[u8]) -> Result<Option<Layout>, SqlError> {
    let text = block_text(path, first, block)?;
    let mut fields = Vec::new();
    if let Some((n, line)) = records(text).next() {
        let malformed = |message: String| SqlError::Malformed { path: path.to_string(), line: first + n, message };
        split_into(line, &mut fields);
        let f = match format {
            Some(f) => f,
            None => BedFormat::detect(path, &fields)
                .ok_or_else(|| malformed(format!("expected at least 3 columns, found {}", fields.len())))?,
        };
        if fields.len() < f.standard_columns() {
            return Err(malformed(format!("{f:?} needs {} columns, found {}", f.standard_columns(), fields.len())));
        }
        let mut cols: Vec<(String, Kind)> = columns(f).into_iter().map(|(n, k)| (n.to_string(), k)).collect();
        for i in cols.len()..fields.len() {
            cols.push((format!("field_{}", i + 1), Kind::Text));
        }
        return Ok(Some(Layout { cols }));
    }
    Ok(None)
}

/// The records of one block (lines numbered from `first`), a part per column.
fn parse_block(path: &str, layout: &Layout, first: u64, block: &[u8]) -> Result<Vec<Part>, SqlError> {
    let text = block_text(path, first, block)?;
    let cols = &layout.cols;
    let mut builders: Vec<Builder> = cols.iter().map(|(_, k)| Builder::new(*k)).collect();
    let mut fields = Vec::with_capacity(cols.len());
    for (n, line) in records(text) {
        let malformed = |message: String| SqlError::Malformed { path: path.to_string(), line: first + n, message };
        split_into(line, &mut fields);
        if fields.len() != cols.len() {
            return Err(malformed(format!("expected {} columns like the first record, found {}", cols.len(), fields.len())));
        }
        let start: i64 = fields[1].parse().map_err(|_| malformed(format!("column 2 (start): '{}' is not an integer", fields[1])))?;
        let end: i64 = fields[2].parse().map_err(|_| malformed(format!("column 3 (end): '{}' is not an integer", fields[2])))?;
        if start < 0 || end < start {
            return Err(malformed(format!("invalid interval: start {start}, end {end} (need 0 <= start <= end)")));
        }
        for (i, ((name, kind), b)) in cols.iter().zip(builders.iter_mut()).enumerate() {
            match (i, &mut *b) {
                (1, Builder::Int(b)) => b.append_value(start),
                (2, Builder::Int(b)) => b.append_value(end),
                _ => b.push(*kind, fields[i]).map_err(|m| malformed(format!("column {} ({name}): {m}", i + 1)))?,
            }
        }
    }
    Ok(builders.into_iter().map(Builder::finish).collect())
}

/// Reads a whole BED-like file into one record batch. `format` forces the
/// layout; otherwise it is detected with [`BedFormat::detect`]. Errors name
/// the file, the 1-based line and the column.
pub fn read_bed(path: &str, reader: impl BufRead, format: Option<BedFormat>) -> Result<RecordBatch, SqlError> {
    read_bed_on(path, reader, format, &Workers::default())
}

/// [`read_bed`], parsing blocks of lines side by side on `workers` (the same
/// rows, in the file's order; the first malformed line in the file is the one
/// reported).
pub fn read_bed_on(path: &str, reader: impl BufRead, format: Option<BedFormat>, workers: &Workers) -> Result<RecordBatch, SqlError> {
    read_blocks(path, reader, format, workers, BLOCK_BYTES)
}

/// [`read_bed_on`] with blocks of `size` bytes.
fn read_blocks(path: &str, reader: impl BufRead, format: Option<BedFormat>, workers: &Workers, size: usize) -> Result<RecordBatch, SqlError> {
    let io = |source| SqlError::Io { path: path.to_string(), source };
    let mut blocks = Blocks { reader, size, carry: Vec::new(), lines: 0, done: false };
    let mut layout: Option<Layout> = None;
    // Each column's parts, a part per block.
    let mut columns: Vec<Vec<Part>> = Vec::new();
    loop {
        let mut group = Vec::with_capacity(workers.threads());
        while group.len() < workers.threads() {
            match blocks.next().map_err(io)? {
                Some(b) => group.push(b),
                None => break,
            }
        }
        if group.is_empty() {
            break;
        }
        if layout.is_none() {
            for (first, block) in &group {
                layout = detect_layout(path, format, *first, block)?;
                if layout.is_some() {
                    break;
                }
            }
        }
        let Some(l) = &layout else { continue };
        columns.resize_with(l.cols.len(), Vec::new);
        for parts in workers.map(group, |(first, block)| parse_block(path, l, first, &block)) {
            for (column, part) in columns.iter_mut().zip(parts?) {
                column.push(part);
            }
        }
    }
    // A layout is found only in a block that is then parsed.
    let Some(layout) = layout else {
        // An empty file is an empty BED3.
        let schema = Arc::new(Schema::new(vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
        ]));
        return Ok(RecordBatch::new_empty(schema));
    };
    let cannot = |e: arrow::error::ArrowError| SqlError::Malformed { path: path.to_string(), line: blocks.lines, message: format!("cannot build the table: {e}") };
    let arrays = columns.into_iter().map(|c| Part::concat(c).map_err(cannot)).collect::<Result<Vec<ArrayRef>, _>>()?;
    let fields: Vec<Field> = layout
        .cols
        .iter()
        .zip(&arrays)
        .map(|((name, _), a)| {
            let required = matches!(name.as_str(), "chrom" | "start" | "end");
            Field::new(name, a.data_type().clone(), !required)
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(cannot)
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

    /// Blocks of a few bytes (so lines cross block ends, and some lines are
    /// longer than a block) give the rows and errors of one whole block.
    #[test]
    fn small_blocks_read_like_one_block() {
        let text = "track name=x\n#c\nchr1\t0\t10\tg1\t5\t+\r\n\nchr2\t3\t3\tg2\t.\t-\nchr2\t4\t9\ta_much_longer_name_than_any_block\t7\t+\nchr3\t1\t2\tg4\t8\t.";
        let workers = Workers::new(3).unwrap();
        let whole = read(text, None).unwrap();
        assert_eq!(whole.num_rows(), 4);
        assert_eq!(whole.column(4).data_type(), &DataType::Int64);
        for size in [1, 7, 16, 40, 1 << 20] {
            let b = read_blocks("t.bed", text.as_bytes(), None, &workers, size).unwrap();
            assert_eq!(b, whole, "blocks of {size} bytes");
        }
        // Scores: integers in one block and a fraction in a later one make the column Float64; a word makes it text.
        let mixed = "c\t0\t1\tn\t5\t+\nc\t0\t1\tn\t2.5\t+\n";
        let b = read_blocks("t.bed", mixed.as_bytes(), None, &workers, 8).unwrap();
        assert_eq!(b.column(4).as_primitive::<Float64Type>().values().to_vec(), [5.0, 2.5]);
        let b = read_blocks("t.bed", format!("{mixed}c\t0\t1\tn\tx\t+\n").as_bytes(), None, &workers, 8).unwrap();
        assert_eq!(b.column(4).as_string::<i32>().value(2), "x");
        // The first bad line of the file is reported, with its number, whichever block it is in.
        let bad = "chr1\t0\t10\nchr1\t0\t10\nchr1\tx\t5\nchr1\t9\t5\n";
        for size in [1, 12, 1 << 20] {
            let e = read_blocks("t.bed", bad.as_bytes(), None, &workers, size).unwrap_err().to_string();
            assert_eq!(e, "t.bed:3: column 2 (start): 'x' is not an integer", "blocks of {size} bytes");
        }
        let e = read_blocks("t.bed", b"chr1\t0\t10\nchr\xff\t0\t1\n".as_slice(), None, &workers, 4).unwrap_err().to_string();
        assert_eq!(e, "t.bed:2: not UTF-8 text");
        // Only header lines: an empty BED3.
        let b = read_blocks("t.bed", b"#a\n#b\n".as_slice(), None, &workers, 2).unwrap();
        assert_eq!((b.num_rows(), b.num_columns()), (0, 3));
    }
}
