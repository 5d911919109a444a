//! Property test of every genomic scalar function at the edges of the integer
//! range, through SQL: each call gives the value a 128-bit model of the
//! function predicts, or an error naming the function and the bad value. A
//! panic (debug overflow check) fails the test; a wrapped value (release)
//! differs from the model.
//!
//! Coordinates are the edges of every integer type a caller might hold
//! (`i64`, `i32`, `u32`), small values around 0, and a fixed-seed sample of
//! random and near-edge values. Each function is called on whole columns
//! (the array path) and with literals (the scalar path, folded at planning).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{MemorySequenceSource, register_functions};

/// The toy genome's one chromosome, 20 bp.
const CHR1: &str = "ACGTACGTacgtNNNNGGCC";

/// Integer edges: i64, i32 and u32 limits and their neighbours, and 0 ± 2.
const EDGES: [i64; 19] = [
    i64::MIN,
    i64::MIN + 1,
    i32::MIN as i64 - 1,
    i32::MIN as i64,
    -2,
    -1,
    0,
    1,
    2,
    19,
    20,
    21,
    i32::MAX as i64,
    i32::MAX as i64 + 1,
    u32::MAX as i64,
    u32::MAX as i64 + 1,
    i64::MAX - 2,
    i64::MAX - 1,
    i64::MAX,
];

/// The edges plus a fixed-seed sample: uniform, near i64::MIN/MAX, small.
fn values(rng: &mut StdRng) -> Vec<i64> {
    let mut v = EDGES.to_vec();
    for _ in 0..4 {
        v.push(rng.random::<i64>());
        v.push(i64::MAX - rng.random_range(0..1000));
        v.push(i64::MIN + rng.random_range(0..1000));
        v.push(rng.random_range(-30..30));
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// What one call must give: the rendered row, or an error whose message
/// contains every one of the strings.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    Value(String),
    Error(Vec<String>),
}

fn error(parts: &[&dyn ToString]) -> Want {
    Want::Error(parts.iter().map(|p| p.to_string()).collect())
}

/// A session with every genomic function; `sequence()` reads [`CHR1`].
fn session() -> SessionContext {
    let ctx = SessionContext::new();
    register_functions(&ctx, Some(Arc::new(MemorySequenceSource::new("toy", [("chr1", CHR1)]))));
    ctx
}

struct Sql {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
}

impl Sql {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime");
        Self { ctx: session(), rt }
    }

    /// Runs `sql`; every row rendered as its cells joined by `|`.
    fn rows(&self, sql: &str) -> Result<Vec<String>, String> {
        self.rt.block_on(async {
            let batches = self
                .ctx
                .sql(sql)
                .await
                .map_err(|e| e.to_string())?
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok(render(&batches))
        })
    }

    /// Checks one literal call, `SELECT {expr}`, against `want`.
    fn check(&self, expr: &str, want: &Want) {
        let got = self.rows(&format!("SELECT {expr}"));
        match (want, &got) {
            (Want::Value(v), Ok(rows)) if rows.len() == 1 && &rows[0] == v => {}
            (Want::Error(parts), Err(e)) if parts.iter().all(|p| e.contains(p.as_str())) => {}
            _ => panic!("SELECT {expr}\n  want {want:?}\n  got  {got:?}"),
        }
    }

    /// Registers `columns` (plus a row number `id`) as table `t`, replacing it.
    fn table(&self, columns: Vec<(&str, ArrayRef)>) {
        let n = columns[0].1.len();
        let mut fields = vec![Field::new("id", DataType::Int64, false)];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(0..n as i64))];
        for (name, a) in columns {
            fields.push(Field::new(name, a.data_type().clone(), true));
            arrays.push(a);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("test batch");
        let table = MemTable::try_new(schema, vec![vec![batch]]).expect("mem table");
        let _ = self.ctx.deregister_table("t");
        self.ctx.register_table("t", Arc::new(table)).expect("register t");
    }

    /// Checks `SELECT {expr} FROM t ORDER BY id` row by row against `want`.
    fn check_column(&self, expr: &str, want: &[String]) {
        let got = self
            .rows(&format!("SELECT {expr} FROM t ORDER BY id"))
            .unwrap_or_else(|e| panic!("SELECT {expr} FROM t: {e}"));
        assert_eq!(got.len(), want.len(), "{expr}: row count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "{expr}: row {i}");
        }
    }
}

fn render(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let cells: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for r in 0..b.num_rows() {
            rows.push(cells.iter().map(|f| f.value(r).to_string()).collect::<Vec<_>>().join("|"));
        }
    }
    rows
}

fn ints(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(v))
}

fn texts<'a>(v: impl IntoIterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

