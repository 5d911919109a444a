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
