#!/usr/bin/env python3
"""Variant-effect acceptance on the planted-motif task (scripts/acceptance_omics.py).

  acceptance_variants.py TASK_DIR OUT_DIR [--chrom chr6] [--seed 1]

Reads the task's genome.fa, truth.tsv and sites.tsv and writes OUT_DIR/variants.vcf:

* motif-breaking SNVs: for every planted motif site still intact inside an active
  enhancer (truth.tsv, strength > 1.8, the level that gives a peak) on --chrom, one SNV at
  the site's most specific base (the position where the planted base has the highest
  probability in the site's matrix, in the orientation the site was planted), changed to
  the base the matrix likes least there. INFO: KIND=break;TISSUE=<tissue>;MOTIF=<name>.
* matched neutral SNVs: for each breaking SNV, one SNV in the same enhancer element
  (+-100 bp) at least 5 bp from every planted site of any kind (enhancer, decoy, CTCF,
  background) and not inside a match of any matrix of the task scoring >= 0.7 of its best,
  to a random other base. INFO: KIND=neutral;TISSUE=<tissue>.

  acceptance_variants.py --evaluate SCORED.vcf [--json OUT.json]

Reads a VCF scored by `omicsdb score-variants` and reports, per tissue, for the tissue's
peak track (`<tissue>_atac_seq_delta`) and signal track (`<tissue>_chip_seq_h3k27ac_delta`):
the AUROC of |delta| separating breaking from neutral variants, and the fraction of
breaking variants with delta < 0.
"""
import argparse
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acceptance_omics import load_motifs, repo_path  # noqa: E402

COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


def revcomp(s):
    return "".join(COMP.get(b, "N") for b in reversed(s))


def read_fasta(path, want):
    seq, name, out = [], None, {}
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith(">"):
            if name == want:
                out[name] = "".join(seq)
            name, seq = line[1:].split()[0], []
        elif name == want:
            seq.append(line)
    if name == want:
        out[name] = "".join(seq)
    return out[want]


def tsv(path):
    lines = open(path).read().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:]]


def log_odds(m):
    """Per position, log2(p / 0.25) of each base (matrix columns are A, C, G, T)."""
    return [{b: math.log2(max(col[i], 1e-3) / 0.25) for i, b in enumerate("ACGT")} for col in m]


def best(lo):
    return sum(max(c.values()) for c in lo)


def score(lo, s):
    return sum(lo[i].get(b, -10.0) for i, b in enumerate(s))


def in_any_match(lods, seq, q):
    """Whether position q lies in a match (>= 0.7 of the best log-odds, either strand) of any matrix."""
    for lo in lods.values():
        n, top = len(lo), best(lo)
        for j in range(max(0, q - n + 1), min(q, len(seq) - n) + 1):
            sub = seq[j:j + n]
            if score(lo, sub) >= 0.7 * top or score(lo, revcomp(sub)) >= 0.7 * top:
                return True
    return False


