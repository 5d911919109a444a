//! The interval join and `closest()` give the same rows as bedtools on real
//! BED files (GENCODE genes × ATAC-seq peaks) and on hand-written edge cases
//! (zero-length, nested, book-ended intervals).

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::slt::{data_dir, genomic_context};

fn genes() -> PathBuf {
    data_dir().join("bed/gencode_v28_hg19.protein_coding_l12_genes.bed.gz")
}

fn peaks() -> PathBuf {
    data_dir().join("tracks/SRR891275.peaks.gz")
}

/// Runs a shell pipeline and returns its stdout lines.
fn sh(script: &str) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{script}`: {e}"));
    assert!(
        out.status.success(),
        "`{script}` failed (is bedtools installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output").lines().map(str::to_string).collect()
}

fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null(".");
    let mut out = Vec::new();
    for b in batches {
        let f: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for r in 0..b.num_rows() {
            out.push(f.iter().map(|f| f.value(r).to_string()).collect::<Vec<_>>().join("\t"));
        }
    }
    out.sort();
    out
}

async fn sql(query: &str) -> Vec<String> {
    let ctx = genomic_context();
    let batches = ctx.sql(query).await.expect("plan").collect().await.expect("run");
    rows(&batches)
}

async fn explain(query: &str) -> String {
    let ctx = genomic_context();
    let batches = ctx
        .sql(&format!("EXPLAIN {query}"))
        .await
        .expect("plan")
        .collect()
        .await
        .expect("explain");
    rows(&batches).join("\n")
}

/// Picks fields (0-based) of bedtools output lines, tab-joined and sorted.
fn pick(lines: Vec<String>, fields: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            fields.iter().map(|&i| f[i]).collect::<Vec<_>>().join("\t")
        })
        .collect();
    v.sort();
    v
}

fn overlap_query(a: &Path, b: &Path, a_cols: &str, b_cols: &str, on: &str) -> String {
    format!(
        "SELECT {a_cols}, {b_cols} FROM read_bed('{}') a JOIN read_bed('{}') b ON {on}",
        a.display(),
        b.display()
    )
}

const OVERLAPS_ON: &str = "overlaps(a.chrom, a.start, a.\"end\", b.chrom, b.start, b.\"end\")";
const SQL_ON: &str = "a.chrom = b.chrom AND a.start < b.\"end\" AND b.start < a.\"end\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genes_x_peaks_equals_bedtools_intersect() {
    let (a, b) = (genes(), peaks());
    // Genes: chrom start end name symbol; peaks: broadPeak with unique names.
    let expected = pick(
        sh(&format!("bedtools intersect -wa -wb -a {} -b {}", a.display(), b.display())),
        &[0, 1, 2, 4, 6, 7, 8],
    );
    assert!(expected.len() > 1000, "bedtools found only {} overlaps", expected.len());
    let a_cols = "a.chrom, a.start, a.\"end\", a.score";
    let b_cols = "b.start, b.\"end\", b.name";
    for on in [OVERLAPS_ON, SQL_ON] {
        let q = overlap_query(&a, &b, a_cols, b_cols, on);
        let plan = explain(&q).await;
        assert!(plan.contains("IntervalJoinExec"), "not an interval join:\n{plan}");
        assert!(!plan.contains("HashJoinExec"), "hash join left in the plan:\n{plan}");
        let got = sql(&q).await;
        assert_eq!(got.len(), expected.len(), "row count for ON {on}");
        assert_eq!(got, expected, "rows for ON {on}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_cases_equal_bedtools_intersect() {
    let (a, b) = (data_dir().join("bed/edge_a.bed"), data_dir().join("bed/edge_b.bed"));
    let expected = pick(
        sh(&format!("bedtools intersect -wa -wb -a {} -b {}", a.display(), b.display())),
        &[0, 1, 2, 3, 7, 8, 9],
    );
    assert!(expected.iter().any(|r| r.split('\t').any(|f| f == "b_zero")), "fixture lost its zero-length case");
    let q = overlap_query(&a, &b, "a.chrom, a.start, a.\"end\", a.name", "b.start, b.\"end\", b.name", OVERLAPS_ON);
    assert_eq!(sql(&q).await, expected);
    // Left join = bedtools intersect -loj.
    let expected_loj = pick(
        sh(&format!("bedtools intersect -loj -a {} -b {}", a.display(), b.display())),
        &[0, 1, 2, 3, 7, 8, 9],
    );
    let q = format!(
        "SELECT a.chrom, a.start, a.\"end\", a.name, b.start, b.\"end\", b.name FROM read_bed('{}') a \
         LEFT JOIN read_bed('{}') b ON {OVERLAPS_ON}",
        a.display(),
        b.display()
    );
    // bedtools -loj prints -1 for the missing start/end.
    let got: Vec<String> = sql(&q)
        .await
        .into_iter()
        .map(|r| r.replace("\t.\t.\t.", "\t-1\t-1\t."))
        .collect();
    let mut got = got;
    got.sort();
    assert_eq!(got, expected_loj);
}

async fn closest_equals_bedtools(a: &Path, b: &Path, a_fields: usize, a_cols: &str, b_cols: &str, b_picks: &[usize]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sa, sb) = (dir.path().join("a.bed"), dir.path().join("b.bed"));
    sh(&format!(
        "gzip -cdf {} | grep -v '^#' | sort -k1,1 -k2,2n > {} && gzip -cdf {} | grep -v '^#' | sort -k1,1 -k2,2n > {}",
        a.display(),
        sa.display(),
        b.display(),
        sb.display()
    ));
    let lines = sh(&format!("bedtools closest -d -a {} -b {}", sa.display(), sb.display()));
    let mut fields: Vec<usize> = (0..a_fields).collect();
    fields.extend(b_picks.iter().map(|i| a_fields + i));
    let width = lines.first().map(|l| l.split('\t').count()).unwrap_or(0);
    fields.push(width - 1);
    // bedtools prints ". -1 -1" for "no B on this chromosome"; closest() gives NULLs.
    let expected: Vec<String> = pick(lines, &fields)
        .into_iter()
        .map(|r| r.replace("\t-1\t-1\t", "\t.\t.\t"))
        .collect();
    let mut expected = expected;
    expected.sort();
    let q = format!(
        "SELECT {a_cols}, {b_cols}, distance FROM closest('{}', '{}')",
        a.display(),
        b.display()
    );
    let got = sql(&q).await;
    assert_eq!(got.len(), expected.len(), "row count");
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closest_equals_bedtools_closest() {
    closest_equals_bedtools(
        &genes(),
        &peaks(),
        5,
        "chrom, start, \"end\", name, score",
        "b_start, b_end, b_name",
        &[1, 2, 3],
    )
    .await;
    closest_equals_bedtools(
        &data_dir().join("bed/edge_a.bed"),
        &data_dir().join("bed/edge_b.bed"),
        6,
        "chrom, start, \"end\", name, score, strand",
        "b_start, b_end, b_name",
        &[1, 2, 3],
    )
    .await;
}
