//! Track aggregation benchmark: one bigWig onto 1 kb windows genome-wide,
//! omicsdb on 1 and 2 threads beside pyBigWig computing the same per-window
//! means (`benches/peers/pybigwig_means.py`, run when python3 + pyBigWig are
//! installed).
//!
//! The bigWig is synthetic but shaped like a ChIP/ATAC fold-change track:
//! hg19 chromosome sizes (chr1-22, X), runs of 20-400 bp with log-normal-ish
//! values separated by uncovered gaps of 50-2,000 bp, fixed seed. It is built
//! once with bigtools and cached under the temp directory.
//!
//! ```sh
//! cargo run --release -p omicsdb-benches --features storage --bin bench_tracks -- [--scale 0.1] [--bigwig FILE]
//! ```
//!
//! omicsdb's side is the real ingest path (`tracks::run::aggregate`: read,
//! aggregate, write row-aligned Parquet files) with `--missing skip` means,
//! which are pyBigWig's `exact=True` means; the two results' checksums are
//! compared.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use omicsdb_storage::meta::{Aggregation, ChromFile, TrackKind, WindowSetMeta, window_count};
use omicsdb_storage::tracks::bigwig::write_bigwig;
use omicsdb_storage::tracks::collect::Plan;
use omicsdb_storage::tracks::output::read_track_file;
use omicsdb_storage::tracks::run::{SetTarget, aggregate};
use omicsdb_storage::tracks::{ChromResolver, TrackFormat};
use rand::{Rng, SeedableRng};

const WIDTH: u64 = 1000;

/// hg19 chr1-22 and X.
const HG19: [(&str, u32); 23] = [
    ("chr1", 249_250_621), ("chr2", 243_199_373), ("chr3", 198_022_430), ("chr4", 191_154_276),
    ("chr5", 180_915_260), ("chr6", 171_115_067), ("chr7", 159_138_663), ("chr8", 146_364_022),
    ("chr9", 141_213_431), ("chr10", 135_534_747), ("chr11", 135_006_516), ("chr12", 133_851_895),
    ("chr13", 115_169_878), ("chr14", 107_349_540), ("chr15", 102_531_392), ("chr16", 90_354_753),
    ("chr17", 81_195_210), ("chr18", 78_077_248), ("chr19", 59_128_983), ("chr20", 63_025_520),
    ("chr21", 48_129_895), ("chr22", 51_304_566), ("chrX", 155_270_560),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let scale: f64 = arg("--scale").map(|s| s.parse()).transpose().context("--scale")?.unwrap_or(1.0);
    // bigWig writers need chromosomes in lexicographic order.
    let mut chroms: Vec<(String, u32)> =
        HG19.iter().map(|(n, l)| (n.to_string(), ((*l as f64 * scale) as u32).max(1))).collect();
    chroms.sort();
    let bigwig = match arg("--bigwig") {
        Some(p) => PathBuf::from(p),
        None => synthetic(&chroms, scale)?,
    };
    let file_chroms = omicsdb_storage::tracks::bigwig::BigWigReader::open(&bigwig)?.chroms();
    let genome: u64 = file_chroms.iter().map(|c| c.1).sum();
    println!("bigWig {} ({:.1} MB), {} chromosomes, {:.2} Gbp, {} bp windows", bigwig.display(),
        std::fs::metadata(&bigwig)?.len() as f64 / 1e6, file_chroms.len(), genome as f64 / 1e9, WIDTH);

    let mut ours = Vec::new();
    for threads in [1, 2] {
        let (secs, windows, nonnull, sum) = run_omicsdb(&bigwig, &file_chroms, threads)?;
        println!("omicsdb  {threads} thread(s): {secs:8.3} s  ({windows} windows, {nonnull} non-null, sum of means {sum:.6e})");
        ours.push((secs, nonnull, sum));
    }
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/pybigwig_means.py");
    let out = Command::new("python3").arg(&peer).arg(&bigwig).arg(WIDTH.to_string()).output();
    match out {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
            let secs = v["seconds"].as_f64().context("peer seconds")?;
            let sum = v["sum"].as_f64().unwrap_or(f64::NAN);
            println!("pyBigWig 1 thread:    {secs:8.3} s  ({} windows, {} non-null, sum of means {sum:.6e})", v["windows"], v["nonnull"]);
            let rel = (sum - ours[0].2).abs() / sum.abs().max(1e-12);
            if v["nonnull"].as_u64() != Some(ours[0].1) || rel > 1e-4 {
                bail!("results differ from pyBigWig: non-null {} vs {}, sums {} vs {}", v["nonnull"], ours[0].1, sum, ours[0].2);
            }
            println!("values agree (relative difference of sums {rel:.1e})");
            println!("speed-up over pyBigWig: {:.2}x on 1 thread, {:.2}x on 2 threads", secs / ours[0].0, secs / ours[1].0);
        }
        Ok(o) => println!("pyBigWig peer skipped: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")),
        Err(e) => println!("pyBigWig peer skipped: python3 not runnable ({e})"),
    }
    Ok(())
}

