//! Motif seeds for the convolutional stem: the k-mers most enriched in the training
//! set's positive bins (or windows), written into stem filters before training.
//!
//! A randomly initialised filter finds a transcription-factor motif only after a long
//! plateau (a 12-mer planted in 13% of 1 kb windows: about 300 steps; the sampled JASPAR
//! motifs of the acceptance task: none within 10 epochs). Counting k-mers is what
//! MEME-style motif finders start from: a word that occurs several times more often in
//! active bins than in all bins is a motif core. Each seed becomes one filter that fires
//! on its word with at most one mismatch; training then grows it into a full weight
//! matrix, and the unseeded filters stay random to find what words miss. Only the
//! training examples are counted, never the held-out ones.

use std::collections::HashSet;

use super::spec::{OmicsSpec, TrackKind};
use crate::train::Dataset;

/// The word length `omicsdb train` seeds with: long enough to be specific (4^8 words,
/// each expected about 15 times per Mbp of one strand), short enough that a motif's
/// core appears intact in many sampled instances.
pub const SEED_K: usize = 8;

/// Token id of `A`; `C`, `G`, `T` follow (the HyenaDNA character tokenizer).
const A_ID: u32 = 7;

/// A k-mer as base codes (0..4 for A, C, G, T) with its enrichment.
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    /// Base codes.
    pub bases: Vec<u8>,
    /// Head output (track) it was found for.
    pub track: usize,
    /// Occurrences in positive bins (both strands merged).
    pub observed: u32,
    /// Occurrences expected there from all bins.
    pub expected: f64,
}

impl Seed {
    /// The k-mer as letters.
    pub fn word(&self) -> String {
        self.bases.iter().map(|&b| b"ACGT"[b as usize] as char).collect()
    }
}

fn code(bases: &[u8]) -> usize {
    bases.iter().fold(0usize, |acc, &b| acc * 4 + b as usize)
}

fn decode(mut c: usize, k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k];
    for slot in out.iter_mut().rev() {
        *slot = (c % 4) as u8;
        c /= 4;
    }
    out
}

fn reverse_complement(bases: &[u8]) -> Vec<u8> {
    bases.iter().rev().map(|&b| 3 - b).collect()
}

/// Adds every k-mer of `ids[from..to]` (starting there; `N` breaks words) to `counts`,
/// keyed by the smaller code of the word and its reverse complement.
fn count_words(ids: &[u32], from: usize, to: usize, k: usize, counts: &mut [u32]) {
    let end = to.min(ids.len().saturating_sub(k - 1));
    let mut word: Vec<u8> = Vec::with_capacity(k);
    for start in from..end {
        word.clear();
        let ok = ids[start..start + k].iter().all(|&id| {
            let b = id.wrapping_sub(A_ID);
            word.push(b as u8);
            b < 4
        });
        if ok {
            let c = code(&word).min(code(&reverse_complement(&word)));
            counts[c] += 1;
        }
    }
}

/// Whether two words share a `(k − 2)`-mer on either strand (shifted copies of one motif).
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let k = a.len().min(b.len());
    if k < 3 {
        return a == b;
    }
    let sub = k - 2;
    let words = |w: &[u8]| -> HashSet<Vec<u8>> {
        let rc = reverse_complement(w);
        w.windows(sub).chain(rc.windows(sub)).map(|s| s.to_vec()).collect()
    };
    !words(a).is_disjoint(&words(b))
}

