//! Per-bin outputs (Basenji/Enformer style): the window is cut into bins of `bin_bp`
//! bases, the head predicts every track in every bin from the backbone positions inside
//! that bin, and training compares bin against bin. A 300 bp enhancer in a 1 kb window
//! then gets a gradient that points at the bins it sits in, instead of a share of a
//! pool over the whole input.
//!
//! The window-level output that `predict_omics` returns and evaluation scores is derived
//! from the bins ([`aggregate`]): a peak track's window logit is the largest bin logit
//! (a window overlaps a peak when one of its bins does), a signal track's window value is
//! the mean of the bin values in the track's units (`log1p` of the mean of `expm1`), as
//! the window table's mean column is the mean over the window.

use candle_core::{D, Tensor};

use super::Pooling;

/// Where the bins sit among the backbone positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinLayout {
    /// Backbone positions before the first bin (the left flank).
    pub offset: usize,
    /// Backbone positions per bin.
    pub per_bin: usize,
    /// Bins per window.
    pub count: usize,
    /// Neighbouring bins on each side whose positions are pooled into a bin's
    /// features too (clipped to the input): with 1, a 100 bp bin sees 300 bp, so a bin
    /// at the edge of an enhancer sees the motifs on both sides of it, which a causal
    /// backbone alone shows it only on the left.
    pub context: usize,
}

impl BinLayout {
    /// The layout for a window of `window_bp` with `flank_bp` on each side, bins of
    /// `bin_bp` bases and `pool` bases per backbone position (1 without a stem). Every
    /// length must be a multiple of the next smaller unit; the error says which is not.
    pub fn new(window_bp: usize, flank_bp: usize, bin_bp: usize, pool: usize) -> Result<Self, String> {
        let pool = pool.max(1);
        if bin_bp == 0 || window_bp % bin_bp != 0 {
            return Err(format!("the bin size ({bin_bp} bp) must divide the window width ({window_bp} bp)"));
        }
        if bin_bp % pool != 0 || flank_bp % pool != 0 {
            return Err(format!(
                "the bin size ({bin_bp} bp) and the flanks ({flank_bp} bp) must be multiples of the stem's pooling ({pool} bp)"
            ));
        }
        Ok(Self { offset: flank_bp / pool, per_bin: bin_bp / pool, count: window_bp / bin_bp, context: 0 })
    }

    /// The layout with `context` neighbouring bins pooled on each side.
    pub fn with_context(self, context: usize) -> Self {
        Self { context, ..self }
    }

    /// Pools hidden states `[B, L', D]` into per-bin features `[B, count, W]` with
    /// `pooling` over each bin's positions (differentiable).
    pub fn pool(&self, hidden: &Tensor, pooling: Pooling) -> candle_core::Result<Tensor> {
        let (b, len, d) = hidden.dims3()?;
        let needed = self.offset + self.count * self.per_bin;
        if len < needed {
            candle_core::bail!("bins: {len} backbone positions, the bins need {needed}");
        }
        if self.context == 0 {
            let inner = hidden.narrow(1, self.offset, self.count * self.per_bin)?.reshape((b * self.count, self.per_bin, d))?;
            let pooled = pooling.pool(&inner)?;
            let w = pooled.dim(1)?;
            return pooled.reshape((b, self.count, w));
        }
        let span = self.context * self.per_bin;
        let bins = (0..self.count)
            .map(|i| {
                let start = self.offset + i * self.per_bin;
                let lo = start.saturating_sub(span);
                let hi = (start + self.per_bin + span).min(len);
                pooling.pool(&hidden.narrow(1, lo, hi - lo)?)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::stack(&bins, 1)
    }
}

/// Pooled features of hidden states `[B, L', D]`: `[B, count, W]` over each bin with a
/// layout ([`BinLayout::pool`]), else `[B, W]` over every position.
pub fn pool_features(layout: Option<&BinLayout>, hidden: &Tensor, pooling: Pooling) -> candle_core::Result<Tensor> {
    match layout {
        Some(layout) => layout.pool(hidden, pooling),
        None => pooling.pool(hidden),
    }
}

/// Window-level raw outputs `[B, T]` from per-bin raw outputs `[B, bins, T]`:
/// the largest bin logit where `peaks[t]`, else `log1p(mean(expm1(max(x, 0))))`
/// (see the module docs). Differentiable.
pub fn aggregate(bins: &Tensor, peaks: &[bool]) -> candle_core::Result<Tensor> {
    let t = bins.dim(D::Minus1)?;
    if peaks.len() != t {
        candle_core::bail!("bins: {t} outputs, {} track kinds", peaks.len());
    }
    let max = bins.max(1)?;
    let signal = bins.relu()?.exp()?.affine(1.0, -1.0)?.mean(1)?.affine(1.0, 1.0)?.log()?;
    let mask: Vec<f32> = peaks.iter().map(|&p| f32::from(p)).collect();
    let mask = Tensor::from_vec(mask, (1, t), bins.device())?;
    let keep = mask.affine(-1.0, 1.0)?;
    max.broadcast_mul(&mask)? + signal.broadcast_mul(&keep)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn layout_checks_divisibility_and_pools_inside_the_window() {
        assert!(BinLayout::new(1000, 300, 128, 10).is_err());
        assert!(BinLayout::new(1000, 305, 100, 10).is_err());
        let l = BinLayout::new(40, 10, 20, 5).unwrap();
        assert_eq!(l, BinLayout { offset: 2, per_bin: 4, count: 2, context: 0 });
        // 12 positions of width 1: values 0..12; bins are positions 2..6 and 6..10.
        let h = Tensor::arange(0f32, 12.0, &Device::Cpu).unwrap().reshape((1, 12, 1)).unwrap();
        let p = l.pool(&h, Pooling::MeanMax).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(p, vec![vec![vec![3.5, 5.0], vec![7.5, 9.0]]]);
        // With one neighbour each side: positions 0..10 (clipped on the left) and 2..12.
        let p = l.with_context(1).pool(&h, Pooling::MeanMax).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(p, vec![vec![vec![4.5, 9.0], vec![6.5, 11.0]]]);
    }

    #[test]
    fn aggregate_takes_the_max_logit_and_the_mean_signal() {
        let bins = Tensor::new(&[[[1.0f32, -2.0], [3.0f32.ln_1p(), 0.5]]], &Device::Cpu).unwrap(); // [1, 2 bins, 2]
        let w = aggregate(&bins, &[false, true]).unwrap().to_vec2::<f32>().unwrap();
        let mean = ((1f32.exp() - 1.0) + 3.0) / 2.0;
        assert!((w[0][0] - mean.ln_1p()).abs() < 1e-5, "{w:?}");
        assert_eq!(w[0][1], 0.5);
    }
}
