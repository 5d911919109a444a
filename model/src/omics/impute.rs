//! Omics masking as an input (imputation): the model also reads the *observed* values of
//! some of its tracks for the window and predicts the others.
//!
//! The observed values enter as a vector of `2·T` numbers for `T` tracks: each track's
//! encoded window value ([`super::OmicsSpec::encode_target`]: `log1p` signal, 0/1 peak)
//! and a 0/1 flag saying whether it was observed (an unobserved track has value 0 and
//! flag 0). A two-layer ReLU network (`impute.fc1`, `impute.fc2`) maps it to the width of
//! the pooled sequence features and adds it to them (to every bin's, with per-bin
//! outputs) before the head, so the head reads the sequence and the measurements
//! together. With every flag 0 the model is a sequence-only predictor: that is what
//! `predict_omics` runs, and training keeps it good by hiding every track of a share of
//! the rows ([`ImputeSpec::none_prob`]).
//!
//! Training hides tracks at random per row ([`training_mask`]) and scores only the hidden
//! ones, so the model learns to predict a track from the sequence and the others, never
//! to copy it. `impute_omics(region, tissue, assay)` then predicts one track with every
//! other track of the model observed from the window table.

use candle_core::{Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The imputation input of an omics model (key `"impute"` of its spec).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImputeSpec {
    /// Hidden width of the network that embeds the observed values.
    pub hidden: usize,
    /// Training: the chance that a track of a row is observed (given the row observes any).
    #[serde(default = "default_observe_prob")]
    pub observe_prob: f32,
    /// Training: the chance that a row observes no track at all (sequence only).
    #[serde(default = "default_none_prob")]
    pub none_prob: f32,
}

fn default_observe_prob() -> f32 {
    0.5
}

fn default_none_prob() -> f32 {
    0.25
}

impl Default for ImputeSpec {
    fn default() -> Self {
        Self { hidden: 64, observe_prob: default_observe_prob(), none_prob: default_none_prob() }
    }
}

impl ImputeSpec {
    /// Checks the probabilities and the width; the message names the bad one.
    pub fn check(&self) -> Result<(), String> {
        if self.hidden == 0 {
            return Err("the imputation network's hidden width must be positive".into());
        }
        for (name, p) in [("observe probability", self.observe_prob), ("no-observation probability", self.none_prob)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("the imputation {name} {p} is outside [0, 1]"));
            }
        }
        Ok(())
    }
}

/// The observed-values input `[rows, 2·T]` from per-row encoded values (`None`: not
/// observed). Rows shorter than `tracks` count the missing tracks as not observed.
pub fn observed_input(rows: &[Vec<Option<f32>>], tracks: usize, device: &Device) -> candle_core::Result<Tensor> {
    let mut data = Vec::with_capacity(rows.len() * 2 * tracks);
    for row in rows {
        data.extend(observed_row(row, tracks));
    }
    Tensor::from_vec(data, (rows.len(), 2 * tracks), device)
}

/// One row of the observed-values input: `tracks` values (0 where not observed), then
/// `tracks` flags (1 = observed). Missing and non-finite values are not observed.
pub fn observed_row(values: &[Option<f32>], tracks: usize) -> Vec<f32> {
    let value = |t: usize| values.get(t).copied().flatten().filter(|v| v.is_finite());
    let mut out = Vec::with_capacity(2 * tracks);
    out.extend((0..tracks).map(|t| value(t).unwrap_or(0.0)));
    out.extend((0..tracks).map(|t| f32::from(value(t).is_some())));
    out
}