// ---- models of the functions, in i128 so that nothing can overflow ----

fn region_model(s: i64, e: i64) -> Want {
    if s < 0 {
        error(&[&"region", &"start must be >= 0", &s])
    } else if e < s {
        error(&[&"region", &format!("end {e} is before start {s}")])
    } else if s == i64::MAX {
        error(&[&"region", &"does not fit", &s])
    } else {
        Want::Value(format!("chr1:{}-{e}", i128::from(s) + 1))
    }
}

/// bedtools' zero-length widening.
fn span(s: i64, e: i64) -> (i128, i128) {
    let (s, e) = (i128::from(s), i128::from(e));
    if s == e { (s - 1, e + 1) } else { (s, e) }
}

fn overlap_model(a: (i64, i64), b: (i64, i64)) -> bool {
    let ((a0, a1), (b0, b1)) = (span(a.0, a.1), span(b.0, b.1));
    a0 < b1 && b0 < a1
}

fn distance_model(a: (i64, i64), b: (i64, i64)) -> Want {
    let ((a0, a1), (b0, b1)) = (span(a.0, a.1), span(b.0, b.1));
    let d = if a0 < b1 && b0 < a1 {
        0
    } else if b0 >= a1 {
        b0 - a1 + 1
    } else {
        a0 - b1 + 1
    };
    match i64::try_from(d) {
        Ok(d) => Want::Value(d.to_string()),
        Err(_) => error(&[
            &"interval_distance",
            &format!("chr1:[{}, {})", a.0, a.1),
            &format!("chr1:[{}, {})", b.0, b.1),
            &"does not fit",
        ]),
    }
}

fn pair_error(function: &str, a: (i64, i64), b: (i64, i64)) -> Option<Want> {
    if a.1 < a.0 {
        Some(error(&[&function, &format!("end_a {} is before start_a {}", a.1, a.0)]))
    } else if b.1 < b.0 {
        Some(error(&[&function, &format!("end_b {} is before start_b {}", b.1, b.0)]))
    } else {
        None
    }
}

fn sequence_model(s: i64, e: i64) -> Want {
    let region = format!("chr1:{s}-{e}");
    if s < 0 {
        error(&[&"sequence", &"start must be >= 0", &region])
    } else if e < s {
        error(&[&"sequence", &"end is before start", &region])
    } else if e - s > super::sequence::MAX_SEQUENCE_BP {
        error(&[&"sequence", &"bp limit", &region])
    } else if e > CHR1.len() as i64 {
        error(&[&"sequence", &"outside chr1", &region])
    } else {
        Want::Value(if s == e { String::new() } else { CHR1[s as usize..e as usize].to_string() })
    }
}

/// `parse_region('chrom:a-b')` for decimal texts `a` and `b` (either may be
/// signed or beyond i64); `b = None` is the open form `chrom:a`, whose end is
/// the chromosome's length (20 for chr1, NULL for others).
fn parse_model(chrom: &str, a: &str, b: Option<&str>) -> Want {
    let text = match b {
        Some(b) => format!("{chrom}:{a}-{b}"),
        None => format!("{chrom}:{a}"),
    };
    let value = |t: &str| t.replace(',', "").parse::<i128>().expect("model input is a number");
    let bad = |what: &str, t: &str, why: &str| error(&[&"parse_region", &text, &format!("{what} '{t}' {why}")]);
    let first = value(a);
    if first < 0 {
        return bad("start", a, "is negative");
    }
    if first > i128::from(i64::MAX) {
        return bad("start", a, "is too large");
    }
    if first == 0 {
        return error(&[&"parse_region", &text, &"start 0 is not allowed"]);
    }
    let end = match b {
        Some(b) => {
            let last = value(b);
            if last < 0 {
                return bad("end", b, "is negative");
            }
            if last > i128::from(i64::MAX) {
                return bad("end", b, "is too large");
            }
            if last + 1 < first {
                return error(&[&"parse_region", &text, &format!("end {last} is before start {first}")]);
            }
            Some(last)
        }
        None => (chrom == "chr1").then_some(CHR1.len() as i128),
    };
    if let Some(e) = end
        && e < first - 1
    {
        return error(&[&"parse_region", &text, &"starts after the end of chr1"]);
    }
    let end = end.map_or("NULL".to_string(), |e| e.to_string());
    Want::Value(format!("{chrom}|{}|{end}", first - 1))
}

