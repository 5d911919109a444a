//! Windows as fixed-length token ids with encoded per-track targets.

use candle_core::{Device, Tensor};

use crate::ModelError;

/// `n` examples of `len` tokens each and `outputs` encoded targets each.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Token ids, row-major `[n, len]`.
    pub ids: Vec<u32>,
    /// Encoded targets, row-major `[n, outputs]`.
    pub targets: Vec<f32>,
    /// Tokens per example.
    pub len: usize,
    /// Targets per example.
    pub outputs: usize,
    /// Per-bin encoded targets, row-major `[n, bins, outputs]`, when `bins > 0`.
    pub bin_targets: Vec<f32>,
    /// Bins per example (0: window targets only).
    pub bins: usize,
}

impl Dataset {
    /// An empty dataset of the given shape.
    pub fn new(len: usize, outputs: usize) -> Self {
        Self { len, outputs, ..Self::default() }
    }

    /// An empty dataset that also holds `bins` per-bin targets per track and example.
    pub fn with_bins(len: usize, outputs: usize, bins: usize) -> Self {
        Self { len, outputs, bins, ..Self::default() }
    }

    /// Number of examples.
    pub fn n(&self) -> usize {
        self.targets.len() / self.outputs.max(1)
    }

    /// Appends one example (`ids.len() == len`, `targets.len() == outputs`).
    pub fn push(&mut self, ids: &[u32], targets: &[f32]) -> Result<(), ModelError> {
        if ids.len() != self.len || targets.len() != self.outputs {
            return Err(ModelError::BadShape {
                what: "dataset example".into(),
                expected: format!("{} ids and {} targets", self.len, self.outputs),
                got: vec![ids.len(), targets.len()],
            });
        }
        if self.bins > 0 {
            return Err(ModelError::BadShape {
                what: "dataset example".into(),
                expected: format!("{} per-bin targets (push_binned)", self.bins * self.outputs),
                got: vec![0],
            });
        }
        self.ids.extend_from_slice(ids);
        self.targets.extend_from_slice(targets);
        Ok(())
    }

    /// Appends one example with its window targets and its per-bin targets
    /// (`[bins, outputs]` row-major).
    pub fn push_binned(&mut self, ids: &[u32], targets: &[f32], bin_targets: &[f32]) -> Result<(), ModelError> {
        if ids.len() != self.len || targets.len() != self.outputs || bin_targets.len() != self.bins * self.outputs {
            return Err(ModelError::BadShape {
                what: "dataset example".into(),
                expected: format!("{} ids, {} targets and {} per-bin targets", self.len, self.outputs, self.bins * self.outputs),
                got: vec![ids.len(), targets.len(), bin_targets.len()],
            });
        }
        self.ids.extend_from_slice(ids);
        self.targets.extend_from_slice(targets);
        self.bin_targets.extend_from_slice(bin_targets);
        Ok(())
    }

    /// The token ids of example `i`.
    pub fn example_ids(&self, i: usize) -> &[u32] {
        &self.ids[i * self.len..(i + 1) * self.len]
    }

    /// Target column `t` over all examples.
    pub fn target_column(&self, t: usize) -> Vec<f32> {
        (0..self.n()).map(|i| self.targets[i * self.outputs + t]).collect()
    }

    /// `(ids [k, len], targets [k, outputs])` of the examples `rows`.
    pub fn batch(&self, rows: &[usize], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
        let mut ids = Vec::with_capacity(rows.len() * self.len);
        let mut targets = Vec::with_capacity(rows.len() * self.outputs);
        for &r in rows {
            ids.extend_from_slice(self.example_ids(r));
            targets.extend_from_slice(&self.targets[r * self.outputs..(r + 1) * self.outputs]);
        }
        Ok((
            Tensor::from_vec(ids, (rows.len(), self.len), device)?,
            Tensor::from_vec(targets, (rows.len(), self.outputs), device)?,
        ))
    }

    /// A training batch: `(ids [k, len], targets [k, bins, outputs])` (one bin holding the
    /// window targets when the dataset has no bins). Rows with `flip[i]` set are reverse
    /// complemented (augmentation): their tokens reversed and complemented and their bins
    /// reversed.
    pub fn training_batch(&self, rows: &[usize], flip: &[bool], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
        let bins = self.bins.max(1);
        let mut ids = Vec::with_capacity(rows.len() * self.len);
        let mut targets = Vec::with_capacity(rows.len() * bins * self.outputs);
        for (i, &r) in rows.iter().enumerate() {
            let flipped = flip.get(i).copied().unwrap_or(false);
            let row = self.example_ids(r);
            if flipped {
                ids.extend(row.iter().rev().map(|&t| crate::omics::predictor::complement_id(t)));
            } else {
                ids.extend_from_slice(row);
            }
            let per = bins * self.outputs;
            let y: &[f32] = if self.bins > 0 {
                &self.bin_targets[r * per..(r + 1) * per]
            } else {
                &self.targets[r * self.outputs..(r + 1) * self.outputs]
            };
            if flipped {
                for b in (0..bins).rev() {
                    targets.extend_from_slice(&y[b * self.outputs..(b + 1) * self.outputs]);
                }
            } else {
                targets.extend_from_slice(y);
            }
        }
        Ok((
            Tensor::from_vec(ids, (rows.len(), self.len), device)?,
            Tensor::from_vec(targets, (rows.len(), bins, self.outputs), device)?,
        ))
    }
}