/// Training masks `[rows · T]` (row-major, 1 = observed): per row, nothing observed with
/// chance `none_prob`, else each track observed with chance `observe_prob`, never all of
/// them (one track is always left to predict).
pub fn training_mask(spec: &ImputeSpec, rows: usize, tracks: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * tracks);
    for _ in 0..rows {
        let start = out.len();
        let none = rng.random_bool(f64::from(spec.none_prob.clamp(0.0, 1.0)));
        for _ in 0..tracks {
            let seen = !none && rng.random_bool(f64::from(spec.observe_prob.clamp(0.0, 1.0)));
            out.push(f32::from(seen));
        }
        if tracks > 0 && out[start..].iter().all(|&m| m == 1.0) {
            let hide = rng.random_range(0..tracks);
            out[start + hide] = 0.0;
        }
    }
    out
}

/// The network embedding the observed values: `fc2(relu(fc1(x)))`, `[B, 2T]` → `[B, W]`.
#[derive(Debug, Clone)]
pub struct ImputeBranch {
    fc1: Linear,
    fc2: Linear,
    tracks: usize,
}

impl ImputeBranch {
    /// Reads `impute.fc1.{weight,bias}` (`[H, 2T]`) and `impute.fc2.{weight,bias}`
    /// (`[W, H]`) from `vb` (already at the `impute` prefix).
    pub fn new(tracks: usize, hidden: usize, width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let fc1 = candle_nn::linear(2 * tracks, hidden, vb.pp("fc1"))?;
        let fc2 = candle_nn::linear(hidden, width, vb.pp("fc2"))?;
        Ok(Self { fc1, fc2, tracks })
    }

    /// Tracks the branch reads.
    pub fn tracks(&self) -> usize {
        self.tracks
    }

    /// The embedding `[B, W]` of observed values `[B, 2T]`; `None`: nothing observed
    /// (an all-zero input) for `rows` rows.
    pub fn forward(&self, observed: Option<&Tensor>, rows: usize, device: &Device) -> candle_core::Result<Tensor> {
        let zeros;
        let x = match observed {
            Some(x) => {
                let (b, w) = x.dims2()?;
                if b != rows || w != 2 * self.tracks {
                    candle_core::bail!("observed values: [{b}, {w}], expected [{rows}, {}]", 2 * self.tracks);
                }
                x
            }
            None => {
                zeros = Tensor::zeros((rows, 2 * self.tracks), candle_core::DType::F32, device)?;
                &zeros
            }
        };
        self.fc2.forward(&self.fc1.forward(x)?.relu()?)
    }

    /// Adds the embedding of `observed` to pooled features `[B, W]` or `[B, bins, W]`.
    pub fn add_to(&self, features: &Tensor, observed: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let rows = features.dim(0)?;
        let emb = self.forward(observed, rows, features.device())?;
        match features.rank() {
            2 => features + emb,
            _ => features.broadcast_add(&emb.unsqueeze(1)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn observed_input_holds_values_then_flags() {
        let x = observed_input(&[vec![Some(2.0), None], vec![None, Some(f32::NAN)]], 2, &Device::Cpu).unwrap();
        assert_eq!(x.to_vec2::<f32>().unwrap(), vec![vec![2.0, 0.0, 1.0, 0.0], vec![0.0, 0.0, 0.0, 0.0]]);
    }

    #[test]
    fn training_masks_hide_whole_rows_and_never_show_everything() {
        let spec = ImputeSpec { hidden: 4, observe_prob: 0.9, none_prob: 0.3 };
        let mask = training_mask(&spec, 2000, 3, &mut StdRng::seed_from_u64(1));
        let rows: Vec<&[f32]> = mask.chunks(3).collect();
        assert!(rows.iter().all(|r| r.iter().any(|&m| m == 0.0)), "a row observed every track");
        let empty = rows.iter().filter(|r| r.iter().all(|&m| m == 0.0)).count() as f64 / 2000.0;
        assert!((empty - 0.3).abs() < 0.05, "share of sequence-only rows {empty}");
        assert!(ImputeSpec { observe_prob: 1.5, ..spec }.check().is_err());
        assert!(ImputeSpec { hidden: 0, ..spec }.check().is_err());
    }
}
