#!/usr/bin/env python3
"""Synthetic-but-realistic omics task for the `omicsdb train` acceptance benchmark.

Writes, for a fixed seed, into OUT_DIR:
  genome.fa                  --chroms chromosomes x --chrom-len bp (default 6 x 1 Mbp): a
                             first-order Markov chain with human-like composition (41% GC, CpG
                             depleted to ~1/4), ~5% soft-masked (lowercase) stretches and a few N runs
  <tissue>.peaks.bed         peak calls per tissue (BED3)
  <tissue>.signal.bedGraph   signal per tissue in 50 bp bins
  truth.tsv                  every planted (active) enhancer (chrom, start, end, tissue, strength, motifs)
  decoys.tsv                 with --grammar pair/spacing only: the planted decoy elements
                             (chrom, start, end, tissue, kind, motifs), which give no peak or signal
  task.json                  the task's description: tissues, their motifs (JASPAR ids and names),
                             the grammar (and per tissue spacing/orientation) and every knob value
  sites.tsv                  every planted motif site still intact in the final sequence
                             (chrom, start, end, tissue or ctcf/background, element:
                             enhancer/decoy/ctcf/background, motif name(s), bases as planted);
                             written without drawing from the random stream, so every other
                             file is the same with or without it
  windows.tsv                with --windows-tsv (see write_windows)

By default, three tissues with tissue-specific enhancers, each a ~300 bp element holding 2-4
sampled instances of the tissue's two JASPAR motifs (data/motifs/synthetic_enhancers.jaspar)
at noisy positions and on random strands: liver (HNF4A, CEBPA), blood (GATA1, SPI1), muscle
(MYOD1, MEF2C); CTCF sites shared by all tissues give weaker signal everywhere. Enhancer
strength grows with its motif count. Peaks: enhancers above a strength threshold, 10%
dropped, plus false peaks at random places (1 per 100 kb). Signal: background gamma noise
per 50 bp bin plus strength x lognormal noise over each enhancer. Single decoy motifs are
also sprinkled in the background, so a motif alone does not make an enhancer.

With --min-site-score X (the benchmark uses 0.8), a sampled site scoring below X of its
matrix's best log-odds is resampled, so planted sites are good matches, as bound sites are.

Knobs for other tasks (every default reproduces the output above byte for byte; task.json
is an extra file):
  --grammar any      (default) as above: 2-4 sites of the tissue's two motifs make an enhancer.
  --grammar pair     activity needs two or more sites of the tissue's motifs (2-4 sites, each
                     motif drawn at random, not overlapping); as many *decoy* elements as
                     enhancers hold a single site of one of the tissue's motifs and are inactive.
  --grammar spacing  activity needs the tissue's two motifs as a composite site: a fixed gap
                     (10-20 bp between them) and a fixed relative orientation (++, +-, -+ or --,
                     first motif first), drawn per tissue from --seed; an enhancer holds 1-2
                     composites (each on a random strand), strength 2 x composites x lognormal.
                     As many decoys hold the same two motifs at a wrong gap (0-60 bp, at least
                     5 bp off) or in a wrong orientation (only orientations that differ in a
                     non-palindromic motif, so a decoy can be told apart).
  --tissues N        3-5 tissues: liver, blood, muscle, brain (SOX2, RFX3), lung (Nkx2-1, FOXA2).
                     More than 3, or --motif-seed, take the matrices from the larger bundled set
                     data/motifs/jaspar_core_vertebrates.jaspar (65 JASPAR 2026 CORE vertebrate
                     matrices, one per TF family; data/PROVENANCE.md).
  --motif-seed S     each tissue's two motifs drawn by seed S from that larger set instead of
                     the fixed ones: all distinct, none with a best-alignment similarity above
                     0.65 to another chosen motif or to CTCF (the shared motif, always kept);
                     with --grammar spacing, palindromic matrices are skipped.
  --peak-drop F      fraction of enhancer peaks dropped (default 0.1).
  --false-peaks-per-100kb X  false peaks at random places per tissue (default 1; per chromosome
                     X x chrom-len / 100 kb, rounded down).
  --signal-noise X   multiplies the noise of the signal: the scale of the background gamma
                     noise and the sigma of each enhancer's lognormal gain (default 1).
  --chrom-len BP     chromosome length (default 1,000,000); enhancers (110 per Mbp per tissue),
                     CTCF sites (40), background decoys (200), soft-masked stretches (50) and
                     false peaks scale with it, so small tasks keep the same density
                     (~16 enhancers per tissue on a 150 kb chromosome). When the elements do
                     not fit in 2.5 kb slots (more tissues, decoys), the slots shrink.
  --enhancers-per-mb N  enhancers per tissue per Mbp (default 110), e.g. 220 for more positives
                     on a small task.

Usage: python3 scripts/acceptance_omics.py OUT_DIR [--seed 7] [--chroms 6] [--min-site-score 0.8]
         [--grammar any|pair|spacing] [--tissues 3] [--motif-seed S] [--peak-drop 0.1]
         [--false-peaks-per-100kb 1] [--signal-noise 1] [--chrom-len 1000000]
         [--enhancers-per-mb 110] [--windows-tsv]
       (see scripts/acceptance_omics.sh and scripts/bench_train_defaults.sh)
"""
import argparse
import json
import os