/// Aggregates with the real ingest path into a scratch directory; returns
/// (seconds, windows, non-null windows, sum of means).
fn run_omicsdb(bigwig: &Path, chroms: &[(String, u64)], threads: usize) -> Result<(f64, u64, u64, f64)> {
    let dir = std::env::temp_dir().join(format!("omicsdb-bench-tracks-{}-{threads}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let resolver = ChromResolver::from_chroms(chroms.iter().cloned());
    let ws = WindowSetMeta {
        name: "windows".into(),
        assembly: "bench".into(),
        width: WIDTH,
        stride: WIDTH,
        row_group_rows: 4096,
        dir: String::new(),
        files: chroms
            .iter()
            .map(|(c, l)| ChromFile { chrom: c.clone(), path: String::new(), rows: window_count(*l, WIDTH), bytes: 0 })
            .collect(),
        created_at: 0,
    };
    let target = SetTarget { ws, abs: dir.clone(), rel: "bench".into() };
    let plan = Plan { kind: TrackKind::Signal, aggregation: Aggregation::Mean, missing_skip: true, score: false };
    let t = Instant::now();
    let agg = aggregate(bigwig, TrackFormat::BigWig, plan, &resolver, &[target], &["signal".into()], false, threads)?;
    let secs = t.elapsed().as_secs_f64();
    let (mut windows, mut nonnull, mut sum) = (0, 0, 0.0);
    for f in &agg.files["windows"].files {
        let name = Path::new(&f.path).file_name().context("file name")?;
        let cols = read_track_file(&dir.join(name))?;
        let col = cols.first().context("one column")?;
        windows += col.len() as u64;
        for v in col.iter().flatten() {
            nonnull += 1;
            sum += *v as f64;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((secs, windows, nonnull, sum))
}

/// Builds (or reuses) the synthetic bigWig for `chroms`.
fn synthetic(chroms: &[(String, u32)], scale: f64) -> Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("omicsdb-bench-hg19-signal-{scale}.bw"));
    if path.exists() {
        return Ok(path);
    }
    let t = Instant::now();
    let tmp = path.with_extension("partial");
    let list = chroms.to_vec();
    let values = list.clone().into_iter().flat_map(|(chrom, length)| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(length as u64);
        let mut pos = 0u32;
        std::iter::from_fn(move || {
            loop {
                if pos >= length {
                    return None;
                }
                if rng.random_bool(0.3) {
                    pos = pos.saturating_add(rng.random_range(50..2000));
                    continue;
                }
                let len = rng.random_range(20..400u32);
                let start = pos;
                let end = pos.saturating_add(len).min(length);
                pos = end;
                // Mostly background around 1 with occasional enriched regions.
                let u: f64 = rng.random();
                let value = if u < 0.05 { 5.0 + 40.0 * rng.random::<f64>() } else { (-(1.0 - u).ln()) * 1.2 };
                return Some((chrom.clone(), start, end, value as f32));
            }
        })
    });
    write_bigwig(&tmp, &list, values)?;
    std::fs::rename(&tmp, &path)?;
    println!("built synthetic bigWig in {:.1} s", t.elapsed().as_secs_f64());
    Ok(path)
}