/// `n` with thousands commas.
fn commas(n: &str) -> String {
    let (sign, digits) = n.strip_prefix('-').map_or(("", n), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

#[test]
fn region_at_integer_edges() {
    let mut rng = StdRng::seed_from_u64(31);
    let v = values(&mut rng);
    let sql = Sql::new();
    let (mut ok_s, mut ok_e, mut want) = (Vec::new(), Vec::new(), Vec::new());
    for &s in &v {
        for &e in &v {
            let w = region_model(s, e);
            sql.check(&format!("region('chr1', {s}, {e})"), &w);
            if let Want::Value(x) = w {
                ok_s.push(s);
                ok_e.push(e);
                want.push(x);
            }
        }
    }
    let n = ok_s.len();
    sql.table(vec![("chrom", texts(std::iter::repeat_n("chr1", n))), ("s", ints(ok_s.clone())), ("e", ints(ok_e.clone()))]);
    sql.check_column("region(chrom, s, e)", &want);
    // Every region() value reads back as the same interval.
    let round: Vec<String> = ok_s.iter().zip(&ok_e).map(|(s, e)| format!("chr1|{s}|{e}")).collect();
    sql.check_column("parse_region(region(chrom, s, e))['chrom'], parse_region(region(chrom, s, e))['start'], parse_region(region(chrom, s, e))['end']", &round);
    // One bad row fails the whole column, naming the row's value.
    sql.table(vec![("chrom", texts(["chr1", "chr1"])), ("s", ints([0, i64::MAX])), ("e", ints([1, i64::MAX]))]);
    let e = sql.rows("SELECT region(chrom, s, e) FROM t").unwrap_err();
    assert!(e.contains("region") && e.contains("9223372036854775807"), "{e}");
}

#[test]
fn overlaps_and_interval_distance_at_integer_edges() {
    let mut rng = StdRng::seed_from_u64(32);
    let v = values(&mut rng);
    let sql = Sql::new();
    let intervals: Vec<(i64, i64)> =
        v.iter().flat_map(|&s| v.iter().filter(move |&&e| e >= s).map(move |&e| (s, e))).collect();
    // Array path: every valid pair in one column.
    let (mut cols, mut overlap_want, mut distance_want) = ([(); 4].map(|_| Vec::new()), Vec::new(), Vec::new());
    let mut distance_errors = Vec::new();
    for &a in &intervals {
        for &b in &intervals {
            match distance_model(a, b) {
                Want::Value(d) => {
                    for (c, x) in cols.iter_mut().zip([a.0, a.1, b.0, b.1]) {
                        c.push(x);
                    }
                    overlap_want.push(overlap_model(a, b).to_string());
                    distance_want.push(d);
                }
                w => distance_errors.push((a, b, w)),
            }
        }
    }
    let n = overlap_want.len();
    let [sa, ea, sb, eb] = cols;
    sql.table(vec![
        ("chrom", texts(std::iter::repeat_n("chr1", n))),
        ("sa", ints(sa)),
        ("ea", ints(ea)),
        ("sb", ints(sb)),
        ("eb", ints(eb)),
    ]);
    sql.check_column("overlaps(chrom, sa, ea, chrom, sb, eb)", &overlap_want);
    sql.check_column("interval_distance(chrom, sa, ea, chrom, sb, eb)", &distance_want);
    // Distances beyond Int64 (only with negative coordinates) are errors.
    assert!(!distance_errors.is_empty());
    for (a, b, w) in distance_errors.iter().step_by(distance_errors.len().div_ceil(200)) {
        sql.check(&format!("interval_distance('chr1', {}, {}, 'chr1', {}, {})", a.0, a.1, b.0, b.1), w);
    }
    // Scalar path, inverted intervals included.
    for _ in 0..600 {
        let mut pick = || v[rng.random_range(0..v.len())];
        let (a, b) = ((pick(), pick()), (pick(), pick()));
        let call = |f: &str| format!("{f}('chr1', {}, {}, 'chr1', {}, {})", a.0, a.1, b.0, b.1);
        let ow = pair_error("overlaps", a, b).unwrap_or_else(|| Want::Value(overlap_model(a, b).to_string()));
        sql.check(&call("overlaps"), &ow);
        let dw = pair_error("interval_distance", a, b).unwrap_or_else(|| distance_model(a, b));
        sql.check(&call("interval_distance"), &dw);
    }
    // Different chromosomes: no overlap and a NULL distance, whatever the coordinates.
    sql.check(&format!("overlaps('chr1', {0}, {0}, 'chr2', {0}, {0})", i64::MIN), &Want::Value("false".into()));
    sql.check(&format!("interval_distance('chr1', {0}, {1}, 'chr2', {1}, {1})", i64::MIN, i64::MAX), &Want::Value("NULL".into()));
}

#[test]
fn sequence_at_integer_edges() {
    let mut rng = StdRng::seed_from_u64(33);
    let v = values(&mut rng);
    let sql = Sql::new();
    let (mut ok_s, mut ok_e, mut want) = (Vec::new(), Vec::new(), Vec::new());
    for &s in &v {
        for &e in &v {
            let w = sequence_model(s, e);
            sql.check(&format!("sequence('chr1', {s}, {e})"), &w);
            if let Want::Value(x) = w {
                ok_s.push(s);
                ok_e.push(e);
                want.push(if x.is_empty() { String::new() } else { x });
            }
        }
    }
    let n = ok_s.len();
    sql.table(vec![("chrom", texts(std::iter::repeat_n("chr1", n))), ("s", ints(ok_s)), ("e", ints(ok_e))]);
    sql.check_column("sequence(chrom, s, e)", &want);
}

#[test]
fn parse_region_at_integer_edges() {
    let mut rng = StdRng::seed_from_u64(34);
    let mut numbers: Vec<String> = values(&mut rng).iter().map(i64::to_string).collect();
    // Beyond i64: u64 edges and a 20-digit number.
    numbers.extend(["9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999"].map(String::from));
    let sql = Sql::new();
    let pick = |r: &str| format!("r['chrom'], r['start'], r['end'] FROM (SELECT parse_region('{r}') AS r)");
    for a in &numbers {
        for chrom in ["chr1", "chrUn"] {
            sql.check(&pick(&format!("{chrom}:{a}")), &parse_model(chrom, a, None));
        }
        for b in &numbers {
            sql.check(&pick(&format!("chrUn:{a}-{b}")), &parse_model("chrUn", a, Some(b)));
            let (ca, cb) = (commas(a), commas(b));
            if !ca.starts_with('-') && !cb.starts_with('-') {
                sql.check(&pick(&format!("chrUn:{ca}-{cb}")), &parse_model("chrUn", &ca, Some(&cb)));
            }
        }
    }
    // The forms the review named.
    for (text, want) in [
        ("chr1:9223372036854775807-9223372036854775807", Want::Value("chr1|9223372036854775806|9223372036854775807".into())),
        ("chr1:9,223,372,036,854,775,807-9,223,372,036,854,775,807", Want::Value("chr1|9223372036854775806|9223372036854775807".into())),
        ("chr1:1-9223372036854775807", Want::Value("chr1|0|9223372036854775807".into())),
        ("chr1:0-5", error(&[&"parse_region", &"'chr1:0-5'", &"start 0 is not allowed"])),
        ("chr1:-5-10", error(&[&"parse_region", &"'chr1:-5-10'", &"start '-5' is negative"])),
        ("chr1:5--10", error(&[&"parse_region", &"'chr1:5--10'", &"end '-10' is negative"])),
        ("chr1:1-9223372036854775808", error(&[&"parse_region", &"end '9223372036854775808' is too large"])),
        ("chr1:9223372036854775808", error(&[&"parse_region", &"start '9223372036854775808' is too large"])),
    ] {
        sql.check(&pick(text), &want);
    }
}

#[test]
fn k_and_sequence_functions_at_integer_edges() {
    let mut rng = StdRng::seed_from_u64(35);
    let v = values(&mut rng);
    let sql = Sql::new();
    for &k in &v {
        for f in ["kmers", "kmer_counts"] {
            let got = sql.rows(&format!("SELECT cardinality({f}('ACGTA', {k}))"));
            let want = if k < 1 {
                Err(vec![f.to_string(), "must be >= 1".into(), k.to_string()])
            } else {
                Ok(vec![match (f, k) {
                    (_, k) if k > 5 => "0".to_string(),
                    ("kmers", k) => (6 - k).to_string(),
                    // ACGTA: every k-mer is distinct except A at k = 1.
                    (_, 1) => "4".to_string(),
                    (_, k) => (6 - k).to_string(),
                }])
            };
            match (&want, &got) {
                (Ok(w), Ok(g)) if w == g => {}
                (Err(parts), Err(e)) if parts.iter().all(|p| e.contains(p.as_str())) => {}
                _ => panic!("{f}('ACGTA', {k}): want {want:?}, got {got:?}"),
            }
        }
    }
    // String-only functions have no coordinates; empty and long inputs.
    let long = "ACGTN".repeat(20_000);
    for (expr, want) in [
        ("gc_content('')".to_string(), "NULL".to_string()),
        (format!("gc_content('{long}')"), "0.5".to_string()),
        ("revcomp('')".to_string(), String::new()),
        (format!("length(revcomp('{long}'))"), "100000".to_string()),
        ("cardinality(tokenize(''))".to_string(), "0".to_string()),
        (format!("cardinality(tokenize('{long}'))"), "100000".to_string()),
    ] {
        sql.check(&expr, &Want::Value(want));
    }
}