import numpy as np

TISSUES = {"liver": ("HNF4A", "CEBPA"), "blood": ("GATA1", "Spi1"), "muscle": ("MYOD1", "MEF2C")}
# Tissues past the first three (--tissues 4-5) and their fixed motifs (from MOTIF_LIBRARY).
MORE_TISSUES = {"brain": ("SOX2", "RFX3"), "lung": ("Nkx2-1", "FOXA2")}
TISSUE_NAMES = list(TISSUES) + list(MORE_TISSUES)
SHARED_MOTIF = "CTCF"
HERE = os.path.dirname(os.path.abspath(__file__))
MOTIF_FILE = os.path.join("data", "motifs", "synthetic_enhancers.jaspar")  # repo-relative
MOTIF_LIBRARY = os.path.join("data", "motifs", "jaspar_core_vertebrates.jaspar")
MAX_MOTIF_SIMILARITY = 0.65  # --motif-seed: most best-alignment similarity between chosen motifs
PALINDROME = 0.8  # a matrix this similar to its own reverse complement is palindromic
CHROM_LEN = 1_000_000
ENHANCERS_PER_MB = 110  # per tissue
CTCF_PER_MB = 40
BACKGROUND_DECOYS_PER_MB = 200
REPEATS_PER_MB = 50
ENH_LEN = 300
SLOT = 2500
BASES = np.array(list("ACGT"))
ORIENTATIONS = ["++", "+-", "-+", "--"]  # strands of (first motif, second motif), first motif first


def repo_path(rel):
    return os.path.join(HERE, "..", rel)


def load_motifs(path):
    motifs, lines = {}, [l.strip() for l in open(path) if l.strip()]
    for i in range(0, len(lines), 5):
        name = lines[i].split()[1]
        rows = [[float(x) for x in l.split("[")[1].split("]")[0].split()] for l in lines[i + 1:i + 5]]
        m = np.array(rows).T + 0.5  # positions x ACGT, pseudocount
        motifs[name] = m / m.sum(axis=1, keepdims=True)
    return motifs


def load_motif_ids(path):
    """Matrix name -> JASPAR id (MA0139.2) of a JASPAR file."""
    return {l.split()[1]: l.split()[0][1:] for l in open(path) if l.startswith(">")}


def task_motifs(out_dir):
    """The tissues (name -> (motif, motif)) and matrices (name -> probabilities) of the task in
    out_dir: from its task.json, or the fixed three tissues of synthetic_enhancers.jaspar for
    a directory written before task.json existed."""
    path = os.path.join(out_dir, "task.json")
    if not os.path.exists(path):
        return dict(TISSUES), load_motifs(repo_path(MOTIF_FILE))
    task = json.load(open(path))
    tissues = {t["name"]: tuple(m["name"] for m in t["motifs"]) for t in task["tissues"]}
    return tissues, load_motifs(repo_path(task["motif_file"]))


