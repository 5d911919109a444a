//! The multi-task loss: mean squared error on signal outputs (targets `log1p` scaled) and
//! binary cross-entropy with logits on peak outputs, averaged over rows and outputs.

use candle_core::{Device, Tensor};

use super::spec::{OmicsSpec, TrackKind};

/// Per-output masks `[1, T]`: (signal, peaks).
pub fn kind_masks(spec: &OmicsSpec, device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let n = spec.tracks.len();
    let sig: Vec<f32> = spec.tracks.iter().map(|t| f32::from(t.kind == TrackKind::Signal)).collect();
    let peak: Vec<f32> = sig.iter().map(|s| 1.0 - s).collect();
    Ok((Tensor::from_vec(sig, (1, n), device)?, Tensor::from_vec(peak, (1, n), device)?))
}

/// The loss of raw outputs `pred: [B, T]` against encoded targets `target: [B, T]`
/// (see [`OmicsSpec::encode_target`]), with masks from [`kind_masks`].
pub fn multitask_loss(pred: &Tensor, target: &Tensor, signal: &Tensor, peaks: &Tensor) -> candle_core::Result<Tensor> {
    let mse = (pred - target)?.sqr()?;
    // Stable BCE with logits: max(x, 0) − x·y + log(1 + exp(−|x|)).
    let bce = ((pred.relu()? - (pred * target)?)? + (pred.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let per = (mse.broadcast_mul(signal)? + bce.broadcast_mul(peaks)?)?;
    per.mean_all()
}

/// [`multitask_loss`] over the outputs where `weight` (broadcast to `pred`'s shape, e.g.
/// `[B, 1, T]` over bins) is 1: the mean over those outputs only (imputation scores the
/// hidden tracks, not the observed ones).
pub fn masked_multitask_loss(
    pred: &Tensor,
    target: &Tensor,
    signal: &Tensor,
    peaks: &Tensor,
    weight: &Tensor,
) -> candle_core::Result<Tensor> {
    let mse = (pred - target)?.sqr()?;
    let bce = ((pred.relu()? - (pred * target)?)? + (pred.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let per = (mse.broadcast_mul(signal)? + bce.broadcast_mul(peaks)?)?.broadcast_mul(weight)?;
    let counted = weight.broadcast_as(pred.shape())?.sum_all()?.to_scalar::<f32>()?.max(1.0);
    per.sum_all()? / f64::from(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_and_mse_match_hand_values() {
        let dev = Device::Cpu;
        let pred = Tensor::new(&[[0.0f32, 2.0]], &dev).unwrap();
        let target = Tensor::new(&[[1.0f32, 1.0]], &dev).unwrap();
        let sig = Tensor::new(&[[1.0f32, 0.0]], &dev).unwrap();
        let peak = Tensor::new(&[[0.0f32, 1.0]], &dev).unwrap();
        let loss: f32 = multitask_loss(&pred, &target, &sig, &peak).unwrap().to_scalar().unwrap();
        let expected = (1.0 + (1.0f32 + (-2.0f32).exp()).ln()) / 2.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
        // Weighted to the second output only: its BCE alone.
        let w = Tensor::new(&[[0.0f32, 1.0]], &dev).unwrap();
        let masked: f32 = masked_multitask_loss(&pred, &target, &sig, &peak, &w).unwrap().to_scalar().unwrap();
        assert!((masked - (1.0f32 + (-2.0f32).exp()).ln()).abs() < 1e-6, "{masked}");
    }
}
