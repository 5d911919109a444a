//! Evaluation metrics: Pearson r (signal), AUROC and AUPRC (peaks).

use serde::{Deserialize, Serialize};

use crate::omics::{OmicsSpec, TrackKind};

/// Pearson correlation of two equally long series; `None` if either is constant or
/// they are shorter than 2.
pub fn pearson(x: &[f32], y: &[f32]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let my = y[..n].iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] as f64 - mx, y[i] as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 { None } else { Some(sxy / (sxx * syy).sqrt()) }
}

/// Indices sorted by descending score (ties keep input order).
fn by_score_desc(scores: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

/// Area under the ROC curve of `scores` for binary `labels` (> 0.5 positive), with
/// tied scores counted half (the Mann–Whitney statistic); `None` without both classes.
pub fn auroc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    let n = scores.len().min(labels.len());
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties.
    let mut rank_sum_pos = 0.0;
    let (mut pos, mut i) = (0usize, 0usize);
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] > 0.5 {
                rank_sum_pos += avg_rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    Some((rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// Area under the precision–recall curve (average precision: the mean of the precision
/// at each positive, in descending score order); `None` without positives.
pub fn auprc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    let n = scores.len().min(labels.len());
    let total_pos = labels[..n].iter().filter(|&&l| l > 0.5).count();
    if total_pos == 0 {
        return None;
    }
    let (mut tp, mut sum) = (0usize, 0.0);
    for (seen, &k) in by_score_desc(&scores[..n]).iter().enumerate() {
        if labels[k] > 0.5 {
            tp += 1;
            sum += tp as f64 / (seen + 1) as f64;
        }
    }
    Some(sum / total_pos as f64)
}

/// Held-out metrics of one track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackMetrics {
    /// Track name.
    pub track: String,
    /// Signal or peaks.
    pub kind: TrackKind,
    /// Windows evaluated.
    pub n: usize,
    /// Positive windows (peaks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positives: Option<usize>,
    /// Pearson r of predicted vs observed `log1p` signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    /// AUROC (peaks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auroc: Option<f64>,
    /// AUPRC (peaks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auprc: Option<f64>,
}

/// Per-track metrics of raw predictions `pred[t][i]` against encoded targets
/// `target[t][i]` (log1p signal or 0/1 peaks).
pub fn evaluate_tracks(spec: &OmicsSpec, pred: &[Vec<f32>], target: &[Vec<f32>]) -> Vec<TrackMetrics> {
    spec.tracks
        .iter()
        .enumerate()
        .map(|(t, track)| {
            let (p, y) = (&pred[t], &target[t]);
            let mut m = TrackMetrics {
                track: track.name.clone(),
                kind: track.kind,
                n: y.len(),
                positives: None,
                pearson: None,
                auroc: None,
                auprc: None,
            };
            match track.kind {
                TrackKind::Signal => m.pearson = pearson(p, y),
                TrackKind::Peaks => {
                    m.positives = Some(y.iter().filter(|&&v| v > 0.5).count());
                    m.auroc = auroc(p, y);
                    m.auprc = auprc(p, y);
                }
            }
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_known_series() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn auroc_and_auprc_by_hand() {
        // Positives at scores 0.9 and 0.4; negatives at 0.8 and 0.1.
        let s = [0.9, 0.8, 0.4, 0.1];
        let y = [1.0, 0.0, 1.0, 0.0];
        // Pairs (pos > neg): 0.9>0.8, 0.9>0.1, 0.4>0.1; 0.4<0.8 → 3/4.
        assert!((auroc(&s, &y).unwrap() - 0.75).abs() < 1e-12);
        // AP = (1/1 + 2/3) / 2.
        assert!((auprc(&s, &y).unwrap() - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // Ties count half.
        assert!((auroc(&[0.5, 0.5], &[1.0, 0.0]).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(auroc(&[0.5], &[1.0]), None);
    }
}