/// Up to `per_track` distinct k-mers per head output, most enriched first, in the
/// positive bins of `data` (per-bin targets) or its positive windows: peak tracks'
/// positives are bins inside a peak, signal tracks' the top 5% of bins. Enrichment is
/// `(observed − expected) / √(expected + 1)` against all bins, and only words at least 3
/// times as frequent as expected and scoring above 5 are kept. Words that share a
/// `(k − 2)`-mer with an earlier seed are skipped.
pub fn enriched_kmers(data: &Dataset, spec: &OmicsSpec, k: usize, per_track: usize) -> Vec<Seed> {
    if k == 0 || k > 12 || per_track == 0 || data.n() == 0 {
        return Vec::new();
    }
    let bins = data.bins.max(1);
    let bin_bp = if data.bins > 0 { spec.window_bp / bins } else { spec.window_bp };
    let region = |b: usize| {
        let from = spec.flank_bp + b * bin_bp;
        (from, from + bin_bp)
    };
    let target = |i: usize, b: usize, t: usize| -> f32 {
        if data.bins > 0 {
            data.bin_targets[(i * bins + b) * data.outputs + t]
        } else {
            data.targets[i * data.outputs + t]
        }
    };
    let mut all = vec![0u32; 1 << (2 * k)];
    for i in 0..data.n() {
        let ids = data.example_ids(i);
        for b in 0..bins {
            let (from, to) = region(b);
            count_words(ids, from, to, k, &mut all);
        }
    }
    let mut chosen: Vec<Seed> = Vec::new();
    for t in 0..data.outputs {
        let threshold = match spec.tracks[t].kind {
            TrackKind::Peaks => 0.5,
            TrackKind::Signal => {
                let mut v: Vec<f32> = (0..data.n()).flat_map(|i| (0..bins).map(move |b| (i, b))).map(|(i, b)| target(i, b, t)).collect();
                v.sort_by(f32::total_cmp);
                let q = v[((v.len() - 1) as f64 * 0.95) as usize];
                // A track whose top bins do not stand out (e.g. constant) gives no seeds.
                if q <= v[0] {
                    continue;
                }
                q
            }
        };
        let mut pos = vec![0u32; all.len()];
        let (mut pos_bins, total_bins) = (0usize, data.n() * bins);
        for i in 0..data.n() {
            let ids = data.example_ids(i);
            for b in 0..bins {
                if target(i, b, t) >= threshold {
                    let (from, to) = region(b);
                    count_words(ids, from, to, k, &mut pos);
                    pos_bins += 1;
                }
            }
        }
        if pos_bins == 0 || pos_bins == total_bins {
            continue;
        }
        let share = pos_bins as f64 / total_bins as f64;
        let mut scored: Vec<(f64, usize)> = pos
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(c, &n)| {
                let e = all[c] as f64 * share;
                ((n as f64 - e) / (e + 1.0).sqrt(), c)
            })
            .filter(|&(z, c)| z > 5.0 && pos[c] as f64 >= 3.0 * all[c] as f64 * share)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut taken = 0;
        for (_, c) in scored {
            if taken == per_track {
                break;
            }
            let bases = decode(c, k);
            if chosen.iter().any(|s| overlaps(&s.bases, &bases)) {
                continue;
            }
            chosen.push(Seed { bases, track: t, observed: pos[c], expected: all[c] as f64 * share });
            taken += 1;
        }
    }
    chosen
}

