//! The interval algebra (`sql/src/intervals`) equals bedtools 2.30: every
//! function against its bedtools command, on real files (GENCODE genes, ATAC-seq
//! peaks, the CEU trio's variants as intervals of their REF, renamed to chr20, the stranded edge-case
//! file) and on random stranded intervals with a fixed seed (unsorted, with
//! zero-length, touching and nested intervals). Sources are given as file paths,
//! tables and queries.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::slt::{data_dir, genomic_context};

/// Runs a shell pipeline and returns its stdout lines.
fn sh(script: &str) -> Vec<String> {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap_or_else(|e| panic!("cannot run `{script}`: {e}"));
    assert!(out.status.success(), "`{script}` failed (is bedtools installed?): {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output").lines().map(str::to_string).collect()
}

/// A field as compared: numbers by value (bedtools prints `0.1000000`, SQL `0.1`).
fn norm(field: &str) -> String {
    match field.parse::<f64>() {
        Ok(v) if field.contains(['.', 'e']) || field.parse::<i64>().is_ok() => format!("{v:.6e}"),
        _ => field.to_string(),
    }
}

fn norm_line(line: &str) -> String {
    line.split('\t').map(norm).collect::<Vec<_>>().join("\t")
}

fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null(".");
    let mut out = Vec::new();
    for b in batches {
        let f: Vec<_> = b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter")).collect();
        for r in 0..b.num_rows() {
            out.push(norm_line(&f.iter().map(|f| f.value(r).to_string()).collect::<Vec<_>>().join("\t")));
        }
    }
    out
}

async fn query(sql: &str) -> Vec<String> {
    query_on(4, sql).await
}

