//! The k-mer baseline: per window, the frequencies of every DNA 4-mer (256 features,
//! standardised on the training set), then per track a ridge regression (signal, on the
//! `log1p` target) or an L2-regularised logistic regression (peaks, fitted by Newton's
//! method). The solvers are written here by hand on dense `p × p` normal equations
//! (Cholesky), which is all a 257-column problem needs; no linear-algebra dependency.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::dataset::Dataset;
use crate::omics::{OmicsSpec, TrackKind};

/// k-mer length.
pub const K: usize = 4;
const FEATURES: usize = 1 << (2 * K);
/// At most this many training windows are used to fit the baseline (seeded subsample).
pub const MAX_FIT_ROWS: usize = 20_000;
const LAMBDA: f64 = 1.0;

/// 4-mer frequencies of a token row (A C G T = ids 7..10; k-mers with N are skipped).
pub fn kmer_features(ids: &[u32]) -> Vec<f64> {
    let mut counts = vec![0.0f64; FEATURES];
    let mut code = 0usize;
    let mut valid = 0usize;
    let mut total = 0usize;
    for &t in ids {
        if (7..=10).contains(&t) {
            code = ((code << 2) | (t - 7) as usize) & (FEATURES - 1);
            valid += 1;
            if valid >= K {
                counts[code] += 1.0;
                total += 1;
            }
        } else {
            valid = 0;
        }
    }
    if total > 0 {
        counts.iter_mut().for_each(|c| *c /= total as f64);
    }
    counts
}

/// Solves `A x = b` for symmetric positive definite `A` (`n × n`, row-major) by Cholesky;
/// `None` if `A` is not positive definite.
pub fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0f64; n];
    for i in 0..n {
        let s = b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>();
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        let s = y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>();
        x[i] = s / l[i * n + i];
    }
    Some(x)
}

/// `Xᵀ diag(w) X + λ·I` (no penalty on the last, bias column) for rows of width `p`.
fn gram(x: &[Vec<f64>], w: Option<&[f64]>, p: usize) -> Vec<f64> {
    let mut g = vec![0.0f64; p * p];
    for (r, row) in x.iter().enumerate() {
        let wr = w.map_or(1.0, |w| w[r]);
        for i in 0..p {
            let xi = row[i] * wr;
            if xi == 0.0 {
                continue;
            }
            for j in 0..=i {
                g[i * p + j] += xi * row[j];
            }
        }
    }
    for i in 0..p {
        for j in 0..i {
            g[j * p + i] = g[i * p + j];
        }
        if i + 1 < p {
            g[i * p + i] += LAMBDA;
        }
    }
    g
}