/// Stem weights `[C, 4, K]` and bias `[C]` (row-major values) with the first filters
/// replaced by seeds: weight 1 on each seed base, centred in the kernel, 0 elsewhere,
/// and bias `−(k − 1.5)`, so a filter outputs 1.5 on its word, 0.5 with one mismatch
/// and nothing (after ReLU) with more. At most half the filters (rounded up) are
/// seeded, so random ones remain to find what words miss; when that cuts the list, the
/// tracks take turns (every track's best seed first). Returns how many were seeded.
pub fn seeded_stem(weight: &mut [f32], bias: &mut [f32], channels: usize, kernel: usize, seeds: &[Seed]) -> usize {
    let mut rank = std::collections::HashMap::new();
    let mut order: Vec<(usize, usize, &Seed)> = seeds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = rank.entry(s.track).or_insert(0usize);
            *r += 1;
            (*r, i, s)
        })
        .collect();
    order.sort_by_key(|&(r, i, _)| (r, i));
    let n = seeds.len().min(channels.div_ceil(2));
    for (f, (_, _, seed)) in order.into_iter().take(n).enumerate() {
        let k = seed.bases.len().min(kernel);
        let start = (kernel - k) / 2;
        let w = &mut weight[f * 4 * kernel..(f + 1) * 4 * kernel];
        w.iter_mut().for_each(|v| *v = 0.0);
        for (j, &b) in seed.bases.iter().take(k).enumerate() {
            w[b as usize * kernel + start + j] = 1.0;
        }
        bias[f] = -(k as f32 - 1.5);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::omics::{OmicsTrack, Pooling};
    use rand::{Rng, SeedableRng};

    #[test]
    fn finds_the_planted_word_on_either_strand() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let track = OmicsTrack {
            name: "p".into(),
            column: "p".into(),
            assay: "a".into(),
            target: None,
            tissue: "t".into(),
            kind: TrackKind::Peaks,
        };
        let spec = OmicsSpec {
            assembly: "a".into(),
            window_set: "w".into(),
            window_bp: 200,
            flank_bp: 0,
            tracks: vec![track],
            rc_average: false,
            pooling: Pooling::Mean,
            stem: None,
            bin_bp: None,
            bin_context: 0,
            impute: None,
        };
        let mut data = Dataset::new(200, 1);
        let word = [2u8, 0, 3, 0, 0, 2, 1, 0]; // GATAAGCA
        for i in 0..400 {
            let mut ids: Vec<u32> = (0..200).map(|_| A_ID + rng.random_range(0..4u32)).collect();
            let positive = i % 4 == 0;
            if positive {
                let at = rng.random_range(0..192);
                let w: Vec<u8> = if i % 8 == 0 { word.to_vec() } else { reverse_complement(&word) };
                for (j, &b) in w.iter().enumerate() {
                    ids[at + j] = A_ID + b as u32;
                }
            }
            data.push(&ids, &[f32::from(positive)]).unwrap();
        }
        let seeds = enriched_kmers(&data, &spec, 8, 3);
        assert!(!seeds.is_empty());
        let w = seeds[0].bases.clone();
        assert!(w == word || w == reverse_complement(&word), "{}", seeds[0].word());
        assert!(seeds[0].observed >= 100 && seeds[0].expected < 30.0, "{:?}", seeds[0]);
        // Shifted copies of the same word are not seeded twice.
        assert!(seeds.iter().skip(1).all(|s| !overlaps(&s.bases, &word)), "{seeds:?}");

        let (c, kernel) = (4, 11);
        let (mut weight, mut bias) = (vec![0.3f32; c * 4 * kernel], vec![0.0f32; c]);
        assert_eq!(seeded_stem(&mut weight, &mut bias, c, kernel, &seeds[..1]), 1);
        // Filter 0 scores its word: k ones, minus the bias.
        let score: f32 = w.iter().enumerate().map(|(j, &b)| weight[b as usize * kernel + 1 + j]).sum::<f32>() + bias[0];
        assert_eq!(score, 1.5);
        assert_eq!(weight[4 * kernel], 0.3, "filter 1 untouched");
        // At most half the filters are seeded, every track's best seed first.
        let other = |track, word: &str| Seed { bases: word.bytes().map(|b| b"ACGT".iter().position(|&x| x == b).unwrap() as u8).collect(), track, observed: 9, expected: 1.0 };
        let list = [other(0, "AAAAAAAA"), other(0, "CCCCCCCC"), other(0, "GGGGGGGG"), other(1, "TTTTTTTT")];
        let (mut weight, mut bias) = (vec![0.3f32; c * 4 * kernel], vec![0.0f32; c]);
        assert_eq!(seeded_stem(&mut weight, &mut bias, c, kernel, &list), 2);
        assert_eq!(weight[4 * kernel + 3 * kernel + 1], 1.0, "filter 1 holds track 1's seed (T at the first position)");
        assert_eq!(weight[2 * 4 * kernel], 0.3, "filter 2 stays random");
    }
}