/// `sql`'s rows in a session of `partitions` target partitions (the threads
/// of the parallel file parse and probe).
async fn query_on(partitions: usize, sql: &str) -> Vec<String> {
    let ctx = genomic_context();
    ctx.sql(&format!("SET datafusion.execution.target_partitions = {partitions}")).await.expect("SET target_partitions");
    let batches = ctx.sql(sql).await.unwrap_or_else(|e| panic!("plan {sql}: {e}")).collect().await.unwrap_or_else(|e| panic!("run {sql}: {e}"));
    rows(&batches)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Asserts that `sql` gives bedtools' `command` output (as multisets of lines).
async fn same(sql: &str, command: &str) {
    let expected = sorted(sh(command).iter().map(|l| norm_line(l)).collect());
    let got = sorted(query(sql).await);
    assert!(!expected.is_empty(), "bedtools gave nothing for `{command}`: a test that cannot fail");
    if got != expected {
        let missing: Vec<_> = expected.iter().filter(|l| !got.contains(l)).take(5).collect();
        let extra: Vec<_> = got.iter().filter(|l| !expected.contains(l)).take(5).collect();
        panic!("{sql}\n  != `{command}`\n  rows {} vs {}\n  missing: {missing:#?}\n  extra: {extra:#?}", got.len(), expected.len());
    }
}

/// Test inputs in a temporary directory: sorted copies for bedtools and a genome file.
struct Inputs {
    _dir: tempfile::TempDir,
    /// Random stranded BED6 sets, unsorted.
    a: PathBuf,
    b: PathBuf,
    /// Real files, BED as bedtools reads them.
    genes: PathBuf,
    peaks: PathBuf,
    variants: PathBuf,
    edge: PathBuf,
    /// chrom.sizes covering every chromosome above.
    genome: PathBuf,
}

/// `n` random BED6 intervals on three chromosomes of `len` bases: a tenth
/// zero-length, a tenth starting where the previous one ended, the rest
/// 1-1,500 bp.
fn random_bed(path: &Path, seed: u64, n: usize, len: i64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::new();
    let mut last_end = 0i64;
    for i in 0..n {
        let chrom = ["chr1", "chr2", "chr10"][rng.random_range(0..3)];
        let start = if rng.random_bool(0.1) { last_end.min(len - 1_000) } else { rng.random_range(0..len - 1_000) };
        let size = if rng.random_bool(0.1) { 0 } else { rng.random_range(1..1_500) };
        let end = (start + size).min(len);
        last_end = end;
        let strand = ["+", "-"][rng.random_range(0..2)];
        writeln!(text, "{chrom}\t{start}\t{end}\tr{seed}_{i}\t{}\t{strand}", rng.random_range(0..1000)).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn inputs() -> Inputs {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);
    random_bed(&p("a.bed"), 1, 3_000, 60_000);
    random_bed(&p("b.bed"), 2, 600, 60_000);
    let genes = data_dir().join("bed/gencode_v28_hg19.protein_coding_l12_genes.bed.gz");
    let peaks = data_dir().join("tracks/SRR891275.peaks.gz");
    let vcf = data_dir().join("tracks/CEUtrio_20.vcf.bgz");
    sh(&format!("gzip -cdf {} | sort -k1,1 -k2,2n > {}", genes.display(), p("genes.bed").display()));
    sh(&format!("gzip -cdf {} | sort -k1,1 -k2,2n > {}", peaks.display(), p("peaks.bed").display()));
    sh(&format!(
        "gzip -cdf {} | grep -v '^#' | awk -F'\\t' -v OFS='\\t' '{{print \"chr\" $1, $2-1, $2-1+length($4), $3, 0, \"+\"}}' | sort -k1,1 -k2,2n > {}",
        vcf.display(),
        p("variants.bed").display()
    ));
    sh(&format!("sort -k1,1 -k2,2n {} > {}", data_dir().join("bed/edge_a.bed").display(), p("edge.bed").display()));
    for f in ["a.bed", "b.bed"] {
        sh(&format!("sort -k1,1 -k2,2n -o {0} {0}", p(f).display()));
    }
    // The random sets stay unsorted for omicsdb: a shuffled copy of each.
    for f in ["a", "b"] {
        sh(&format!("awk 'BEGIN {{ srand(7) }} {{ print rand() \"\\t\" $0 }}' {0}.bed | sort -k1,1g | cut -f2- > {0}.shuffled.bed", p(f).display()));
    }
    // Genome: every chromosome of the inputs, 1 kb past its last end.
    sh(&format!(
        "cat {} {} {} {} {} {} | awk -F'\\t' '{{ if ($3 > m[$1]) m[$1] = $3 }} END {{ for (c in m) print c \"\\t\" m[c] + 1000 }}' | sort -k1,1 > {}",
        p("a.bed").display(),
        p("b.bed").display(),
        p("genes.bed").display(),
        p("peaks.bed").display(),
        p("variants.bed").display(),
        p("edge.bed").display(),
        p("genome.txt").display()
    ));
    Inputs {
        a: p("a.bed"),
        b: p("b.bed"),
        genes: p("genes.bed"),
        peaks: p("peaks.bed"),
        variants: p("variants.bed"),
        edge: p("edge.bed"),
        genome: p("genome.txt"),
        _dir: dir,
    }
}

fn shuffled(p: &Path) -> String {
    p.with_extension("shuffled.bed").display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_functions_equal_bedtools() {
    let t = inputs();
    let (a, b) = (shuffled(&t.a), shuffled(&t.b));
    let (sa, sb) = (t.a.display(), t.b.display());
    for (opts, flags) in [("", ""), ("-s", "-s"), ("-S", "-S"), ("-f 0.5", "-f 0.5"), ("-f 0.3 -r", "-f 0.3 -r"), ("-f 0.9 -F 0.9 -e", "-f 0.9 -F 0.9 -e")] {
        // Pairs as -wa -wb; the overlap column as -wo where neither interval is
        // zero-length (bedtools -wo prints 0, -1 or -2 bases for those; omicsdb 0).
        let cols = "chrom, start, \"end\", name, score, strand, b_chrom, b_start, b_end, b_name, b_score, b_strand";
        same(&format!("SELECT {cols} FROM intersect('{a}', '{b}', '{opts}')"), &format!("bedtools intersect -wa -wb {flags} -a {sa} -b {sb}")).await;
        same(
            &format!("SELECT * FROM intersect('{a}', '{b}', '{opts}') WHERE start <> \"end\" AND b_start <> b_end"),
            &format!("bedtools intersect -wo {flags} -a {sa} -b {sb} | awk '$2 != $3 && $8 != $9'"),
        )
        .await;
        same(&format!("SELECT * FROM count_overlaps('{a}', '{b}', '{opts}')"), &format!("bedtools intersect -c {flags} -a {sa} -b {sb}")).await;
    }
    same(&format!("SELECT * FROM intersect('{a}', '{b}', '-u')"), &format!("bedtools intersect -u -a {sa} -b {sb}")).await;
    same(&format!("SELECT * FROM intersect('{a}', '{b}', '-v -s')"), &format!("bedtools intersect -v -s -a {sa} -b {sb}")).await;
    same(&format!("SELECT * FROM intersect('{a}', '{b}', '-u -f 0.5 -r')"), &format!("bedtools intersect -u -f 0.5 -r -a {sa} -b {sb}")).await;
    // Real files: genes x peaks, variants x genes.
    let (g, p, v) = (t.genes.display(), t.peaks.display(), t.variants.display());
    same(&format!("SELECT * FROM intersect('{g}', '{p}')"), &format!("bedtools intersect -wo -a {g} -b {p}")).await;
    same(&format!("SELECT * FROM count_overlaps('{g}', '{p}')"), &format!("bedtools intersect -c -a {g} -b {p}")).await;
    same(&format!("SELECT * FROM intersect('{v}', '{g}', '-v')"), &format!("bedtools intersect -v -a {v} -b {g}")).await;
    // Fractions: bedtools prints 7 digits of a float; compared as covered / length below.
    let drop_last = "| awk -F'\\t' -v OFS='\\t' '{ NF--; print }'";
    same(&format!("SELECT * EXCLUDE (fraction) FROM coverage('{g}', '{p}')"), &format!("bedtools coverage -a {g} -b {p} {drop_last}")).await;
    let off = query(&format!("SELECT count(*) FROM coverage('{g}', '{p}') WHERE abs(fraction - CAST(covered AS DOUBLE) / length) > 1e-12")).await;
    assert_eq!(off, vec![norm("0")]);
    for flags in ["", "-s", "-S"] {
        same(&format!("SELECT * EXCLUDE (fraction) FROM coverage('{a}', '{b}', '{flags}')"), &format!("bedtools coverage {flags} -a {sa} -b {sb} {drop_last}")).await;
    }
    same(&format!("SELECT * EXCLUDE (fraction) FROM coverage('{a}', '{b}', '-hist')"), &format!("bedtools coverage -hist -a {sa} -b {sb} | grep -v '^all' {drop_last}")).await;
    for flags in ["-w 0", "-w 1000", "-l 100 -r 500", "-l 100 -r 500 -sw", "-w 200 -sm", "-w 200 -Sm", "-w 300 -u"] {
        same(&format!("SELECT * FROM window('{a}', '{b}', '{flags}')"), &format!("bedtools window {flags} -a {sa} -b {sb}")).await;
    }
    same(&format!("SELECT * FROM window('{v}', '{g}', '-w 10000 -u')"), &format!("bedtools window -w 10000 -u -a {v} -b {g}")).await;
    same(&format!("SELECT * FROM window('{v}', '{g}', '-w 1000 -v')"), &format!("bedtools window -w 1000 -v -a {v} -b {g}")).await;
    for flags in ["", "-A", "-s", "-f 0.5"] {
        same(&format!("SELECT * FROM subtract('{a}', '{b}', '{flags}')"), &format!("bedtools subtract {flags} -a {sa} -b {sb}")).await;
    }
    same(&format!("SELECT * FROM subtract('{p}', '{g}')"), &format!("bedtools subtract -a {p} -b {g}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearest_equals_bedtools_closest() {
    let t = inputs();
    let (a, b) = (shuffled(&t.a), shuffled(&t.b));
    let (sa, sb) = (t.a.display(), t.b.display());
    // bedtools prints `. -1 -1 ...` where no B is on the chromosome; nearest() NULLs.
    let fix = |cmd: String| {
        format!("{cmd} | sed 's/\\t\\.\\t-1\\t-1\\t\\.\\t-1\\t\\.\\t/\\t.\\t.\\t.\\t.\\t.\\t.\\t/; s/\\t\\.\\t-1\\t-1\\t/\\t.\\t.\\t.\\t/'")
    };
    for (opts, flags) in [
        ("", "-d"),
        ("-k 3", "-k 3 -d"),
        ("-k 2 -t first", "-k 2 -t first -d"),
        ("-k 2 -t last", "-k 2 -t last -d"),
        ("-io", "-io -d"),
        ("-s", "-s -d"),
        ("-S -k 2", "-S -k 2 -d"),
        ("-D ref", "-D ref"),
        ("-D a -iu", "-D a -iu"),
        ("-D b -id -k 2", "-D b -id -k 2"),
    ] {
        same(&format!("SELECT * FROM nearest('{a}', '{b}', '{opts}')"), &fix(format!("bedtools closest {flags} -a {sa} -b {sb}"))).await;
    }
    let (g, p, e) = (t.genes.display(), t.peaks.display(), t.edge.display());
    same(&format!("SELECT * FROM nearest('{g}', '{p}', '-k 2')"), &fix(format!("bedtools closest -k 2 -d -a {g} -b {p}"))).await;
    same(&format!("SELECT * FROM nearest('{e}', '{g}')"), &fix(format!("bedtools closest -d -a {e} -b {g}"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_cluster_complement_equal_bedtools() {
    let t = inputs();
    let a = shuffled(&t.a);
    let (sa, gf) = (t.a.display(), t.genome.display());
    for (opts, flags) in [("", ""), ("-d 100", "-d 100"), ("-d -1", "-d -1")] {
        same(&format!("SELECT chrom, start, \"end\" FROM merge('{a}', '{opts}')"), &format!("bedtools merge {flags} -i {sa}")).await;
    }
    same(&format!("SELECT chrom, start, \"end\" FROM merge('{a}', '-s')"), &format!("bedtools merge -s -i {sa}")).await;
    // n = bedtools merge -c 1 -o count.
    same(&format!("SELECT * FROM merge('{a}', '-d 50')"), &format!("bedtools merge -d 50 -c 1 -o count -i {sa}")).await;
    let p = t.peaks.display();
    same(&format!("SELECT chrom, start, \"end\" FROM merge('{p}', '-d 1000')"), &format!("bedtools merge -d 1000 -i {p}")).await;
    // Clusters: the same rows with the same numbers (both number in sorted order).
    for flags in ["", "-d 200"] {
        same(&format!("SELECT * FROM cluster('{a}', '{flags}')"), &format!("bedtools cluster {flags} -i {sa}")).await;
    }
    // Per strand, bedtools numbers a cluster when it closes, omicsdb where it
    // starts: the same clusters under other numbers.
    let relabel = |lines: Vec<String>| -> Vec<String> {
        let mut lines = sorted(lines);
        let mut ids = std::collections::HashMap::new();
        for l in lines.iter_mut() {
            let (row, id) = l.rsplit_once('\t').unwrap();
            let n = ids.len();
            let new = *ids.entry(id.to_string()).or_insert(n);
            *l = format!("{row}\t{new}");
        }
        lines
    };
    let got = relabel(query(&format!("SELECT * FROM cluster('{a}', '-s')")).await);
    let expected = relabel(sh(&format!("bedtools cluster -s -i {sa}")).iter().map(|l| norm_line(l)).collect());
    assert_eq!(got, expected, "cluster -s");
    same(&format!("SELECT * FROM complement('{a}', '{gf}')"), &format!("bedtools complement -i {sa} -g {gf}")).await;
    same(&format!("SELECT * FROM complement('{p}', '{gf}')"), &format!("bedtools complement -i {p} -g {gf}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slop_flank_makewindows_equal_bedtools() {
    let t = inputs();
    let a = shuffled(&t.a);
    let (sa, gf) = (t.a.display(), t.genome.display());
    for flags in ["-b 100", "-l 50 -r 2000", "-l 50 -r 2000 -s", "-b 0.5 -pct"] {
        same(&format!("SELECT * FROM slop('{a}', '{gf}', '{flags}')"), &format!("bedtools slop {flags} -i {sa} -g {gf}")).await;
    }
    for flags in ["-b 100", "-l 50 -r 0", "-l 0 -r 300 -s", "-l 0.2 -r 0.1 -pct"] {
        same(&format!("SELECT * FROM flank('{a}', '{gf}', '{flags}')"), &format!("bedtools flank {flags} -i {sa} -g {gf}")).await;
    }
    for flags in ["-w 100", "-w 100 -s 30", "-n 3"] {
        same(&format!("SELECT chrom, start, \"end\" FROM makewindows('{a}', '{flags}')"), &format!("bedtools makewindows -b {sa} {flags}")).await;
    }
    same(&format!("SELECT chrom, start, \"end\" FROM makewindows('{gf}', '-w 5000 -s 2000')"), &format!("bedtools makewindows -g {gf} -w 5000 -s 2000")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_are_queries_tables_or_files_and_bad_input_is_named() {
    let t = inputs();
    let (a, b) = (shuffled(&t.a), shuffled(&t.b));
    let ctx = genomic_context();
    ctx.sql(&format!("CREATE VIEW bset AS SELECT * FROM read_bed('{b}')")).await.unwrap().collect().await.unwrap();
    let run = |sql: String| {
        let ctx = ctx.clone();
        async move { rows(&ctx.sql(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await.unwrap()) }
    };
    let from_files = sorted(run(format!("SELECT * FROM count_overlaps('{a}', '{b}')")).await);
    let from_view = sorted(run(format!("SELECT * FROM count_overlaps('{a}', 'bset')")).await);
    let from_query = sorted(run(format!("SELECT * FROM count_overlaps('SELECT * FROM read_bed(''{a}'')', 'SELECT * FROM bset WHERE start >= 0')")).await);
    assert_eq!(from_files, from_view);
    assert_eq!(from_files, from_query);
    // A genome as a query with chrom and length, and results joined like any table.
    let n = run(format!(
        "SELECT count(*) FROM makewindows('SELECT chrom, length FROM (VALUES (''chr1'', 10000), (''chr2'', 2500)) t(chrom, length)', '-w 1000') w \
         JOIN merge('{a}') m ON w.chrom = m.chrom AND w.start < m.\"end\" AND m.start < w.\"end\""
    ))
    .await;
    assert_ne!(n, vec![norm("0")]);
    // Bad input: what and where.
    let err = |sql: String| {
        let ctx = ctx.clone();
        async move {
            match ctx.sql(&sql).await {
                Err(e) => e.to_string(),
                Ok(df) => df.collect().await.map(|_| String::new()).unwrap_or_else(|e| e.to_string()),
            }
        }
    };
    let e = err(format!("SELECT * FROM merge('{a}', '-d x')")).await;
    assert!(e.contains("merge: option -d needs an integer, got 'x'"), "{e}");
    let e = err(format!("SELECT * FROM intersect('{a}', '{b}', '-q')")).await;
    assert!(e.contains("intersect: unknown option '-q'"), "{e}");
    let e = err("SELECT * FROM merge('no_such_table_or_file')".into()).await;
    assert!(e.contains("neither a query, a table nor a readable file"), "{e}");
    let e = err("SELECT * FROM merge('SELECT 1 AS x')".into()).await;
    assert!(e.contains("needs columns chrom, start and end"), "{e}");
    let e = err("SELECT * FROM merge('SELECT ''c'' AS chrom, 5 AS start, 2 AS \"end\"')".into()).await;
    assert!(e.contains("row 1 (c:5-2) is not an interval"), "{e}");
    let e = err(format!("SELECT * FROM slop('{a}', 'SELECT ''chr1'' AS chrom, 100 AS length', '-b 5')")).await;
    assert!(e.contains("chromosome 'chr10' is not in the genome") || e.contains("chromosome 'chr2' is not in the genome"), "{e}");
    let e = err("SELECT * FROM read_bed('/etc/passwd')".into()).await;
    assert!(e.contains("permission denied"), "{e}");
    let e = err("SELECT * FROM merge('/etc/hosts')".into()).await;
    assert!(e.contains("permission denied"), "{e}");
}

/// Inputs large enough for the parallel paths: a file of several parse blocks
/// read side by side, and probe batches cut into pieces for the workers. The
/// rows equal bedtools' and, row for row in order, a one-thread run's; a
/// count(*) that gathers no column counts the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_parse_and_probe_equal_one_thread_and_bedtools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.bed"), dir.path().join("b.bed"));
    // About 7 MB for A (two 4 MiB parse blocks) and 200,000 rows (four probe pieces).
    random_bed(&a, 11, 200_000, 20_000_000);
    random_bed(&b, 12, 50_000, 20_000_000);
    let (sa, sb) = (dir.path().join("a.sorted.bed"), dir.path().join("b.sorted.bed"));
    sh(&format!("sort -k1,1 -k2,2n {} > {}", a.display(), sa.display()));
    sh(&format!("sort -k1,1 -k2,2n {} > {}", b.display(), sb.display()));
    let (a, b, sa, sb) = (a.display(), b.display(), sa.display(), sb.display());
    // read_bed's rows may be spread over partitions: compared as multisets.
    let file = format!("SELECT * FROM read_bed('{a}')");
    assert_eq!(sorted(query_on(4, &file).await), sorted(query_on(1, &file).await), "{file}: 4 threads vs 1");
    let queries = [
        format!("SELECT * FROM intersect('{a}', '{b}')"),
        format!("SELECT chrom, b_end FROM intersect('{a}', '{b}', '-f 0.2')"),
        format!("SELECT * FROM nearest('{a}', '{b}', '-t first')"),
        format!("SELECT * FROM count_overlaps('{a}', '{b}', '-s')"),
    ];
    for sql in &queries {
        let (many, one) = (query_on(4, sql).await, query_on(1, sql).await);
        assert_eq!(many.len(), one.len(), "{sql}: rows on 4 threads vs 1");
        assert!(many == one, "{sql}: 4 threads gave other rows or another order than 1");
    }
    let cols = "chrom, start, \"end\", name, score, strand, b_chrom, b_start, b_end, b_name, b_score, b_strand";
    same(&format!("SELECT {cols} FROM intersect('{a}', '{b}')"), &format!("bedtools intersect -wa -wb -a {sa} -b {sb}")).await;
    same(&format!("SELECT * FROM nearest('{a}', '{b}', '-t first')"), &format!("bedtools closest -d -t first -a {sa} -b {sb}")).await;
    same(&format!("SELECT * FROM count_overlaps('{a}', '{b}', '-s')"), &format!("bedtools intersect -c -s -a {sa} -b {sb}")).await;
    let pairs = sh(&format!("bedtools intersect -wa -wb -a {sa} -b {sb} | wc -l"));
    assert_eq!(query_on(4, &format!("SELECT count(*) FROM intersect('{a}', '{b}')")).await, vec![norm(pairs[0].trim())]);
    let near = sh(&format!("bedtools closest -d -t first -a {sa} -b {sb} | wc -l"));
    assert_eq!(query_on(4, &format!("SELECT count(*) FROM nearest('{a}', '{b}', '-t first')")).await, vec![norm(near[0].trim())]);
}
