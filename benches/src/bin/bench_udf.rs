//! SQL overhead of the model functions: `SELECT hyena_embed(seq) FROM windows
//! WHERE chrom = ...` against direct model calls on the same sequences with the
//! same micro-batches, and the speed-up of a repeated (cached) query.
//!
//! A synthetic genome (one chromosome, uniform random ACGT, fixed seed) is cut
//! into windows of the model's input length (1024 for tiny-1k), the model is
//! imported into the database, then:
//!
//! 1. direct: `forward_hidden` + mean pooling on micro-batches of
//!    `batch_tokens / 1024` windows (the sequences fetched once beforehand);
//! 2. SQL, cache off, one partition (micro-batches one after another, as in 1): the
//!    query above, every window through the model; also the time spent inside the
//!    forward passes (`CallStats::model_nanos`);
//! 3. SQL, cache off, the default partitions (one per core: micro-batches may overlap);
//! 4. SQL, cache on: the query once to fill the cache, then timed again.
//!
//! SQL overhead = (SQL time − direct time) / direct time, both sequential (1 and 2
//! alternate run by run), and the share of the SQL time outside the forward passes.
//! Each figure is the median of `--runs` runs (default 5) after one warm-up.
//!
//! ```sh
//! cargo run --release -p omicsdb-benches --features engine,model --bin bench_udf -- \
//!     [--model data/fixtures/hyenadna/tiny-1k] [--bp 1048576] [--runs 5] [--batch-tokens 16384]
//! ```
//! Threads: candle's CPU kernels use all cores unless `RAYON_NUM_THREADS` is set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use arrow::array::{Array, AsArray};
use candle_core::{DType, Device, Tensor};
use omicsdb::{Database, GenomeIngest};
use omicsdb_model::{HyenaDna, tokenize};
use omicsdb_storage::models;
use omicsdb_udf::{ModelRegistry, register_model_functions};
use rand::{Rng, SeedableRng};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{name} needs a value")),
        None => Ok(default),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let model_dir: PathBuf = arg(
        &args,
        "--model",
        root.join("data/fixtures/hyenadna/tiny-1k"),
    )?;
    let bp: u64 = arg(&args, "--bp", 1 << 20)?;
    let runs: usize = arg(&args, "--runs", 5)?.max(1);
    let budget: usize = arg(&args, "--batch-tokens", omicsdb_udf::DEFAULT_BATCH_TOKENS)?;
    let width: u64 = 1024;

    let work = tempfile_dir()?;
    let fasta = work.join("synthetic.fa");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&fasta)?);
    writeln!(f, ">chr1")?;
    for _ in 0..bp.div_ceil(60) {
        let line: Vec<u8> = (0..60).map(|_| b"ACGT"[rng.random_range(0..4)]).collect();
        f.write_all(&line)?;
        f.write_all(b"\n")?;
    }
    drop(f);
    let db = Database::open(work.join("db"))?;
    db.ingest_genome(&GenomeIngest {
        assembly: "synth".into(),
        path: fasta,
        width,
        stride: width,
        window_set: None,
        replace: false,
    })?;
    models::import_model(db.store(), "bench", &model_dir, "benchmark model")?;
    let registry = Arc::new(ModelRegistry::new(Arc::clone(db.store()))?);
    registry.set_batch_tokens(budget);
    register_model_functions(db.context(), Arc::clone(&registry));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // Full-length windows only, so the direct path and SQL see the same shapes.
    let filter = format!("chrom = 'chr1' AND \"end\" - start = {width}");
    let seqs: Vec<String> = rt
        .block_on(db.sql(&format!(
            "SELECT seq FROM windows WHERE {filter} ORDER BY start"
        )))?
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let tokens = (seqs.len() as u64 * width) as f64;
    println!(
        "{} windows of {width} bp, {} tokens, model {}, batch_tokens {budget}",
        seqs.len(),
        tokens,
        model_dir.display()
    );

    let model = HyenaDna::load(&model_dir, &Device::Cpu, DType::F32)?;
    let rows = (budget / width as usize).max(1);
    let direct = || -> Result<f64> {
        let t = Instant::now();
        let mut sink = 0f32;
        for chunk in seqs.chunks(rows) {
            let mut ids = Vec::with_capacity(chunk.len() * width as usize);
            for s in chunk {
                ids.extend(tokenize(s.as_bytes())?);
            }
            let ids = Tensor::from_vec(ids, (chunk.len(), width as usize), &Device::Cpu)?;
            let pooled = model.forward_hidden(&ids)?.mean(1)?.to_vec2::<f32>()?;
            sink += pooled[0][0];
        }
        std::hint::black_box(sink);
        Ok(t.elapsed().as_secs_f64())
    };
    let query = format!("SELECT hyena_embed(seq) FROM windows WHERE {filter}");
    let sql = || -> Result<f64> {
        let t = Instant::now();
        let batches = rt.block_on(db.sql(&query))?;
        let n: usize = batches.iter().map(|b| b.column(0).len()).sum();
        anyhow::ensure!(
            n == seqs.len(),
            "query returned {n} rows, expected {}",
            seqs.len()
        );
        Ok(t.elapsed().as_secs_f64())
    };
    let timed = |label: &str, f: &dyn Fn() -> Result<f64>| -> Result<f64> {
        f()?;
        let times = (0..runs).map(|_| f()).collect::<Result<Vec<_>>>()?;
        let m = median(times);
        println!("{label:<22} {m:>8.3} s  {:>10.0} tokens/s", tokens / m);
        Ok(m)
    };

    let set_partitions = |n: usize| -> Result<()> {
        rt.block_on(db.context().sql(&format!("SET datafusion.execution.target_partitions = '{n}'")))?;
        Ok(())
    };
    let default_partitions = db.context().state().config().target_partitions();
    // Direct calls and SQL on one partition (its micro-batches one after another, as in
    // the direct loop), alternating run by run so that a slow spell of a shared machine
    // falls on both; the difference is what SQL adds (scan, batching, tokenizing, output).
    registry.set_cache_enabled(false);
    set_partitions(1)?;
    direct()?;
    sql()?;
    let (calls_before, model_before) = (registry.stats.model_calls(), registry.stats.model_seconds());
    let (mut direct_runs, mut sql_runs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        direct_runs.push(direct()?);
        sql_runs.push(sql()?);
    }
    let sql_mean = sql_runs.iter().sum::<f64>() / runs as f64;
    let (t_direct, t_sql) = (median(direct_runs), median(sql_runs));
    println!("{:<22} {t_direct:>8.3} s  {:>10.0} tokens/s", "direct model calls", tokens / t_direct);
    println!("{:<22} {t_sql:>8.3} s  {:>10.0} tokens/s", "SQL, cache off", tokens / t_sql);
    let per_query = |v: f64| v / runs as f64;
    let calls_per_query = (registry.stats.model_calls() - calls_before) / runs as u64;
    let model_s = per_query(registry.stats.model_seconds() - model_before);
    // The default: one partition per core, so two micro-batches may run at once.
    set_partitions(default_partitions)?;
    let t_sql_parts = timed(&format!("SQL, {default_partitions} partitions"), &sql)?;
    registry.set_cache_enabled(true);
    let t_cached = timed("SQL, cached repeat", &sql)?;
    let overhead = (t_sql - t_direct) / t_direct * 100.0;
    let outside = (sql_mean - model_s) / model_s * 100.0;
    let speedup = t_sql / t_cached;
    println!(
        "model calls per query: {calls_per_query} for {} windows",
        seqs.len()
    );
    println!("SQL overhead vs direct (1 partition): {overhead:.1}%");
    println!("SQL time outside forward passes (1 partition): {outside:.1}% of the {model_s:.3} s inside them (both means per query)");
    println!("cached repeat speed-up: {speedup:.1}x");
    println!(
        "{}",
        serde_json::json!({
            "windows": seqs.len(), "tokens": tokens, "batch_tokens": budget,
            "direct_s": t_direct, "sql_s": t_sql, "sql_model_s": model_s, "sql_partitions_s": t_sql_parts,
            "partitions": default_partitions, "sql_cached_s": t_cached,
            "direct_tokens_per_s": tokens / t_direct, "sql_tokens_per_s": tokens / t_sql,
            "sql_overhead_pct": overhead, "sql_outside_model_pct": outside, "cache_speedup": speedup,
            "model_calls_per_query": calls_per_query,
        })
    );
    drop(db);
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("omicsdb-bench-udf-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
