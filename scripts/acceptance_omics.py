#!/usr/bin/env python3
"""Synthetic-but-realistic omics task for the `omicsdb train` acceptance benchmark.

Writes, for a fixed seed, into OUT_DIR:
  genome.fa                  --chroms chromosomes x 1 Mbp (default 6): a first-order Markov chain with
                             human-like composition (41% GC, CpG depleted to ~1/4), ~5%
                             soft-masked (lowercase) stretches and a few N runs
  <tissue>.peaks.bed         peak calls per tissue (BED3)
  <tissue>.signal.bedGraph   signal per tissue in 50 bp bins
  truth.tsv                  every planted enhancer (chrom, start, end, tissue, strength, motifs)

Three tissues with tissue-specific enhancers, each a ~300 bp element holding 2-4 sampled
instances of the tissue's two JASPAR motifs (data/motifs/synthetic_enhancers.jaspar) at
noisy positions and on random strands: liver (HNF4A, CEBPA), blood (GATA1, SPI1), muscle
(MYOD1, MEF2C); CTCF sites shared by all tissues give weaker signal everywhere. Enhancer
strength grows with its motif count. Peaks: enhancers above a strength threshold, 10%
dropped, plus false peaks at random places (1 per 100 kb). Signal: background gamma noise
per 50 bp bin plus strength x lognormal noise over each enhancer. Single decoy motifs are
also sprinkled in the background, so a motif alone does not make an enhancer.

With --min-site-score X (the benchmark uses 0.8), a sampled site scoring below X of its
matrix's best log-odds is resampled, so planted sites are good matches, as bound sites are.

Usage: python3 scripts/acceptance_omics.py OUT_DIR [--seed 7] [--chroms 6] [--min-site-score 0.8]
       (see scripts/acceptance_omics.sh)
"""
import argparse
import os

import numpy as np

TISSUES = {"liver": ("HNF4A", "CEBPA"), "blood": ("GATA1", "Spi1"), "muscle": ("MYOD1", "MEF2C")}
CHROM_LEN = 1_000_000
ENHANCERS_PER_MB = 110  # per tissue
ENH_LEN = 300
SLOT = 2500
BASES = np.array(list("ACGT"))


def load_motifs(path):
    motifs, lines = {}, [l.strip() for l in open(path) if l.strip()]
    for i in range(0, len(lines), 5):
        name = lines[i].split()[1]
        rows = [[float(x) for x in l.split("[")[1].split("]")[0].split()] for l in lines[i + 1:i + 5]]
        m = np.array(rows).T + 0.5  # positions x ACGT, pseudocount
        motifs[name] = m / m.sum(axis=1, keepdims=True)
    return motifs


def markov_genome(rng, n):
    # P(next | prev) with CpG depletion; stationary GC ~ 0.41.
    p = np.array([
        [0.32, 0.18, 0.24, 0.26],  # after A
        [0.35, 0.26, 0.06, 0.33],  # after C (CG depleted)
        [0.29, 0.21, 0.25, 0.25],  # after G
        [0.22, 0.20, 0.25, 0.33],  # after T
    ])
    cum = p.cumsum(axis=1)
    u = rng.random(n)
    seq = np.empty(n, dtype=np.int8)
    prev = 0
    for i in range(n):  # 1 Mbp per chromosome: a few seconds
        prev = int(np.searchsorted(cum[prev], u[i]))
        seq[i] = min(prev, 3)
    return seq


CONSENSUS = False
MIN_SITE_SCORE = None


def relative_score(m, site):
    """A site's log-odds score against uniform background over the matrix's best possible
    score (the scale of acceptance_pwm_reference.scan)."""
    logodds = np.log(m / 0.25)
    return logodds[np.arange(len(m)), site].sum() / logodds.max(axis=1).sum()


