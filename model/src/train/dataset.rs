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
}

impl Dataset {
    /// An empty dataset of the given shape.
    pub fn new(len: usize, outputs: usize) -> Self {
        Self { len, outputs, ..Self::default() }
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
        self.ids.extend_from_slice(ids);
        self.targets.extend_from_slice(targets);
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
}
