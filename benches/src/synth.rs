//! Synthetic inputs with fixed seeds: an hg38-sized genome and random BED sets.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};

/// Reads `name<TAB>length` lines.
pub fn chrom_sizes(path: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for l in text.lines() {
        let mut it = l.split('\t');
        if let (Some(n), Some(len)) = (it.next(), it.next()) {
            out.push((n.to_string(), len.trim().parse()?));
        }
    }
    Ok(out)
}

/// Writes a FASTA with the given chromosome sizes: ~41% GC, soft-masked runs,
/// N runs at chromosome ends (fixed seed). Returns total bases.
pub fn genome(sizes: &[(String, u64)], out: &Path, seed: u64) -> anyhow::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 22, File::create(out)?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut total = 0;
    let mut line = Vec::with_capacity(61);
    for (name, len) in sizes {
        let len = *len;
        writeln!(w, ">{name}")?;
        let mut masked = false;
        let mut run_left = 0u64;
        let mut bits = 0u64;
        let mut nbits = 0;
        for pos in 0..len {
            if run_left == 0 {
                masked = rng.random_bool(0.5);
                run_left = rng.random_range(50..600);
            }
            run_left -= 1;
            if nbits == 0 {
                bits = rng.random();
                nbits = 6;
            }
            let r = (bits & 0x3ff) as u32;
            bits >>= 10;
            nbits -= 1;
            let b = if pos < 10_000 || len - pos <= 10_000 {
                b'N'
            } else if r < 210 {
                b'G'
            } else if r < 420 {
                b'C'
            } else if r < 722 {
                b'A'
            } else {
                b'T'
            };
            line.push(if masked && b != b'N' { b.to_ascii_lowercase() } else { b });
            if line.len() == 60 {
                line.push(b'\n');
                w.write_all(&line)?;
                line.clear();
            }
        }
        if !line.is_empty() {
            line.push(b'\n');
            w.write_all(&line)?;
            line.clear();
        }
        total += len;
    }
    w.flush()?;
    Ok(total)
}

/// Writes `n` random intervals (100–2,000 bp) over the chromosomes, sorted by
/// chrom then start, as BED6.
pub fn bed(sizes: &[(String, u64)], n: usize, out: &Path, seed: u64) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let total: u64 = sizes.iter().map(|c| c.1).sum();
    let mut rows: Vec<(usize, u64, u64)> = (0..n)
        .map(|_| {
            let mut p = rng.random_range(0..total);
            let mut ci = 0;
            while p >= sizes[ci].1 {
                p -= sizes[ci].1;
                ci += 1;
            }
            let len = rng.random_range(100..2000);
            (ci, p, (p + len).min(sizes[ci].1))
        })
        .collect();
    rows.sort_unstable();
    let mut w = BufWriter::new(File::create(out)?);
    for (i, (c, s, e)) in rows.iter().enumerate() {
        writeln!(w, "{}\t{s}\t{e}\tf{i}\t{}\t+", sizes[*c].0, i % 1000)?;
    }
    w.flush()?;
    Ok(())
}
