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
    /// Flanking tokens on each side of the window in every example (`len - 2 * flank` is
    /// the window width).
    pub flank: usize,
    /// `continues[i]`: example `i`'s window starts where example `i - 1`'s ends, on the
    /// same chromosome, so a shifted copy of either can borrow tokens and bins from the
    /// other (shift augmentation). Empty or shorter than `n`: no links.
    pub continues: Vec<bool>,
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

    /// The same dataset with `flank` flanking tokens on each side of every example's
    /// window (needed to shift examples into their neighbours).
    pub fn flanked(mut self, flank: usize) -> Self {
        self.flank = flank;
        self
    }

    /// Marks the example pushed last as the genomic successor of the one before it: its
    /// window starts where that one's ends, on the same chromosome.
    pub fn mark_continues(&mut self) {
        let n = self.n();
        if n >= 2 {
            self.continues.resize(n, false);
            self.continues[n - 1] = true;
        }
    }

    /// Window width in bases (tokens between the flanks).
    pub fn window_len(&self) -> usize {
        self.len.saturating_sub(2 * self.flank)
    }

    /// Whether example `i` can be shifted by `shift` bases (negative: towards the
    /// chromosome start): its neighbour on that side exists and the shift is at most one
    /// window, and with bins a whole number of bins.
    pub fn can_shift(&self, i: usize, shift: i64) -> bool {
        let w = self.window_len() as i64;
        if shift == 0 {
            return true;
        }
        if shift.abs() > w || (self.bins > 0 && shift % (w / self.bins as i64).max(1) != 0) {
            return false;
        }
        let linked = |j: usize| self.continues.get(j).copied().unwrap_or(false);
        if shift > 0 { i + 1 < self.n() && linked(i + 1) } else { i > 0 && linked(i) }
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

    /// The tokens of example `i` shifted by `shift` bases (see [`Dataset::can_shift`]; an
    /// unshiftable example is returned as it is), with its per-bin targets (or window
    /// targets) shifted alike.
    pub fn shifted_example(&self, i: usize, shift: i64) -> (Vec<u32>, Vec<f32>) {
        let per = self.bins.max(1) * self.outputs;
        let own_y = |r: usize| -> &[f32] {
            if self.bins > 0 { &self.bin_targets[r * per..(r + 1) * per] } else { &self.targets[r * self.outputs..(r + 1) * self.outputs] }
        };
        if shift == 0 || !self.can_shift(i, shift) {
            return (self.example_ids(i).to_vec(), own_y(i).to_vec());
        }
        let (w, f) = (self.window_len(), self.flank);
        let d = shift.unsigned_abs() as usize;
        let mut ids = Vec::with_capacity(self.len);
        // A neighbour's input covers the genome one window further along (back); the
        // borrowed tokens are the ones right after (before) example i's input.
        let bins_moved = if self.bins > 0 { d / (w / self.bins).max(1) } else { 0 };
        let mut y = Vec::with_capacity(per);
        if shift > 0 {
            ids.extend_from_slice(&self.example_ids(i)[d..]);
            ids.extend_from_slice(&self.example_ids(i + 1)[2 * f..2 * f + d]);
            if self.bins > 0 {
                y.extend_from_slice(&own_y(i)[bins_moved * self.outputs..]);
                y.extend_from_slice(&own_y(i + 1)[..bins_moved * self.outputs]);
            }
        } else {
            ids.extend_from_slice(&self.example_ids(i - 1)[w - d..w]);
            ids.extend_from_slice(&self.example_ids(i)[..self.len - d]);
            if self.bins > 0 {
                y.extend_from_slice(&own_y(i - 1)[per - bins_moved * self.outputs..]);
                y.extend_from_slice(&own_y(i)[..per - bins_moved * self.outputs]);
            }
        }
        if self.bins == 0 {
            y.extend_from_slice(own_y(i));
        }
        (ids, y)
    }

    /// A training batch: `(ids [k, len], targets [k, bins, outputs])` (one bin holding the
    /// window targets when the dataset has no bins). Rows with `shift[i]` non-zero are
    /// first shifted by that many bases into their neighbours ([`Dataset::shifted_example`];
    /// without bins the window targets are kept, so only small jitters make sense). Rows
    /// with `flip[i]` set are reverse complemented (augmentation): their tokens reversed
    /// and complemented and their bins reversed.
    pub fn training_batch(&self, rows: &[usize], flip: &[bool], shift: &[i64], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
        let bins = self.bins.max(1);
        let mut ids = Vec::with_capacity(rows.len() * self.len);
        let mut targets = Vec::with_capacity(rows.len() * bins * self.outputs);
        for (i, &r) in rows.iter().enumerate() {
            let flipped = flip.get(i).copied().unwrap_or(false);
            let (row, y) = self.shifted_example(r, shift.get(i).copied().unwrap_or(0));
            if flipped {
                ids.extend(row.iter().rev().map(|&t| crate::omics::predictor::complement_id(t)));
            } else {
                ids.extend_from_slice(&row);
            }
            if flipped {
                for b in (0..bins).rev() {
                    targets.extend_from_slice(&y[b * self.outputs..(b + 1) * self.outputs]);
                }
            } else {
                targets.extend_from_slice(&y);
            }
        }
        Ok((
            Tensor::from_vec(ids, (rows.len(), self.len), device)?,
            Tensor::from_vec(targets, (rows.len(), bins, self.outputs), device)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three consecutive 10-base windows with 3-base flanks over a "genome" whose token at
    /// position p is p + 100, with 2 bins of 5 bases whose target is the bin's index.
    fn tiled() -> Dataset {
        let (w, f) = (10usize, 3usize);
        let mut data = Dataset::with_bins(w + 2 * f, 1, 2).flanked(f);
        for i in 0..3 {
            let ids: Vec<u32> = (0..w + 2 * f).map(|k| (100 + i * w + k) as u32 - f as u32).collect();
            data.push_binned(&ids, &[i as f32], &[(2 * i) as f32, (2 * i + 1) as f32]).unwrap();
            if i > 0 {
                data.mark_continues();
            }
        }
        data
    }

    #[test]
    fn shifted_examples_borrow_tokens_and_bins_from_their_neighbours() {
        let data = tiled();
        let genome = |from: usize| -> Vec<u32> { (from..from + 16).map(|p| (100 + p) as u32 - 3).collect() };
        // Example 1 covers genome positions 10-3 .. 20+3; +5 moves it to 15-3 .. 25+3.
        assert_eq!(data.shifted_example(1, 5), (genome(15), vec![3.0, 4.0]));
        assert_eq!(data.shifted_example(1, -5), (genome(5), vec![1.0, 2.0]));
        assert_eq!(data.shifted_example(1, 10), (genome(20), vec![4.0, 5.0]));
        assert_eq!(data.shifted_example(1, -10), (genome(0), vec![0.0, 1.0]));
        // No neighbour on that side, a partial bin, or more than a window: unshifted.
        assert_eq!(data.shifted_example(0, -5), (genome(0), vec![0.0, 1.0]));
        assert_eq!(data.shifted_example(2, 5), (genome(20), vec![4.0, 5.0]));
        assert!(!data.can_shift(1, 3) && !data.can_shift(1, 15) && data.can_shift(1, 0));
        // Reverse complement after the shift reverses the shifted bins.
        let (_, y) = data.training_batch(&[1], &[true], &[5], &Device::Cpu).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![4.0, 3.0]);
    }

    #[test]
    fn unlinked_examples_never_shift() {
        let mut data = tiled();
        data.continues.clear();
        assert!(!data.can_shift(1, 5) && !data.can_shift(1, -5));
    }
}
