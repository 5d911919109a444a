//! Embedding index benchmark: omicsdb's HNSW (usearch) and exact search on one set
//! of vectors, the numbers FAISS is compared with (`benches/peers/faiss_index.py`
//! runs FAISS on the files this writes). Driven by `scripts/bench_index.sh`.
//!
//! ```sh
//! # clustered synthetic vectors (a Gaussian mixture, fixed seed), row by row f32
//! bench_index synth --n 3000000 --dim 128 --clusters 3000 --seed 1 --out synth.f32
//! # split off queries, exact ground truth, then HNSW build/search and exact search
//! bench_index run --vectors V.f32 --dim 128 --queries 1000 --k 10 --work DIR
//! ```
//! `run` normalises the vectors (cosine distance = inner product on unit vectors, as
//! omicsdb's cosine indexes store them), holds out `--queries` random rows as queries,
//! and writes `DIR/base.f32`, `DIR/queries.f32`, `DIR/truth.u64` (exact top-k keys per
//! query) and `DIR/omicsdb.json`.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use omicsdb_vector::{Flat, Hnsw, HnswParams, Metric, normalize};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// efSearch values tried for the recall / speed curve (the same as the FAISS peer).
const EF: [usize; 6] = [16, 32, 64, 128, 256, 512];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn need<T: std::str::FromStr>(args: &[String], name: &str) -> Result<T> {
    arg(args, name).with_context(|| format!("missing {name}"))?.parse().map_err(|_| anyhow::anyhow!("bad {name}"))
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path).with_context(|| path.display().to_string())?.read_to_end(&mut bytes)?;
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

fn write_f32(path: &Path, v: &[f32]) -> Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    for x in v {
        w.write_all(&x.to_le_bytes())?;
    }
    Ok(w.flush()?)
}

fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    Ok(rayon::ThreadPoolBuilder::new().num_threads(threads).build()?)
}

/// A Gaussian mixture: `clusters` centres in [-1, 1]^dim, spread 0.35 around each,
/// cluster sizes uneven (Zipf-like), as embeddings of genome windows are.
fn synth(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let weights: Vec<f64> = (1..=clusters).map(|i| 1.0 / (i as f64).sqrt()).collect();
    let total: f64 = weights.iter().sum();
    let cdf: Vec<f64> = weights.iter().scan(0.0, |acc, w| { *acc += w / total; Some(*acc) }).collect();
    let mut out = Vec::with_capacity(n * dim);
    let mut gauss = move |rng: &mut rand::rngs::StdRng| {
        // Box-Muller.
        let (u1, u2): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    };
    for _ in 0..n {
        let u: f64 = rng.random();
        let c = cdf.partition_point(|&p| p < u).min(clusters - 1);
        for j in 0..dim {
            out.push(centres[c * dim + j] + 0.35 * gauss(&mut rng));
        }
    }
    out
}

fn recall(found: &[Vec<u64>], truth: &[Vec<u64>], k: usize) -> f64 {
    let hits: usize = found.iter().zip(truth).map(|(f, t)| f.iter().take(k).filter(|x| t[..k].contains(x)).count()).sum();
    hits as f64 / (truth.len() * k) as f64
}

