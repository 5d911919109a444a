#!/usr/bin/env python3
"""A practical sequence-only reference for the omics acceptance benchmark: an L2 logistic
regression on hit counts of the *true* planted motifs (the JASPAR matrices the generator
sampled from), which a model has to discover instead. Per tissue and motif: hits at
score thresholds 0.55-0.9 of the best possible log-odds, in the window and in its 300 bp
flanks, the best score, and the most hits of either motif in any 300 bp span. Trained on
chr1-chr4, scored on chr6, like `omicsdb train` in scripts/acceptance_omics.sh.

A second, richer reference ("soft"): per motif, soft hit counts (exp(a * (score - 1)),
a = 6, 12, 24) weighted by distance from the window (decay 100 bp into the flanks), the
four best scores within 150 bp, and per 300 bp span the most hits of either motif and
the most co-occurring pairs (at thresholds 0.6-0.8), standardised, same logistic fit.

The tissues and their motifs come from DIR/task.json (written by the generator; any
--tissues, --motif-seed or --grammar), or are the fixed three of synthetic_enhancers.jaspar
for an older directory without it. Under --grammar pair or spacing both references stay
as they are (hit counts do not see spacing or orientation): the honest true-motif level.

  python3 scripts/acceptance_omics.py DIR --seed 7 --windows-tsv
  python3 scripts/acceptance_pwm_reference.py DIR [--json OUT.json]
(--json: per tissue the held-out AUROC of both references, {"liver": {"plain": .., "soft": ..}})
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import acceptance_omics as generator  # noqa: E402

TRAIN_CHROMS = ["chr1", "chr2", "chr3", "chr4"]
HELD_OUT = "chr6"
FLANK = 300
THRESHOLDS = [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
TISSUES = dict(generator.TISSUES)  # replaced by the task's own (task.json) in main()


def read_genome(path):
    """Chromosome -> base codes (A, C, G, T = 0..3; anything else 4)."""
    code = {c: i for i, c in enumerate("ACGT")}
    seqs, name = {}, None
    for line in open(path):
        if line.startswith(">"):
            name = line[1:].strip()
            seqs[name] = []
        else:
            seqs[name].append(line.strip().upper())
    return {k: np.array([code.get(c, 4) for c in "".join(v)], dtype=np.int64) for k, v in seqs.items()}


def scan(bases, pwm):
    """Per position, the better strand's log-odds score over the motif's best possible
    score (N scores -5 per position); positions past the last full site get -9."""
    n_col = np.full((1, len(pwm)), -5.0)
    fwd = np.vstack([np.log(pwm / 0.25).T, n_col]).T
    rev = np.vstack([np.log(pwm[::-1, ::-1] / 0.25).T, n_col]).T
    width, n = len(pwm), len(bases) - len(pwm) + 1
    f, r = np.zeros(n), np.zeros(n)
    for j in range(width):
        f += fwd[j][bases[j:j + n]]
        r += rev[j][bases[j:j + n]]
    best = np.log(pwm / 0.25).max(axis=1).sum()
    return np.concatenate([np.maximum(f, r) / best, np.full(width - 1, -9.0)])


def box_sum(x, width=300):
    """np.convolve(x, np.ones(width), "same") of a 0/1 array (len(x) >= width), exactly (integer
    running sums), without the O(n * width) convolution."""
    x = np.asarray(x, dtype=np.int64)
    n = len(x)
    c = np.concatenate([[0], np.cumsum(x)])
    k = np.arange(n) + (width - 1) // 2
    return (c[np.minimum(k, n - 1) + 1] - c[np.maximum(0, k - width + 1)]).astype(float)


def features(scores, chrom, start, end, tissue):
    out = []
    for motif in TISSUES[tissue]:
        s = scores[(chrom, motif)]
        core = s[start:end]
        flanks = np.concatenate([s[max(0, start - FLANK):start], s[end:end + FLANK]])
        out += [(core >= th).sum() for th in THRESHOLDS]
        out += [(flanks >= th).sum() for th in THRESHOLDS]
        out.append(core.max())
    # Most hits of either motif within any 300 bp span around the window.
    both = np.maximum(*(scores[(chrom, m)][max(0, start - 150):end + 150] for m in TISSUES[tissue]))
    for th in (0.7, 0.6):
        out.append(box_sum(both >= th).max())
    return out


def soft_features(scores, chrom, start, end, tissue):
    out, spans = [], []
    for motif in TISSUES[tissue]:
        lo, hi = max(0, start - FLANK), end + FLANK
        ext = scores[(chrom, motif)][lo:hi]
        pos = np.arange(lo, lo + len(ext))
        dist = np.maximum(0, np.maximum(start - pos, pos - end))
        weight = np.exp(-dist / 100.0)
        for a in (6, 12, 24):
            out.append((np.exp(a * (np.clip(ext, -2, 1) - 1)) * weight).sum())
        out += list(np.sort(ext[dist < 150])[::-1][:4])
        spans.append(ext)
    for th in (0.6, 0.7, 0.8):
        out.append(box_sum((spans[0] >= th) | (spans[1] >= th)).max())
        c1, c2 = (box_sum(s >= th) for s in spans)
        out.append((np.minimum(c1, 3) * np.minimum(c2, 3)).max())
    return out


def auroc(y, p):
    order = np.argsort(p)
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y.sum()
    return (ranks[y].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos))


def logistic(x, y, l2=1e-2, steps=50):
    """L2-regularised logistic regression by Newton's method."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + l2 * w
        hess = (x.T * (p * (1 - p))) @ x + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="a task directory written with --windows-tsv")
    ap.add_argument("--json", metavar="OUT", help="also write the held-out AUROCs per tissue to OUT (JSON)")
    args = ap.parse_args()
    out_dir = args.dir
    tissues, motifs = generator.task_motifs(out_dir)
    TISSUES.clear()
    TISSUES.update(tissues)
    result = {}
    genome = read_genome(os.path.join(out_dir, "genome.fa"))
    scores = {(c, m): scan(b, motifs[m]) for c, b in genome.items() for pair in TISSUES.values() for m in pair}
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(out_dir, "windows.tsv"))]
    header, rows = rows[0], rows[1:]
    chroms = np.array([r[0] for r in rows])
    train, test = np.isin(chroms, TRAIN_CHROMS), chroms == HELD_OUT
    for tissue in TISSUES:
        col = header.index(f"{tissue}_atac_peaks")
        x = np.array([features(scores, r[0], int(r[1]), int(r[2]), tissue) for r in rows], dtype=float)
        y = np.array([float(r[col]) > 0.5 for r in rows])
        x = np.hstack([np.log1p(np.maximum(x, 0)), np.ones((len(x), 1))])
        w = logistic(x[train], y[train])
        result[tissue] = {"plain": float(auroc(y[test], x[test] @ w)), "held_out": HELD_OUT,
                          "positives": int(y[test].sum()), "windows": int(test.sum())}
        print(f"{tissue}: true-motif logistic AUROC on {HELD_OUT}: {auroc(y[test], x[test] @ w):.3f} "
              f"(on its training chromosomes {auroc(y[train], x[train] @ w):.3f})")
        s = np.array([soft_features(scores, r[0], int(r[1]), int(r[2]), tissue) for r in rows], dtype=float)
        s = np.sign(s) * np.log1p(np.abs(s))
        s = (s - s[train].mean(0)) / (s[train].std(0) + 1e-9)
        s = np.hstack([s, np.ones((len(s), 1))])
        w = logistic(s[train], y[train], l2=1e-1, steps=30)
        result[tissue]["soft"] = float(auroc(y[test], s[test] @ w))
        print(f"{tissue}: soft true-motif logistic AUROC on {HELD_OUT}: {auroc(y[test], s[test] @ w):.3f} "
              f"(on its training chromosomes {auroc(y[train], s[train] @ w):.3f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