def generate(args):
    task = json.load(open(os.path.join(args.task, "task.json")))
    motifs = load_motifs(repo_path(task["motif_file"]))
    # matrices as lists of [pA, pC, pG, pT] per position
    mats = {name: [list(col) for col in m] for name, m in motifs.items()}
    lods = {name: log_odds(m) for name, m in mats.items()}
    seq = read_fasta(os.path.join(args.task, "genome.fa"), args.chrom).upper()
    sites = [s for s in tsv(os.path.join(args.task, "sites.tsv")) if s["chrom"] == args.chrom]
    enhancers = [e for e in tsv(os.path.join(args.task, "truth.tsv"))
                 if e["chrom"] == args.chrom and float(e["strength"]) > 1.8]
    blocked = bytearray(len(seq))
    for s in sites:
        for p in range(max(0, int(s["start"]) - 5), min(len(seq), int(s["end"]) + 5)):
            blocked[p] = 1
    rng = random.Random(args.seed)
    records = []
    for e in enhancers:
        es, ee, tissue = int(e["start"]), int(e["end"]), e["tissue"]
        inside = [s for s in sites if s["element"] == "enhancer" and s["tissue"] == tissue
                  and es <= int(s["start"]) and int(s["end"]) <= ee and "+" not in s["motif"]]
        for s in inside:
            start, bases, name = int(s["start"]), s["bases"], s["motif"]
            if seq[start:start + len(bases)] != bases:
                continue
            lo = lods[name]
            fwd, rev = score(lo, bases), score(lo, revcomp(bases))
            oriented = bases if fwd >= rev else revcomp(bases)
            # the most specific base of the site, in matrix orientation
            i = max(range(len(oriented)), key=lambda k: mats[name][k]["ACGT".index(oriented[k])])
            alt_m = min("ACGT", key=lambda b: mats[name][i]["ACGT".index(b)])
            if fwd >= rev:
                pos, ref, alt = start + i, oriented[i], alt_m
            else:
                pos, ref, alt = start + len(bases) - 1 - i, COMP[oriented[i]], COMP[alt_m]
            assert seq[pos] == ref, (pos, ref, seq[pos])
            records.append((pos, ref, alt, f"KIND=break;TISSUE={tissue};MOTIF={name}"))
            # the matched neutral SNV
            for _ in range(1000):
                q = rng.randrange(max(0, es - 100), min(len(seq), ee + 100))
                if blocked[q] or seq[q] not in COMP:
                    continue
                if in_any_match(lods, seq, q):
                    continue
                records.append((q, seq[q], rng.choice([b for b in "ACGT" if b != seq[q]]), f"KIND=neutral;TISSUE={tissue}"))
                break
    records.sort()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "variants.vcf")
    with open(path, "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        f.write(f"##contig=<ID={args.chrom},length={len(seq)}>\n")
        f.write('##INFO=<ID=KIND,Number=1,Type=String,Description="break: destroys a planted motif; neutral: matched control">\n')
        f.write('##INFO=<ID=TISSUE,Number=1,Type=String,Description="tissue of the enhancer">\n')
        f.write('##INFO=<ID=MOTIF,Number=1,Type=String,Description="motif broken">\n')
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, (pos, ref, alt, info) in enumerate(records):
            f.write(f"{args.chrom}\t{pos + 1}\tv{i}\t{ref}\t{alt}\t.\tPASS\t{info}\n")
    kinds = [r[3].split(";")[0] for r in records]
    print(f"{path}: {kinds.count('KIND=break')} motif-breaking, {kinds.count('KIND=neutral')} neutral SNVs on {args.chrom}")


def auroc(pos, neg):
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return pairs / max(1, len(pos) * len(neg))


def evaluate(args):
    rows = []
    for line in open(args.evaluate):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        info = dict(kv.split("=", 1) for kv in f[7].split(";") if "=" in kv)
        rows.append(info)
    tissues = sorted({r["TISSUE"] for r in rows})
    out = {}
    print("| tissue | track | breaking | neutral | AUROC abs(delta) | breaking with delta < 0 |")
    print("|---|---|---|---|---|---|")
    for t in tissues:
        for track in ("atac_seq", "chip_seq_h3k27ac"):
            key = f"{t}_{track}_delta"
            br = [float(r[key]) for r in rows if r["TISSUE"] == t and r["KIND"] == "break" and key in r]
            ne = [float(r[key]) for r in rows if r["TISSUE"] == t and r["KIND"] == "neutral" and key in r]
            if not br:
                continue
            a = auroc([abs(x) for x in br], [abs(x) for x in ne])
            negative = sum(1 for x in br if x < 0) / len(br)
            out[f"{t}/{track}"] = {"breaking": len(br), "neutral": len(ne), "auroc_abs_delta": a, "breaking_negative": negative}
            print(f"| {t} | {track} | {len(br)} | {len(ne)} | {a:.3f} | {negative:.3f} |")
    if args.json:
        json.dump(out, open(args.json, "w"), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("task", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--chrom", default="chr6")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--evaluate")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.evaluate:
        evaluate(args)
    else:
        if not (args.task and args.out):
            ap.error("TASK_DIR and OUT_DIR are needed")
        generate(args)


if __name__ == "__main__":
    main()
