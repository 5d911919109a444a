//! Fused single-pass CPU kernels for inference (f32, no backward): the in-projection bias,
//! causal short convolution and input gate before the long convolution ([`GateIn`]), and
//! the pieces `block_fused` builds a block's row-local work from (the short-conv
//! parameters, bias + tanh GELU, gemm into a given buffer). The training path
//! (`train = true`) uses plain candle ops instead; the parity tests run both.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape};

use crate::long_conv::kernels::par_rows;

/// Channels handled together by one work item of [`GateIn`]: all `d` when the batch alone
/// gives every thread two sequences, else halves of it down to 16, so a single long
/// sequence is still split over the threads. Whole rows of the projection are read
/// contiguously (and once per item), so the fewer blocks the better.
fn channel_block(b: usize, d: usize, threads: usize) -> usize {
    let mut cb = d;
    while cb % 2 == 0 && cb > 16 && b * (d / cb) < 2 * threads {
        cb /= 2;
    }
    cb
}

/// Time steps per tile of [`GateIn`] for a block of `cb` channels: a tile of about 16 KiB,
/// which stays in L1 while it is transposed.
fn gate_in_tile(cb: usize) -> usize {
    (4096 / cb.max(1)).clamp(8, 64)
}

pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("{what} must be a contiguous f32 tensor"),
    }
}

fn threads() -> usize {
    crate::threads::kernel_threads()
}

/// Short-conv parameters `[K + 2, 3D]`: rows `0..K` the taps (row `K−1` multiplies the
/// current step), row `K` the short-conv bias, row `K+1` the in-projection bias.
pub(crate) struct Params<'a> {
    rows: &'a [f32],
    k: usize,
    /// `3D`, the projection's width.
    pub(crate) c3: usize,
}

impl Params<'_> {
    /// Short-conv outputs of the `out.len()` consecutive channels from `ch0` (of `3D`) at
    /// time `t`, from the bias-free projection `p` of one sequence (`[L, 3D]`). The inner
    /// loops run over contiguous channels, so they vectorize.
    #[inline(always)]
    pub(crate) fn row(&self, p: &[f32], t: usize, ch0: usize, out: &mut [f32]) {
        let (k, c3, n) = (self.k, self.c3, out.len());
        let bias = &self.rows[k * c3 + ch0..k * c3 + ch0 + n];
        let in_bias = &self.rows[(k + 1) * c3 + ch0..(k + 1) * c3 + ch0 + n];
        out.copy_from_slice(bias);
        for j in 0..k {
            let Some(src) = (t + j).checked_sub(k - 1) else { continue };
            let taps = &self.rows[j * c3 + ch0..j * c3 + ch0 + n];
            let x = &p[src * c3 + ch0..src * c3 + ch0 + n];
            for (((o, &w), &x), &b) in out.iter_mut().zip(taps).zip(x).zip(in_bias) {
                *o += w * (x + b);
            }
        }
    }
}

pub(crate) fn params<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<Params<'a>> {
    let (rows, c3) = l.shape().dims2()?;
    Ok(Params { rows: f32_slice(s, l, "fused hyena kernel: short-conv params")?, k: rows - 2, c3 })
}

/// `v ⊙ x1`, channels first: `p: [B, L, 3D]` (in_proj without bias), params `[K+2, 3D]`
/// → `[B, D, L]`.
pub struct GateIn;