fn run(args: &[String]) -> Result<()> {
    let vectors: PathBuf = need(args, "--vectors")?;
    let dim: usize = need(args, "--dim")?;
    let nq: usize = arg(args, "--queries").map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let k: usize = arg(args, "--k").map(|s| s.parse()).transpose()?.unwrap_or(10);
    let work: PathBuf = need(args, "--work")?;
    let label = arg(args, "--label").unwrap_or_else(|| vectors.display().to_string());
    std::fs::create_dir_all(&work)?;
    let mut all = read_f32(&vectors)?;
    if all.len() % dim != 0 || all.len() / dim <= nq {
        bail!("{}: {} values are not more than {nq} rows of {dim}", vectors.display(), all.len());
    }
    all.par_chunks_exact_mut(dim).for_each(normalize);
    let n_all = all.len() / dim;
    let mut order: Vec<usize> = (0..n_all).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let (q_rows, _) = order.split_at(nq);
    let mut is_query = vec![false; n_all];
    q_rows.iter().for_each(|&i| is_query[i] = true);
    let queries: Vec<f32> = q_rows.iter().flat_map(|&i| all[i * dim..(i + 1) * dim].iter().copied()).collect();
    let base: Vec<f32> = (0..n_all).filter(|&i| !is_query[i]).flat_map(|i| all[i * dim..(i + 1) * dim].iter().copied()).collect();
    drop(all);
    let n = base.len() / dim;
    write_f32(&work.join("base.f32"), &base)?;
    write_f32(&work.join("queries.f32"), &queries)?;
    eprintln!("{label}: {n} vectors of {dim}, {nq} queries, k = {k}");

    // Exact search: the ground truth, and its speed on 1 and 2 threads (all queries in one batch).
    let flat = Flat::new(dim, Metric::Cosine, base.clone());
    let mut exact_qps = Vec::new();
    let mut truth: Vec<Vec<u64>> = Vec::new();
    for threads in [1, 2] {
        let p = pool(threads)?;
        let t = Instant::now();
        let res = flat.search(&queries, k, None, &p);
        let s = t.elapsed().as_secs_f64();
        exact_qps.push(serde_json::json!({"threads": threads, "seconds": s, "qps": nq as f64 / s}));
        eprintln!("  exact, {threads} thread(s): {:.1} queries/s", nq as f64 / s);
        truth = res.into_iter().map(|r| r.into_iter().map(|x| x.key).collect()).collect();
    }
    let mut tw = BufWriter::new(std::fs::File::create(work.join("truth.u64"))?);
    for t in &truth {
        for key in t {
            tw.write_all(&key.to_le_bytes())?;
        }
    }
    tw.flush()?;
    drop(flat);

    // HNSW: built on 2 threads, searched one query at a time on 1 thread, and
    // with queries spread over 2 threads.
    let params = HnswParams::default();
    let p2 = pool(2)?;
    let t = Instant::now();
    let mut hnsw = Hnsw::build(&base, dim, Metric::Cosine, params, &p2)?;
    let build_s = t.elapsed().as_secs_f64();
    let bytes = hnsw.serialized_len();
    eprintln!("  hnsw build (M={}, efConstruction={}, 2 threads): {build_s:.1} s, {bytes} bytes", params.connectivity, params.expansion_add);
    drop(base);
    let mut curve = Vec::new();
    for ef in EF {
        hnsw.set_expansion_search(ef);
        let mut row = serde_json::json!({"ef_search": ef});
        for threads in [1, 2] {
            let p = pool(threads)?;
            let t = Instant::now();
            let found: Vec<Vec<u64>> = p.install(|| {
                queries
                    .par_chunks_exact(dim)
                    .map(|q| hnsw.search(q, k, None).map(|r| r.into_iter().map(|x| x.key).collect()))
                    .collect::<Result<_, _>>()
            })?;
            let s = t.elapsed().as_secs_f64();
            row[format!("qps_{threads}t")] = serde_json::json!(nq as f64 / s);
            row["recall"] = serde_json::json!(recall(&found, &truth, k));
        }
        eprintln!("  hnsw ef={ef}: recall@{k} {:.4}, {:.0} q/s (1 thread), {:.0} q/s (2 threads)", row["recall"], row["qps_1t"], row["qps_2t"]);
        curve.push(row);
    }
    let out = serde_json::json!({
        "label": label, "n": n, "dim": dim, "queries": nq, "k": k, "metric": "cosine",
        "hnsw": {"connectivity": params.connectivity, "ef_construction": params.expansion_add, "build_threads": 2,
                 "build_seconds": build_s, "bytes": bytes, "curve": curve},
        "exact": exact_qps,
        "usearch_version": "2.26.6",
    });
    std::fs::write(work.join("omicsdb.json"), serde_json::to_string_pretty(&out)?)?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("synth") => {
            let n: usize = need(&args, "--n")?;
            let dim: usize = need(&args, "--dim")?;
            let clusters: usize = need(&args, "--clusters")?;
            let seed: u64 = need(&args, "--seed")?;
            let out: PathBuf = need(&args, "--out")?;
            write_f32(&out, &synth(n, dim, clusters, seed))
        }
        Some("run") => run(&args),
        _ => bail!("usage: bench_index synth --n N --dim D --clusters C --seed S --out F | run --vectors F --dim D --work DIR [--queries Q] [--k K] [--label L]"),
    }
}