def _aligned_similarity(a, b, min_overlap):
    """Best cosine similarity of the centred matrices a and b (same strand) over their
    gapless alignments with at least min_overlap columns, times overlap / shorter length."""
    la, lb = len(a), len(b)
    short = min(la, lb)
    ca, cb = a - 0.25, b - 0.25
    best = 0.0
    for off in range(-(lb - 1), la):
        i0, i1 = max(0, off), min(la, off + lb)
        if i1 - i0 < min(min_overlap, short):
            continue
        x, y = ca[i0:i1].ravel(), cb[i0 - off:i1 - off].ravel()
        c = x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12)
        best = max(best, c * min(1.0, (i1 - i0) / short))
    return best


def motif_similarity(a, b, min_overlap=6):
    """Best-alignment similarity of two matrices on either strand (1 = the same motif)."""
    return max(_aligned_similarity(a, b, min_overlap), _aligned_similarity(a, b[::-1, ::-1], min_overlap))


def palindromic(m):
    """Similarity of a matrix to its own reverse complement (shifted by up to 2 columns)."""
    return _aligned_similarity(m, m[::-1, ::-1], max(1, len(m) - 2))


def draw_motifs(library, n_tissues, motif_seed, avoid_palindromes):
    """n_tissues pairs of distinct, dissimilar motifs from the library, drawn by motif_seed."""
    rng = np.random.default_rng(motif_seed)
    names = [n for n in library if n != SHARED_MOTIF]
    chosen = [SHARED_MOTIF]
    for i in rng.permutation(len(names)):
        cand = library[names[i]]
        if avoid_palindromes and palindromic(cand) > PALINDROME:
            continue
        if any(motif_similarity(cand, library[c]) > MAX_MOTIF_SIMILARITY for c in chosen):
            continue
        chosen.append(names[i])
        if len(chosen) == 2 * n_tissues + 1:
            break
    else:
        raise SystemExit(f"cannot draw {2 * n_tissues} dissimilar motifs from {MOTIF_LIBRARY}")
    picks = chosen[1:]
    return {t: (picks[2 * i], picks[2 * i + 1]) for i, t in enumerate(TISSUE_NAMES[:n_tissues])}


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


def sample_site(rng, m):
    """A site on the matrix's own strand."""
    if CONSENSUS:
        site = np.argmax(m, axis=1).astype(np.int8)
        rng.random(len(m))  # keep the random stream the same length as a sampled site
    else:
        site = np.array([rng.choice(4, p=row) for row in m], dtype=np.int8)
        # Bound sites are good matches: resample below MIN_SITE_SCORE of the best score.
        while MIN_SITE_SCORE is not None and relative_score(m, site) < MIN_SITE_SCORE:
            site = np.array([rng.choice(4, p=row) for row in m], dtype=np.int8)
    return site


def revcomp(site):
    return (3 - site)[::-1]


def sample_motif(rng, m):
    """A site on a random strand."""
    site = sample_site(rng, m)
    if rng.random() < 0.5:
        site = revcomp(site)
    return site


def composite(rng, m1, m2, gap, orientation):
    """The two motifs' sites as one composite: m1's site, gap bases, m2's site, strands as in
    orientation, the whole on a random strand."""
    s1, s2 = sample_site(rng, m1), sample_site(rng, m2)
    if orientation[0] == "-":
        s1 = revcomp(s1)
    if orientation[1] == "-":
        s2 = revcomp(s2)
    site = np.concatenate([s1, rng.integers(0, 4, size=gap).astype(np.int8), s2])
    if rng.random() < 0.5:
        site = revcomp(site)
    return site