impl CustomOp2 for GateIn {
    fn name(&self) -> &'static str {
        "hyena_gate_in"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, len, c3) = l1.shape().dims3()?;
        let p = f32_slice(s1, l1, "fused hyena kernel: projection")?;
        let prm = params(s2, l2)?;
        let d = c3 / 3;
        let cb = channel_block(b, d, threads());
        let tile_len = gate_in_tile(cb);
        let blocks_per_batch = d / cb;
        let mut out = vec![0f32; b * d * len];
        // One item per (sequence, block of `cb` channels): rows of a time tile are computed
        // time-major (vectorized over channels), then transposed into the channel rows.
        let scratch = || (vec![0f32; tile_len * cb], vec![0f32; cb]);
        par_rows(&mut out, cb * len, threads(), scratch, |item, chunk, (tile, x1)| crate::simd::vectorized(|| {
            let (bi, c0) = (item / blocks_per_batch, (item % blocks_per_batch) * cb);
            let seq = &p[bi * len * c3..(bi + 1) * len * c3];
            for t0 in (0..len).step_by(tile_len) {
                let tt = (len - t0).min(tile_len);
                for (i, row) in tile.chunks_exact_mut(cb).take(tt).enumerate() {
                    prm.row(seq, t0 + i, 2 * d + c0, row);
                    prm.row(seq, t0 + i, d + c0, x1);
                    for (v, &g) in row.iter_mut().zip(x1.iter()) {
                        *v *= g;
                    }
                }
                for (c, dst) in chunk.chunks_exact_mut(len).enumerate() {
                    for (i, o) in dst[t0..t0 + tt].iter_mut().enumerate() {
                        *o = tile[i * cb + c];
                    }
                }
            }
        }));
        Ok((CpuStorage::F32(out), Shape::from((b, d, len))))
    }
}

/// `tanh` as a rational function (Eigen's `generic_fast_tanh_float`): within 5e-7 of the
/// exact value (a few f32 ulp), vectorizable.
#[inline(always)]
pub fn fast_tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let p = x2 * (x2 * (x2 * (x2 * (x2 * (x2 * -2.760_768_5e-16 + 2.000_188e-13) + -8.604_671_5e-11) + 5.122_297e-8) + 1.485_722_4e-5) + 6.372_619_3e-4) + 4.893_524_6e-3;
    let q = x2 * (x2 * (x2 * 1.198_258_4e-6 + 1.185_347e-4) + 2.268_434_6e-3) + 4.893_525e-3;
    x * p / q
}

/// `row ← gelu_tanh(row + bias)`, element by element.
#[inline(always)]
pub(crate) fn bias_gelu_row(row: &mut [f32], bias: &[f32]) {
    const S: f32 = 0.797_884_6; // sqrt(2/π)
    for (o, &bb) in row.iter_mut().zip(bias) {
        let x = *o + bb;
        *o = 0.5 * x * (1.0 + fast_tanh(S * (x + 0.044_715 * x * x * x)));
    }
}

