#!/usr/bin/env python3
"""The ceiling of the omics acceptance task: held-out AUROC of an oracle that knows, for
every window, the planted enhancers of each tissue (truth.tsv from
scripts/acceptance_omics.py) and scores the window by the largest
`motifs + overlap/300` (sequence-knowable: how many motif instances the element has and
how much of it lies in the window) or `strength * overlap/300` (also knows the hidden
noise of the strength). The peak labels are those of windows.tsv.

Usage: python3 scripts/acceptance_ceiling.py DATA_DIR [chr6]
"""
import sys

import numpy as np


def auroc(scores, labels):
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1 = labels.sum()
    n0 = len(labels) - n1
    return (ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def main():
    data = sys.argv[1]
    held_out = (sys.argv[2] if len(sys.argv) > 2 else "chr6").split(",")
    rows = [l.rstrip("\n").split("\t") for l in open(f"{data}/windows.tsv")]
    header, rows = rows[0], [r for r in rows[1:] if r[0] in held_out]
    truth = [l.split() for l in open(f"{data}/truth.tsv")][1:]
    for tissue in ["liver", "blood", "muscle"]:
        col = header.index(f"{tissue}_atac_peaks")
        labels = [float(r[col]) > 0 for r in rows]
        by_count, by_strength = {}, {}
        for chrom, start, end, t, strength, motifs in truth:
            if t != tissue or chrom not in held_out:
                continue
            s, e = int(start), int(end)
            for w in range(s // 1000, (e - 1) // 1000 + 1):
                overlap = (min(e, (w + 1) * 1000) - max(s, w * 1000)) / 300
                key = (chrom, w)
                by_count[key] = max(by_count.get(key, 0), int(motifs) + overlap)
                by_strength[key] = max(by_strength.get(key, 0), float(strength) * overlap)
        keys = [(r[0], int(r[1]) // 1000) for r in rows]
        print(f"{tissue}: {sum(labels)} positive of {len(labels)} windows; AUROC of the motif-count oracle "
              f"{auroc([by_count.get(k, 0) for k in keys], labels):.3f}, of the strength oracle "
              f"{auroc([by_strength.get(k, 0) for k in keys], labels):.3f}")


if __name__ == "__main__":
    main()