def place_apart(rng, seq, start, sites):
    """Writes sites at random, non-overlapping places of the element at start; returns
    their absolute positions."""
    taken = np.zeros(ENH_LEN, dtype=bool)
    placed = []
    for site in sites:
        for _ in range(100):
            pos = int(rng.integers(0, ENH_LEN - len(site)))
            if not taken[pos:pos + len(site)].any():
                break
        taken[pos:pos + len(site)] = True
        seq[start + pos:start + pos + len(site)] = site
        placed.append(start + pos)
    return placed


def wrong_orientations(right, m1, m2):
    """The orientations other than right that differ in the strand of a non-palindromic motif."""
    pal = (palindromic(m1) > PALINDROME, palindromic(m2) > PALINDROME)
    return [o for o in ORIENTATIONS if o != right
            and any(o[i] != right[i] and not pal[i] for i in range(2))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--windows-tsv", action="store_true",
                    help="also write windows.tsv (chrom, start, end, seq, one column per track) for "
                         "the model-level acceptance test in model/src/train/acceptance.rs")
    ap.add_argument("--chroms", type=int, default=6, help="chromosomes (default 6)")
    ap.add_argument("--chrom-len", type=int, default=CHROM_LEN,
                    help="bases per chromosome (default 1,000,000; at least 50,000)")
    ap.add_argument("--consensus", action="store_true",
                    help="plant each motif's consensus instead of sampling it (an easier task, for diagnostics)")
    ap.add_argument("--min-site-score", type=float, default=None,
                    help="resample planted sites whose log-odds score is below this fraction of "
                         "the matrix's best (e.g. 0.8; default: keep every sampled site)")
    ap.add_argument("--grammar", choices=["any", "pair", "spacing"], default="any",
                    help="what makes an element active (see the module docstring; default any)")
    ap.add_argument("--tissues", type=int, choices=[3, 4, 5], default=3,
                    help=f"number of tissues, named {', '.join(TISSUE_NAMES)} in that order (default 3)")
    ap.add_argument("--motif-seed", type=int, default=None,
                    help=f"draw each tissue's two motifs by this seed from {MOTIF_LIBRARY} "
                         "(default: the fixed motifs)")
    ap.add_argument("--peak-drop", type=float, default=0.1,
                    help="fraction of enhancer peaks dropped (default 0.1)")
    ap.add_argument("--false-peaks-per-100kb", type=float, default=1.0,
                    help="false peaks per tissue per 100 kb (default 1)")
    ap.add_argument("--signal-noise", type=float, default=1.0,
                    help="multiplier on the signal noise (default 1)")
    ap.add_argument("--enhancers-per-mb", type=int, default=ENHANCERS_PER_MB,
                    help=f"enhancers per tissue per Mbp (default {ENHANCERS_PER_MB}; more gives small "
                         "tasks more positives)")
    args = ap.parse_args()
    global CONSENSUS, MIN_SITE_SCORE
    CONSENSUS = args.consensus
    MIN_SITE_SCORE = args.min_site_score
    chrom_len = args.chrom_len
    if chrom_len < 50_000:
        ap.error("--chrom-len must be at least 50000")
    rng = np.random.default_rng(args.seed)
    if args.tissues == 3 and args.motif_seed is None:
        motif_file = MOTIF_FILE
        motifs = load_motifs(repo_path(motif_file))
        tissues = dict(TISSUES)
        decoy_pool = list(motifs)  # the background decoys draw from every matrix of the file
    else:
        motif_file = MOTIF_LIBRARY
        motifs = load_motifs(repo_path(motif_file))
        if args.motif_seed is None:
            tissues = {t: {**TISSUES, **MORE_TISSUES}[t] for t in TISSUE_NAMES[:args.tissues]}
        else:
            tissues = draw_motifs(motifs, args.tissues, args.motif_seed, args.grammar == "spacing")
        decoy_pool = [m for pair in tissues.values() for m in pair] + [SHARED_MOTIF]
    motif_ids = load_motif_ids(repo_path(motif_file))
    # Per-tissue composite grammar (--grammar spacing), from a stream of its own.
    layout = {}
    if args.grammar == "spacing":
        grng = np.random.default_rng([args.seed, 1])
        for t, (m1, m2) in tissues.items():
            layout[t] = {"gap": int(grng.integers(10, 21)),
                         "orientation": ORIENTATIONS[int(grng.integers(0, 4))]}
            layout[t]["wrong_orientations"] = wrong_orientations(layout[t]["orientation"], motifs[m1], motifs[m2])
    # Per chromosome counts, scaled with its length (the defaults at 1 Mbp).
    scale = chrom_len / 1_000_000
    per_chrom = lambda n: max(1, int(round(n * scale)))
    n_enh = per_chrom(args.enhancers_per_mb)
    n_ctcf = per_chrom(CTCF_PER_MB)
    n_background = per_chrom(BACKGROUND_DECOYS_PER_MB)
    n_repeats = per_chrom(REPEATS_PER_MB)
    n_false = int(args.false_peaks_per_100kb * chrom_len // 100_000)
    n_decoys = n_enh if args.grammar != "any" else 0
    needed = len(tissues) * (n_enh + n_decoys) + n_ctcf
    slot = min(SLOT, chrom_len // (needed + 2))
    if slot < ENH_LEN + 100:
        raise SystemExit(f"{needed} elements do not fit on a {chrom_len} bp chromosome")
    os.makedirs(args.out, exist_ok=True)
    fasta = open(os.path.join(args.out, "genome.fa"), "w")
    peaks = {t: open(os.path.join(args.out, f"{t}.peaks.bed"), "w") for t in tissues}
    signal = {t: open(os.path.join(args.out, f"{t}.signal.bedGraph"), "w") for t in tissues}
    truth = open(os.path.join(args.out, "truth.tsv"), "w")
    truth.write("chrom\tstart\tend\ttissue\tstrength\tmotifs\n")
    decoys = None
    if n_decoys:
        decoys = open(os.path.join(args.out, "decoys.tsv"), "w")
        decoys.write("chrom\tstart\tend\ttissue\tkind\tmotifs\n")
    counts = {t: {"enhancers": 0, "peaks": 0, "decoys": 0} for t in tissues}
    sites_out = open(os.path.join(args.out, "sites.tsv"), "w")
    sites_out.write("chrom\tstart\tend\ttissue\telement\tmotif\tbases\n")
    for chrom in [f"chr{i}" for i in range(1, args.chroms + 1)]:
        seq = markov_genome(rng, chrom_len)
        # Enhancers: non-overlapping slots (2.5 kb unless they do not fit), each holds at most
        # one element.
        slots = rng.permutation(chrom_len // slot - 2) + 1
        cursor = 0
        elements = []  # (start, end, tissue or 'ctcf', strength)
        planted = []  # (pos, site, tissue, element kind, motif name)
        for tissue, (m1, m2) in tissues.items():
            for _ in range(n_enh):
                slot_i = slots[cursor]; cursor += 1
                start = slot_i * slot + int(rng.integers(0, slot - ENH_LEN))
                if args.grammar == "any":
                    k = int(rng.integers(2, 5))
                    for j in range(k):
                        site = sample_motif(rng, motifs[(m1, m2)[j % 2]])
                        pos = start + int(rng.integers(0, ENH_LEN - len(site)))
                        seq[pos:pos + len(site)] = site
                        planted.append((pos, site, tissue, "enhancer", (m1, m2)[j % 2]))
                    strength = k * rng.lognormal(0.0, 0.3)
                elif args.grammar == "pair":
                    k = int(rng.integers(2, 5))
                    names, sites = [], []
                    for _ in range(k):
                        names.append((m1, m2)[int(rng.integers(0, 2))])
                        sites.append(sample_motif(rng, motifs[names[-1]]))
                    for pos, site, name in zip(place_apart(rng, seq, start, sites), sites, names):
                        planted.append((pos, site, tissue, "enhancer", name))
                    strength = k * rng.lognormal(0.0, 0.3)
                else:  # spacing
                    n_pairs = int(rng.integers(1, 3))
                    g, o = layout[tissue]["gap"], layout[tissue]["orientation"]
                    sites = [composite(rng, motifs[m1], motifs[m2], g, o) for _ in range(n_pairs)]
                    for pos, site in zip(place_apart(rng, seq, start, sites), sites):
                        planted.append((pos, site, tissue, "enhancer", f"{m1}+{m2}"))
                    k = 2 * n_pairs
                    strength = k * rng.lognormal(0.0, 0.3)
                elements.append((start, start + ENH_LEN, tissue, strength, k))
            for _ in range(n_decoys):  # inactive elements: the grammar is not met
                slot_i = slots[cursor]; cursor += 1
                start = slot_i * slot + int(rng.integers(0, slot - ENH_LEN))
                if args.grammar == "pair":
                    kind, k = "single", 1
                    name = (m1, m2)[int(rng.integers(0, 2))]
                    site = sample_motif(rng, motifs[name])
                    for pos in place_apart(rng, seq, start, [site]):
                        planted.append((pos, site, tissue, "decoy", name))
                else:
                    n_pairs = int(rng.integers(1, 3))
                    g, o = layout[tissue]["gap"], layout[tissue]["orientation"]
                    wrong = layout[tissue]["wrong_orientations"]
                    sites, kinds = [], []
                    for _ in range(n_pairs):
                        if wrong and rng.random() < 0.5:
                            kinds.append("wrong_orientation")
                            sites.append(composite(rng, motifs[m1], motifs[m2], g, wrong[int(rng.integers(0, len(wrong)))]))
                        else:
                            kinds.append("wrong_spacing")
                            gaps = [x for x in range(0, 61) if abs(x - g) > 4]
                            sites.append(composite(rng, motifs[m1], motifs[m2], gaps[int(rng.integers(0, len(gaps)))], o))
                    for pos, site in zip(place_apart(rng, seq, start, sites), sites):
                        planted.append((pos, site, tissue, "decoy", f"{m1}+{m2}"))
                    kind, k = ",".join(kinds), 2 * n_pairs
                decoys.write(f"{chrom}\t{start}\t{start + ENH_LEN}\t{tissue}\t{kind}\t{k}\n")
                counts[tissue]["decoys"] += 1
        for _ in range(n_ctcf):  # shared CTCF sites
            slot_i = slots[cursor]; cursor += 1
            start = slot_i * slot + int(rng.integers(0, slot - 60))
            site = sample_motif(rng, motifs[SHARED_MOTIF])
            seq[start + 20:start + 20 + len(site)] = site
            planted.append((start + 20, site, "ctcf", "ctcf", SHARED_MOTIF))
            elements.append((start, start + 60, "ctcf", 1.0, 1))
        for _ in range(n_background):  # decoys: single motifs in background slots
            name = decoy_pool[int(rng.integers(0, len(decoy_pool)))]
            site = sample_motif(rng, motifs[name])
            pos = int(rng.integers(0, chrom_len - len(site)))
            seq[pos:pos + len(site)] = site
            planted.append((pos, site, "background", "background", name))
        for pos, site, t, kind, name in planted:  # the sites later writes left intact
            if np.array_equal(seq[pos:pos + len(site)], site):
                sites_out.write(f"{chrom}\t{pos}\t{pos + len(site)}\t{t}\t{kind}\t{name}\t{''.join(BASES[site])}\n")
        text = BASES[seq].astype("U1")
        for _ in range(n_repeats):  # soft-masked repeats
            s = int(rng.integers(0, chrom_len - 1000)); e = s + int(rng.integers(100, 1000))
            text[s:e] = np.char.lower(text[s:e])
        for _ in range(2):  # assembly gaps
            s = int(rng.integers(0, chrom_len - 5000))
            text[s:s + int(rng.integers(500, 3000))] = "N"
        s = "".join(text.tolist())
        fasta.write(f">{chrom}\n")
        for i in range(0, len(s), 80):
            fasta.write(s[i:i + 80] + "\n")
        # Tracks.
        bins = chrom_len // 50
        for tissue in tissues:
            sig = rng.gamma(1.5, 0.4 * args.signal_noise, size=bins)
            for (st, en, t, strength, k) in elements:
                if t == tissue or t == "ctcf":
                    gain = strength * (1.0 if t == tissue else 0.5) * rng.lognormal(0.5, 0.4 * args.signal_noise)
                    sig[st // 50:en // 50 + 1] += gain * 3.0
                    if t == tissue:
                        truth.write(f"{chrom}\t{st}\t{en}\t{t}\t{strength:.3f}\t{k}\n")
                        counts[t]["enhancers"] += 1
                        if strength > 1.8 and rng.random() > args.peak_drop:
                            jitter = int(rng.integers(-50, 50))
                            peaks[tissue].write(f"{chrom}\t{max(0, st + jitter)}\t{en + jitter}\n")
                            counts[t]["peaks"] += 1
            for _ in range(n_false):
                st = int(rng.integers(0, chrom_len - 300))
                peaks[tissue].write(f"{chrom}\t{st}\t{st + 200}\n")
            for b in range(bins):
                signal[tissue].write(f"{chrom}\t{b * 50}\t{b * 50 + 50}\t{sig[b]:.3f}\n")
    for f in [fasta, truth, sites_out, *peaks.values(), *signal.values()] + ([decoys] if decoys else []):
        f.close()
    # BED must be sorted for some tools; sort peaks per file.
    for tissue in tissues:
        path = os.path.join(args.out, f"{tissue}.peaks.bed")
        rows = [l.split("\t") for l in open(path).read().splitlines()]
        rows.sort(key=lambda r: (r[0], int(r[1])))
        open(path, "w").write("".join("\t".join(r) + "\n" for r in rows))
    task = {
        "generator": "scripts/acceptance_omics.py",
        "seed": args.seed, "chroms": args.chroms, "chrom_len": chrom_len,
        "grammar": args.grammar, "n_tissues": len(tissues), "motif_seed": args.motif_seed,
        "min_site_score": args.min_site_score, "consensus": args.consensus,
        "peak_drop": args.peak_drop, "false_peaks_per_100kb": args.false_peaks_per_100kb,
        "signal_noise": args.signal_noise, "enhancers_per_mb": args.enhancers_per_mb,
        "motif_file": motif_file.replace(os.sep, "/"),
        "shared_motif": {"id": motif_ids[SHARED_MOTIF], "name": SHARED_MOTIF},
        "per_chrom": {"enhancers_per_tissue": n_enh, "decoys_per_tissue": n_decoys, "ctcf_sites": n_ctcf,
                      "background_decoys": n_background, "false_peaks_per_tissue": n_false, "slot_bp": slot},
        "tissues": [],
    }
    for t, (m1, m2) in tissues.items():
        entry = {"name": t, "motifs": [{"id": motif_ids[m], "name": m} for m in (m1, m2)],
                 "tracks": {"peaks": f"{t}.peaks.bed", "signal": f"{t}.signal.bedGraph"}, **counts[t]}
        if t in layout:
            entry["spacing"] = {"gap": layout[t]["gap"], "orientation": layout[t]["orientation"],
                                "decoy_orientations": layout[t]["wrong_orientations"]}
        task["tissues"].append(entry)
    with open(os.path.join(args.out, "task.json"), "w") as f:
        json.dump(task, f, indent=1)
        f.write("\n")
    if args.windows_tsv:
        write_windows(args.out, list(tissues))


def write_windows(out, tissues=None, width=1000):
    """windows.tsv: per 1 kb window, the uppercased sequence, peak overlap (0/1) and
    mean signal per tissue (what the window table's coverage/mean columns hold)."""
    if tissues is None:
        tissues = list(task_motifs(out)[0])
    seqs, name = {}, None
    for line in open(os.path.join(out, "genome.fa")):
        if line.startswith(">"):
            name = line[1:].strip(); seqs[name] = []
        else:
            seqs[name].append(line.strip())
    seqs = {k: "".join(v).upper() for k, v in seqs.items()}
    cols, values = [], {}
    for t in tissues:
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
