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
    }
}