def sample_motif(rng, m):
    if CONSENSUS:
        site = np.argmax(m, axis=1).astype(np.int8)
        rng.random(len(m))  # keep the random stream the same length as a sampled site
    else:
        site = np.array([rng.choice(4, p=row) for row in m], dtype=np.int8)
        # Bound sites are good matches: resample below MIN_SITE_SCORE of the best score.
        while MIN_SITE_SCORE is not None and relative_score(m, site) < MIN_SITE_SCORE:
            site = np.array([rng.choice(4, p=row) for row in m], dtype=np.int8)
    if rng.random() < 0.5:
        site = (3 - site)[::-1]
    return site


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--windows-tsv", action="store_true",
                    help="also write windows.tsv (chrom, start, end, seq, one column per track) for "
                         "the model-level acceptance test in model/src/train/acceptance.rs")
    ap.add_argument("--chroms", type=int, default=6, help="chromosomes of 1 Mbp each (default 6)")
    ap.add_argument("--chrom-len", type=int, default=1_000_000,
                    help="bases per chromosome (default 1,000,000); element, decoy and repeat counts "
                         "scale with it, so a short genome is the same task, smaller (the CI test)")
    ap.add_argument("--consensus", action="store_true",
                    help="plant each motif's consensus instead of sampling it (an easier task, for diagnostics)")
    ap.add_argument("--min-site-score", type=float, default=None,
                    help="resample planted sites whose log-odds score is below this fraction of "
                         "the matrix's best (e.g. 0.8; default: keep every sampled site)")
    args = ap.parse_args()
    global CONSENSUS, MIN_SITE_SCORE, CHROM_LEN
    CONSENSUS = args.consensus
    CHROM_LEN = args.chrom_len
    if CHROM_LEN < 100_000:
        ap.error("--chrom-len must be at least 100000")
    scale = CHROM_LEN / 1_000_000
    per_chrom = lambda n: max(1, int(round(n * scale)))
    MIN_SITE_SCORE = args.min_site_score
    rng = np.random.default_rng(args.seed)
    here = os.path.dirname(os.path.abspath(__file__))
    motifs = load_motifs(os.path.join(here, "..", "data", "motifs", "synthetic_enhancers.jaspar"))
    os.makedirs(args.out, exist_ok=True)
    fasta = open(os.path.join(args.out, "genome.fa"), "w")
    peaks = {t: open(os.path.join(args.out, f"{t}.peaks.bed"), "w") for t in TISSUES}
    signal = {t: open(os.path.join(args.out, f"{t}.signal.bedGraph"), "w") for t in TISSUES}
    truth = open(os.path.join(args.out, "truth.tsv"), "w")
    truth.write("chrom\tstart\tend\ttissue\tstrength\tmotifs\n")
    for chrom in [f"chr{i}" for i in range(1, args.chroms + 1)]:
        seq = markov_genome(rng, CHROM_LEN)
        # Enhancers: non-overlapping slots of 2.5 kb, each holds at most one element.
        slots = rng.permutation(CHROM_LEN // SLOT - 2) + 1
        cursor = 0
        elements = []  # (start, end, tissue or 'ctcf', strength)
        for tissue, (m1, m2) in TISSUES.items():
            for _ in range(per_chrom(ENHANCERS_PER_MB)):
                slot = slots[cursor]; cursor += 1
                start = slot * SLOT + int(rng.integers(0, SLOT - ENH_LEN))
                k = int(rng.integers(2, 5))
                for j in range(k):
                    site = sample_motif(rng, motifs[(m1, m2)[j % 2]])
                    pos = start + int(rng.integers(0, ENH_LEN - len(site)))
                    seq[pos:pos + len(site)] = site
                strength = k * rng.lognormal(0.0, 0.3)
                elements.append((start, start + ENH_LEN, tissue, strength, k))
        for _ in range(per_chrom(40)):  # shared CTCF sites
            slot = slots[cursor]; cursor += 1
            start = slot * SLOT + int(rng.integers(0, SLOT - 60))
            site = sample_motif(rng, motifs["CTCF"])
            seq[start + 20:start + 20 + len(site)] = site
            elements.append((start, start + 60, "ctcf", 1.0, 1))
        for _ in range(per_chrom(200)):  # decoys: single motifs in background slots
            name = list(motifs)[int(rng.integers(0, len(motifs)))]
            site = sample_motif(rng, motifs[name])
            pos = int(rng.integers(0, CHROM_LEN - len(site)))
            seq[pos:pos + len(site)] = site
        text = BASES[seq].astype("U1")
        for _ in range(per_chrom(50)):  # soft-masked repeats
            s = int(rng.integers(0, CHROM_LEN - 1000)); e = s + int(rng.integers(100, 1000))
            text[s:e] = np.char.lower(text[s:e])
        for _ in range(2):  # assembly gaps
            s = int(rng.integers(0, CHROM_LEN - 5000))
            text[s:s + int(rng.integers(500, 3000))] = "N"
        s = "".join(text.tolist())
        fasta.write(f">{chrom}\n")
        for i in range(0, len(s), 80):
            fasta.write(s[i:i + 80] + "\n")
        # Tracks.
        bins = CHROM_LEN // 50
        for tissue in TISSUES:
            sig = rng.gamma(1.5, 0.4, size=bins)
            for (st, en, t, strength, k) in elements:
                if t == tissue or t == "ctcf":
                    gain = strength * (1.0 if t == tissue else 0.5) * rng.lognormal(0.5, 0.4)
                    sig[st // 50:en // 50 + 1] += gain * 3.0
                    if t == tissue:
                        truth.write(f"{chrom}\t{st}\t{en}\t{t}\t{strength:.3f}\t{k}\n")
                        if strength > 1.8 and rng.random() > 0.10:
                            jitter = int(rng.integers(-50, 50))
                            peaks[tissue].write(f"{chrom}\t{max(0, st + jitter)}\t{en + jitter}\n")
            for _ in range(CHROM_LEN // 100_000):
                st = int(rng.integers(0, CHROM_LEN - 300))
                peaks[tissue].write(f"{chrom}\t{st}\t{st + 200}\n")
            for b in range(bins):
                signal[tissue].write(f"{chrom}\t{b * 50}\t{b * 50 + 50}\t{sig[b]:.3f}\n")
    for f in [fasta, truth, *peaks.values(), *signal.values()]:
        f.close()
    # BED must be sorted for some tools; sort peaks per file.
    for tissue in TISSUES:
        path = os.path.join(args.out, f"{tissue}.peaks.bed")
        rows = [l.split("\t") for l in open(path).read().splitlines()]
        rows.sort(key=lambda r: (r[0], int(r[1])))
        open(path, "w").write("".join("\t".join(r) + "\n" for r in rows))
    if args.windows_tsv:
        write_windows(args.out)


def write_windows(out, width=1000):
    """windows.tsv: per 1 kb window, the uppercased sequence, peak overlap (0/1) and
    mean signal per tissue (what the window table's coverage/mean columns hold)."""
    seqs, name = {}, None
    for line in open(os.path.join(out, "genome.fa")):
        if line.startswith(">"):
            name = line[1:].strip(); seqs[name] = []
        else:
            seqs[name].append(line.strip())
    seqs = {k: "".join(v).upper() for k, v in seqs.items()}
    cols, values = [], {}
    for t in TISSUES:
        cov = {c: np.zeros(len(s) // width, dtype=bool) for c, s in seqs.items()}
        for line in open(os.path.join(out, f"{t}.peaks.bed")):
            c, a, b = line.split("\t")[:3]
            cov[c][int(a) // width:min((int(b) - 1) // width + 1, len(cov[c]))] = True
        sig = {c: np.zeros(len(s) // width) for c, s in seqs.items()}
        for line in open(os.path.join(out, f"{t}.signal.bedGraph")):
            c, a, b, v = line.split("\t")
            sig[c][int(a) // width] += float(v) * (int(b) - int(a)) / width
        cols += [f"{t}_atac_peaks", f"{t}_h3k27ac"]
        values[f"{t}_atac_peaks"], values[f"{t}_h3k27ac"] = cov, sig
    with open(os.path.join(out, "windows.tsv"), "w") as f:
        f.write("chrom\tstart\tend\tseq\t" + "\t".join(cols) + "\n")
        for c, s in seqs.items():
            for w in range(len(s) // width):
                seq = s[w * width:(w + 1) * width]
                if seq.count("N") > width // 2:
                    continue
                vals = [f"{float(values[k][c][w]):.4f}" for k in cols]
                f.write(f"{c}\t{w * width}\t{(w + 1) * width}\t{seq}\t" + "\t".join(vals) + "\n")


if __name__ == "__main__":
    main()
