//! Genome store benchmark, side by side with samtools and noodles on the same file:
//!
//! 1. ingest throughput (MB of FASTA per second) beside `samtools faidx` building its index;
//! 2. random 1 kb `sequence()` fetches per second beside noodles' indexed FASTA reader;
//! 3. with `--hg38`: ingest of a synthetic genome with hg38's chromosome sizes
//!    (fixed seed), reporting time and peak RSS.
//!
//! ```sh
//! cargo run --release -p omicsdb-benches --features storage --bin bench_genome -- [--hg38] [--fasta FILE]
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

#[path = "../synth.rs"]
mod synth;
use omicsdb_storage::{GenomeIngest, Store};
use rand::{Rng, SeedableRng};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = std::env::temp_dir().join(format!("omicsdb-bench-genome-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let fasta = match args.iter().position(|a| a == "--fasta") {
        Some(i) => PathBuf::from(args.get(i + 1).context("--fasta FILE")?),
        None => {
            // Plain FASTA: the best case for both peers (no decompression).
            let plain = work.join("chr20.fa");
            let st = Command::new("sh")
                .arg("-c")
                .arg(format!("zcat {} > {}", root.join("data/genome/20.fa.gz").display(), plain.display()))
                .status()?;
            if !st.success() {
                bail!("zcat failed");
            }
            plain
        }
    };
    let result = if args.iter().any(|a| a == "--hg38") {
        hg38(&root, &work)
    } else {
        compare(&fasta, &work)
    };
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn ingest(fasta: &Path, db: &Path) -> Result<(Store, f64)> {
    let _ = std::fs::remove_dir_all(db);
    let store = Store::open(db)?;
    let t = Instant::now();
    store.ingest_genome(&GenomeIngest {
        assembly: "bench".into(),
        path: fasta.to_path_buf(),
        width: 1024,
        stride: 1024,
        window_set: None,
        replace: false,
    })?;
    Ok((store, t.elapsed().as_secs_f64()))
}

fn compare(fasta: &Path, work: &Path) -> Result<()> {
    let mb = std::fs::metadata(fasta)?.len() as f64 / 1e6;
    println!("file: {} ({mb:.1} MB)", fasta.display());
    // 1. ingest vs samtools faidx (index build), best of 3 each.
    let mut ours = f64::MAX;
    let mut store = None;
    for _ in 0..3 {
        drop(store.take());
        let (s, secs) = ingest(fasta, &work.join("db"))?;
        ours = ours.min(secs);
        store = Some(s);
    }
    let store = store.context("no store")?;
    let mut samtools = f64::MAX;
    for _ in 0..3 {
        let _ = std::fs::remove_file(format!("{}.fai", fasta.display()));
        let t = Instant::now();
        let st = Command::new("samtools").arg("faidx").arg(fasta).status().context("samtools (apt install samtools)")?;
        if !st.success() {
            bail!("samtools faidx failed");
        }
        samtools = samtools.min(t.elapsed().as_secs_f64());
    }
    println!("ingest (store + 1 kb windows): {ours:.3} s = {:.1} MB/s", mb / ours);
    println!("samtools faidx index build:    {samtools:.3} s = {:.1} MB/s", mb / samtools);
    println!("ingest time / faidx time: {:.2}x (target <= 3x)", ours / samtools);

    // 2. random 1 kb fetches.
    let genome = store.genome("bench")?;
    let chroms: Vec<(String, u64)> = genome.chroms().filter(|c| c.1 > 2000).map(|(n, l)| (n.to_string(), l)).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let n = 20_000;
    let regions: Vec<(String, u64)> = (0..n)
        .map(|_| {
            let (c, l) = &chroms[rng.random_range(0..chroms.len())];
            (c.clone(), rng.random_range(0..l - 1000))
        })
        .collect();
    let t = Instant::now();
    let mut checksum = 0u64;
    for (c, s) in &regions {
        let seq = genome.sequence(c, *s, s + 1000, true)?;
        checksum += seq[500] as u64;
    }
    let ours_rate = n as f64 / t.elapsed().as_secs_f64();
    let mut reader = noodles::fasta::io::indexed_reader::Builder::default().build_from_path(fasta)?;
    let t = Instant::now();
    let mut checksum2 = 0u64;
    for (c, s) in &regions {
        let region: noodles::core::Region = format!("{c}:{}-{}", s + 1, s + 1000).parse()?;
        let rec = reader.query(&region)?;
        checksum2 += rec.sequence().as_ref()[500] as u64;
    }
    let noodles_rate = n as f64 / t.elapsed().as_secs_f64();
    if checksum != checksum2 {
        bail!("omicsdb and noodles returned different sequences");
    }
    println!("random 1 kb fetches: omicsdb {ours_rate:.0}/s, noodles indexed reader {noodles_rate:.0}/s");
    println!("fetch speed ratio: {:.1}x (target >= 5x)", ours_rate / noodles_rate);
    Ok(())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn hg38(root: &Path, work: &Path) -> Result<()> {
    let fasta = work.join("hg38_synthetic.fa");
    let t = Instant::now();
    let sizes = synth::chrom_sizes(&root.join("data/chrom_sizes/hg38.chrom.sizes"))?;
    let bp = synth::genome(&sizes, &fasta, 38)?;
    println!("synthesized {bp} bp in {:.0} s ({} bytes)", t.elapsed().as_secs_f64(), std::fs::metadata(&fasta)?.len());
    let before = peak_rss_kib();
    let (store, secs) = ingest(&fasta, &work.join("db"))?;
    let ws = store.window_set("windows")?;
    println!(
        "hg38-scale ingest: {secs:.1} s ({:.1} MB/s), {} windows, peak RSS {:.0} MiB (before ingest {:.0} MiB)",
        std::fs::metadata(&fasta)?.len() as f64 / 1e6 / secs,
        ws.rows(),
        peak_rss_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
    Ok(())
}
