//! SQL benchmark on an hg38-scale window set (3.1 M windows of 1 kb from a
//! synthetic genome with hg38's chromosome sizes), beside DuckDB on the same
//! Parquet files, tabix on a bgzipped BED of the same windows, and
//! `bedtools intersect` for overlap joins.
//!
//! ```sh
//! pip install duckdb; apt-get install tabix bedtools
//! cargo run --release -p omicsdb-benches --features engine --bin bench_sql -- [--work DIR]
//! ```
//! With `--work DIR` the synthetic genome and database are kept and reused.

#[path = "../synth.rs"]
mod synth;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, Int64Array};
use rand::{Rng, SeedableRng};

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The median and the 99th percentile (nearest rank), from one sort.
fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1])
}

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = match args.iter().position(|a| a == "--work") {
        Some(i) => PathBuf::from(args.get(i + 1).context("--work DIR")?),
        None => std::env::temp_dir().join("omicsdb-bench-sql"),
    };
    std::fs::create_dir_all(&work)?;
    let sizes = synth::chrom_sizes(&root.join("data/chrom_sizes/hg38.chrom.sizes"))?;
    let fasta = work.join("hg38_synthetic.fa");
    let dbdir = work.join("db");
    if !dbdir.join("catalog").exists() {
        if !fasta.exists() {
            println!("synthesizing hg38-scale genome ...");
            synth::genome(&sizes, &fasta, 38)?;
        }
        let db = omicsdb::Database::open(&dbdir)?;
        let t = Instant::now();
        db.ingest_genome(&omicsdb::GenomeIngest {
            assembly: "hg38".into(),
            path: fasta.clone(),
            width: 1000,
            stride: 1000,
            window_set: None,
            replace: true,
        })?;
        println!("ingest: {:.1} s", t.elapsed().as_secs_f64());
    }
    let db = omicsdb::Database::open(&dbdir)?;
    // The overlap joins below read BED files with read_bed.
    omicsdb_sql::table_functions::access::FileAccess::under([work.as_path(), root.join("data").as_path()])?
        .install(db.context());
    let ws = db.store().window_set("windows")?;
    println!("window set: {} windows", ws.rows());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;

    // 1. 1 Mb region queries on chr7.
    let chr7 = sizes.iter().find(|c| c.0 == "chr7").context("chr7")?.1;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let regions: Vec<(u64, u64)> = (0..200)
        .map(|_| {
            let s = rng.random_range(0..(chr7 - 1_000_000) / 1000) * 1000;
            (s, s + 1_000_000)
        })
        .collect();
    let mut ours = Vec::new();
    let mut our_rows = 0;
    for (s, e) in &regions {
        let q = format!("SELECT chrom, start, \"end\", gc FROM windows WHERE chrom = 'chr7' AND start >= {s} AND \"end\" <= {e}");
        let t = Instant::now();
        let b = rt.block_on(db.sql(&q))?;
        ours.push(t.elapsed().as_secs_f64());
        our_rows += b.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    let (ours_region, ours_region99) = p50_p99(ours);

    // 2. Full-genome aggregate.
    let mut agg = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        rt.block_on(db.sql("SELECT chrom, avg(gc) FROM windows GROUP BY chrom"))?;
        agg.push(t.elapsed().as_secs_f64());
    }
    let ours_agg = p50(agg);

    // 3. tabix on a bgzipped BED of the same windows.
    let bed = work.join("windows.bed");
    let bgz = work.join("windows.bed.gz");
    if !Path::new(&format!("{}.tbi", bgz.display())).exists() {
        dump_bed(&rt, &db, &bed)?;
        sh(&format!("bgzip -f {} && tabix -f -p bed {}", bed.display(), bgz.display()))?;
    }
    let mut tabix = Vec::new();
    let mut tabix_rows = 0;
    for (s, e) in regions.iter().take(100) {
        let t = Instant::now();
        let out = Command::new("tabix").arg(&bgz).arg(format!("chr7:{}-{}", s + 1, e)).output()?;
        tabix.push(t.elapsed().as_secs_f64());
        tabix_rows += out.stdout.iter().filter(|&&b| b == b'\n').count();
    }
    let (tabix_region, tabix_region99) = p50_p99(tabix);

    // 4. Overlap joins: real BED files and two 1 M-interval synthetic sets.
    let a_syn = work.join("a_1m.bed");
    let b_syn = work.join("b_1m.bed");
    if !b_syn.exists() {
        synth::bed(&sizes, 1_000_000, &a_syn, 1)?;
        synth::bed(&sizes, 1_000_000, &b_syn, 2)?;
    }
    let real_a = root.join("data/bed/gencode_v28_hg19.protein_coding_l12_genes.bed.gz");
    let real_b = root.join("data/tracks/SRR891275.peaks.gz");
    let mut joins: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    if real_a.exists() && real_b.exists() {
        joins.push(("genes x ATAC peaks (real)".into(), real_a, real_b));
    }
    joins.push(("1M x 1M synthetic".into(), a_syn, b_syn));
    let mut join_rows = Vec::new();
    for (label, a, b) in &joins {
        let q = format!(
            "SELECT count(*) FROM read_bed('{}') a JOIN read_bed('{}') b ON a.chrom = b.chrom AND a.start < b.\"end\" AND b.start < a.\"end\"",
            a.display(),
            b.display()
        );
        let mut t_ours = Vec::new();
        let mut n_ours = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let r = rt.block_on(db.sql(&q))?;
            t_ours.push(t.elapsed().as_secs_f64());
            n_ours = r[0].column(0).as_any().downcast_ref::<Int64Array>().map(|a| a.value(0)).unwrap_or(-1);
        }
        let mut t_bt = Vec::new();
        let mut n_bt = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let out = Command::new("bedtools").args(["intersect", "-wa", "-wb", "-a"]).arg(a).arg("-b").arg(b).output()?;
            t_bt.push(t.elapsed().as_secs_f64());
            n_bt = out.stdout.iter().filter(|&&c| c == b'\n').count() as i64;
        }
        join_rows.push((label.clone(), a.clone(), b.clone(), p50(t_ours), n_ours, p50(t_bt), n_bt));
    }

    // DuckDB on the same files.
    let glob = format!("{}/{}/*.parquet", dbdir.display(), ws.dir);
    let spec = serde_json::json!({
        "parquet_glob": glob,
        "region_queries": regions.iter().map(|(s, e)| serde_json::json!(["chr7", s, e])).collect::<Vec<_>>(),
        "joins": join_rows.iter().map(|j| serde_json::json!([j.1, j.2])).collect::<Vec<_>>(),
        "threads": 2,
    });
    let spec_path = work.join("duckdb_spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let out = Command::new("python3").arg(root.join("benches/peers/duckdb_bench.py")).arg(&spec_path).output()?;
    if !out.status.success() {
        bail!("duckdb peer failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let duck: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let d_region = duck["region_p50"].as_f64().unwrap_or(f64::NAN);
    let d_region99 = duck["region_p99"].as_f64().unwrap_or(f64::NAN);
    let d_agg = duck["aggregate_p50"].as_f64().unwrap_or(f64::NAN);

    println!("\n== 1 Mb region query on chr7 (200 random regions; p50 / p99) ==");
    println!("omicsdb embedded: {} / {} ({} rows total)", ms(ours_region), ms(ours_region99), our_rows);
    println!("DuckDB (same Parquet): {} / {} ({} rows total)", ms(d_region), ms(d_region99), duck["region_rows"]);
    println!("tabix (process per query, 100 regions): {} / {} ({} rows total)", ms(tabix_region), ms(tabix_region99), tabix_rows);
    println!("ratios: DuckDB/omicsdb {:.1}x, tabix/omicsdb {:.1}x", d_region / ours_region, tabix_region / ours_region);
    println!("\n== full-genome aggregate: SELECT chrom, avg(gc) ... GROUP BY chrom (p50 of 5) ==");
    println!("omicsdb {}  DuckDB {}  omicsdb/DuckDB {:.2}x (target <= 1.5x)", ms(ours_agg), ms(d_agg), ours_agg / d_agg);
    println!("\n== overlap joins (count of overlapping pairs; p50 of 3) ==");
    for (i, j) in join_rows.iter().enumerate() {
        let dj = &duck["joins"][i];
        let duck_s = dj["seconds"].as_f64().unwrap_or(f64::NAN);
        let duck_text = if dj["timed_out"].as_bool() == Some(true) {
            format!("gave up after {} (interrupted)", ms(duck_s))
        } else {
            format!("{} ({} pairs; DuckDB/omicsdb {:.1}x)", ms(duck_s), dj["pairs"], duck_s / j.3)
        };
        println!(
            "{}: omicsdb {} ({} pairs), bedtools intersect -wa -wb {} ({} lines), DuckDB {duck_text}; bedtools/omicsdb {:.1}x",
            j.0,
            ms(j.3),
            j.4,
            ms(j.5),
            j.6,
            j.5 / j.3
        );
    }
    Ok(())
}

fn sh(cmd: &str) -> Result<()> {
    let st = Command::new("sh").arg("-c").arg(cmd).status()?;
    if !st.success() {
        bail!("{cmd} failed");
    }
    Ok(())
}

fn dump_bed(rt: &tokio::runtime::Runtime, db: &omicsdb::Database, out: &Path) -> Result<()> {
    let batches = rt.block_on(db.sql("SELECT chrom, start, \"end\", gc FROM windows"))?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut rows: Vec<(String, i64, i64, String)> = Vec::new();
    for b in &batches {
        let c = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8)?;
        let c = c.as_any().downcast_ref::<datafusion::arrow::array::StringArray>().context("chrom")?;
        let s = b.column(1).as_any().downcast_ref::<Int64Array>().context("start")?;
        let e = b.column(2).as_any().downcast_ref::<Int64Array>().context("end")?;
        let g = datafusion::arrow::compute::cast(b.column(3), &datafusion::arrow::datatypes::DataType::Utf8)?;
        let g = g.as_any().downcast_ref::<datafusion::arrow::array::StringArray>().context("gc")?;
        for i in 0..b.num_rows() {
            rows.push((c.value(i).to_string(), s.value(i), e.value(i), if g.is_null(i) { ".".into() } else { g.value(i).to_string() }));
        }
    }
    rows.sort();
    for r in rows {
        writeln!(w, "{}\t{}\t{}\t{}", r.0, r.1, r.2, r.3)?;
    }
    w.flush()?;
    Ok(())
}