/// `x · wᵀ` for `x: [..., K]`, `w: [N, K]` (row-major), with gemm writing straight into
/// `dst` (`[M, N]`): overwritten when `accumulate` is false, else added to; on `threads`
/// threads.
pub(crate) fn gemm_xwt(x: &[f32], w: &[f32], n: usize, k: usize, dst: &mut [f32], accumulate: bool, threads: usize) {
    let m = x.len() / k;
    assert!(x.len() == m * k && w.len() == n * k && dst.len() == m * n, "gemm_xwt: shapes");
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the asserts above bound every access: lhs is m×k (row stride k), rhs is the
    // k×n transpose of w (column stride k), dst is m×n (row stride n).
    unsafe {
        gemm::gemm(
            m, n, k,
            dst.as_mut_ptr(), 1, n as isize, accumulate,
            x.as_ptr(), 1, k as isize,
            w.as_ptr(), k as isize, 1,
            1.0, 1.0, false, false, false, parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    /// The largest `|a − b|` over all elements.
    fn max_abs_diff(a: &Tensor, b: &Tensor) -> candle_core::Result<f32> {
        (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
    }

    /// A seeded random model of the config `json`, on the CPU.
    fn random_model(json: &str, seed: u64) -> Result<(crate::HyenaDna, candle_core::Device), crate::ModelError> {
        let cfg = crate::Config::from_json_str(json, std::path::Path::new("<test>"))?;
        let dev = candle_core::Device::Cpu;
        Ok((crate::HyenaDna::random(&cfg, seed, &dev)?, dev))
    }

    #[test]
    fn fast_tanh_matches_std_tanh() {
        let mut worst = 0f64;
        for i in -20000..=20000 {
            let x = i as f32 * 1e-3;
            let err = (fast_tanh(x) as f64 - (x as f64).tanh()).abs();
            worst = worst.max(err);
        }
        assert!(worst < 5e-7, "max error {worst}");
        assert_eq!(fast_tanh(0.0), 0.0);
        assert!((fast_tanh(50.0) - 1.0).abs() < 1e-6);
    }

    /// The fused inference path of a whole model (`GateIn`, the fused block's head and
    /// tail) against the plain-ops trace, over batch sizes that pick different channel
    /// blocks in `GateIn` and lengths that are not a multiple of any tile.
    #[test]
    fn fused_forward_matches_the_plain_ops_trace() -> Result<(), crate::ModelError> {
        let (model, dev) = random_model(r#"{"d_model": 48, "n_layer": 2, "d_inner": 96, "vocab_size": 12, "max_seq_len": 202}"#, 7)?;
        for (b, len) in [(1usize, 200usize), (3, 37), (8, 65)] {
            let ids: Vec<u32> = (0..b * len).map(|i| 7 + ((i * 7919) % 4) as u32).collect();
            let ids = Tensor::from_vec(ids, (b, len), &dev)?;
            let fused = model.forward_hidden(&ids)?;
            let plain = model.forward_trace(&ids, false)?.last_hidden_state;
            let diff = max_abs_diff(&fused, &plain)?;
            assert!(diff < 1e-4, "batch {b} × {len}: max |diff| {diff}");
        }
        Ok(())
    }

    /// The fused block (`block_fused`) over several tiles whose edges fall inside
    /// sequences (d_inner 1024 gives 256-row tiles, so 390 or 650 rows make two or three
    /// tiles, whether or not the batch is split over the threads), against the plain-ops
    /// trace.
    #[test]
    fn fused_block_tiles_spanning_sequences_match_the_plain_ops_trace() -> Result<(), crate::ModelError> {
        let (model, dev) = random_model(r#"{"d_model": 32, "n_layer": 2, "d_inner": 1024, "vocab_size": 12, "max_seq_len": 132}"#, 5)?;
        let (b, len) = (5usize, 130usize);
        let ids: Vec<u32> = (0..b * len).map(|i| 7 + ((i * 31 + i / 7) % 4) as u32).collect();
        let ids = Tensor::from_vec(ids, (b, len), &dev)?;
        let plain = model.forward_trace(&ids, false)?.last_hidden_state;
        let fused = model.forward_hidden(&ids)?;
        let diff = max_abs_diff(&fused, &plain)?;
        assert!(diff < 1e-4, "max |diff| {diff}");
        // The first sequence alone sits in one tile; it must not change.
        let alone = model.forward_hidden(&ids.narrow(0, 0, 1)?)?;
        let diff = max_abs_diff(&alone, &plain.narrow(0, 0, 1)?)?;
        assert!(diff < 1e-4, "alone: max |diff| {diff}");
        Ok(())
    }

    /// A batch split over the threads (`threads::split_batch`) gives every sequence what it
    /// gets alone, in the same row order (an odd batch leaves the slices unequal).
    #[test]
    fn a_batch_split_over_threads_equals_each_sequence_alone() -> Result<(), crate::ModelError> {
        let (model, dev) = random_model(r#"{"d_model": 32, "n_layer": 2, "d_inner": 64, "vocab_size": 12, "max_seq_len": 130}"#, 11)?;
        let (b, len) = (5usize, 128usize);
        let ids: Vec<u32> = (0..b * len).map(|i| 7 + ((i * i + 3 * i) % 4) as u32).collect();
        let ids = Tensor::from_vec(ids, (b, len), &dev)?;
        let batch = model.forward_hidden(&ids)?;
        for row in 0..b {
            let alone = model.forward_hidden(&ids.narrow(0, row, 1)?)?;
            let diff = max_abs_diff(&batch.narrow(0, row, 1)?, &alone)?;
            assert!(diff < 1e-5, "row {row}: max |diff| {diff}");
        }
        Ok(())
    }
}