/// Ridge regression weights (last one the intercept).
pub fn fit_ridge(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let p = x.first().map_or(1, Vec::len);
    let g = gram(x, None, p);
    let mut b = vec![0.0; p];
    for (row, &yi) in x.iter().zip(y) {
        for i in 0..p {
            b[i] += row[i] * yi;
        }
    }
    cholesky_solve(&g, &b, p).unwrap_or_else(|| vec![0.0; p])
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// L2-regularised logistic regression weights by Newton's method (IRLS), 15 iterations
/// at most.
pub fn fit_logistic(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let p = x.first().map_or(1, Vec::len);
    let mut w = vec![0.0f64; p];
    let dot = |row: &[f64], w: &[f64]| row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
    for _ in 0..15 {
        let probs: Vec<f64> = x.iter().map(|r| sigmoid(dot(r, &w))).collect();
        let weights: Vec<f64> = probs.iter().map(|q| (q * (1.0 - q)).max(1e-9)).collect();
        let h = gram(x, Some(&weights), p);
        let mut grad = vec![0.0; p];
        for ((row, q), yi) in x.iter().zip(&probs).zip(y) {
            for i in 0..p {
                grad[i] += row[i] * (q - yi);
            }
        }
        for i in 0..p - 1 {
            grad[i] += LAMBDA * w[i];
        }
        let Some(step) = cholesky_solve(&h, &grad, p) else { break };
        let norm: f64 = step.iter().map(|s| s * s).sum::<f64>().sqrt();
        w.iter_mut().zip(&step).for_each(|(wi, s)| *wi -= s);
        if norm < 1e-6 {
            break;
        }
    }
    w
}

/// The fitted baseline: feature standardisation and one weight vector per track.
#[derive(Debug, Clone)]
pub struct KmerBaseline {
    mean: Vec<f64>,
    std: Vec<f64>,
    weights: Vec<Vec<f64>>,
}

impl KmerBaseline {
    fn design(&self, ids: &[u32]) -> Vec<f64> {
        let mut f = kmer_features(ids);
        for (i, v) in f.iter_mut().enumerate() {
            *v = (*v - self.mean[i]) / self.std[i];
        }
        f.push(1.0);
        f
    }

    /// Fits every track of `spec` on (a seeded subsample of at most [`MAX_FIT_ROWS`] of)
    /// `train`.
    pub fn fit(spec: &OmicsSpec, train: &Dataset, seed: u64) -> Self {
        let mut rows: Vec<usize> = (0..train.n()).collect();
        if rows.len() > MAX_FIT_ROWS {
            rows.shuffle(&mut StdRng::seed_from_u64(seed));
            rows.truncate(MAX_FIT_ROWS);
        }
        let raw: Vec<Vec<f64>> = rows.iter().map(|&r| kmer_features(train.example_ids(r))).collect();
        let n = raw.len().max(1) as f64;
        let mut mean = vec![0.0; FEATURES];
        let mut std = vec![0.0; FEATURES];
        for f in &raw {
            for i in 0..FEATURES {
                mean[i] += f[i] / n;
            }
        }
        for f in &raw {
            for i in 0..FEATURES {
                std[i] += (f[i] - mean[i]).powi(2) / n;
            }
        }
        std.iter_mut().for_each(|s| *s = s.sqrt().max(1e-9));
        let mut model = Self { mean, std, weights: Vec::new() };
        let x: Vec<Vec<f64>> = rows.iter().map(|&r| model.design(train.example_ids(r))).collect();
        for (t, track) in spec.tracks.iter().enumerate() {
            let y: Vec<f64> = rows.iter().map(|&r| train.targets[r * train.outputs + t] as f64).collect();
            let w = match track.kind {
                TrackKind::Signal => fit_ridge(&x, &y),
                TrackKind::Peaks => fit_logistic(&x, &y),
            };
            model.weights.push(w);
        }
        model
    }

    /// Raw predictions `[track][example]` (log1p signal, or logits) for a dataset.
    pub fn predict(&self, data: &Dataset) -> Vec<Vec<f32>> {
        let x: Vec<Vec<f64>> = (0..data.n()).map(|i| self.design(data.example_ids(i))).collect();
        self.weights
            .iter()
            .map(|w| x.iter().map(|row| row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() as f32).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&a, &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky_solve(&[-1.0], &[1.0], 1).is_none());
    }

    #[test]
    fn kmer_frequencies_skip_n() {
        // ACGTA then N then ACGT: 4-mers ACGT, CGTA, ACGT.
        let ids = [7, 8, 9, 10, 7, 11, 7, 8, 9, 10];
        let f = kmer_features(&ids);
        let acgt = 0b00_01_10_11;
        assert!((f[acgt] - 2.0 / 3.0).abs() < 1e-12);
        assert!((f.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn logistic_separates_a_separable_feature() {
        let x: Vec<Vec<f64>> = (0..40).map(|i| vec![if i % 2 == 0 { 1.0 } else { -1.0 }, 1.0]).collect();
        let y: Vec<f64> = (0..40).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
        let w = fit_logistic(&x, &y);
        assert!(w[0] > 1.0, "{w:?}");
        let r = fit_ridge(&x, &y);
        assert!((r[0] - 0.5 * 40.0 / 41.0).abs() < 1e-9, "{r:?}");
    }
}
