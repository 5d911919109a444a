//! Runtime instruction-set dispatch for the hand-written CPU kernels.
//!
//! The crate is compiled for baseline x86-64 (SSE2), so a plain loop is vectorized four
//! floats wide. [`vectorized`] runs a closure in code compiled for the best instruction
//! set the CPU reports at run time (AVX-512, AVX2 + FMA, or the baseline), which is
//! pulp's dispatch (the library gemm uses for the same purpose): the closure is inlined
//! into a function carrying those target features, so its loops are vectorized 8 or 16
//! floats wide. Results are the same on every path: Rust never contracts `a * b + c`
//! into a fused multiply-add on its own, so only the vector width changes.

/// Runs `f` compiled for the best instruction set this CPU has.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `Σ g(x)` over `xs` in 16 independent lanes (then summed), so the loop vectorizes: a
/// plain left-to-right float sum cannot be reordered by the compiler.
#[inline(always)]
pub fn lane_sum(xs: &[f32], g: impl Fn(f32) -> f32) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| g(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += g(v);
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sum_matches_a_plain_sum() {
        for n in [0usize, 1, 15, 16, 17, 128, 1000] {
            let xs: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.25).collect();
            let want: f64 = xs.iter().map(|&v| (v * v) as f64).sum();
            let got = vectorized(|| lane_sum(&xs, |v| v * v));
            assert!((got as f64 - want).abs() < 1e-4 * (1.0 + want), "n {n}: {got} vs {want}");
        }
    }
}
