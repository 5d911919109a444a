use super::*;
use candle_core::{Device, Var};

fn rand_tensor(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| ((i as f64 * 0.7548 + seed as f64 * 1.3).sin() * 43758.5453).fract()).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap().to_dtype(dtype).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn op(method: ConvMethod, threads: usize) -> LongConv {
    LongConv { method, threads: Some(threads), filter_spectra: None }
}

#[test]
fn direct_and_fft_paths_agree_in_f32() {
    for len in [1, 5, 129, 300, 1024] {
        let u = rand_tensor(&[2, 6, len], 1, DType::F32);
        let k = rand_tensor(&[6, len], 2, DType::F32);
        let direct = op(ConvMethod::Direct, 1).apply(&u, &k).unwrap();
        let fft = op(ConvMethod::Fft, 2).apply(&u, &k).unwrap();
        let scale = direct.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap() as f64;
        let diff = max_abs_diff(&direct, &fft);
        assert!(diff <= 1e-5 * scale.max(1.0), "len {len}: diff {diff} (scale {scale})");
        assert_eq!(direct.dims(), &[2, 6, len]);
    }
}

#[test]
fn matches_the_definition_and_is_causal() {
    let u = Tensor::new(&[[[1f32, 2., 3., 4.]]], &Device::Cpu).unwrap();
    let k = Tensor::new(&[[1f32, 0.5, 0.25, 0.]], &Device::Cpu).unwrap();
    for method in [ConvMethod::Direct, ConvMethod::Fft] {
        let y: Vec<f32> = op(method, 1).apply(&u, &k).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let want = [1.0, 2.5, 4.25, 6.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{method:?}: {y:?}");
        }
    }
}

#[test]
fn fold_skip_equals_the_reference_skip_term() {
    let u = rand_tensor(&[2, 4, 200], 3, DType::F32);
    let k = rand_tensor(&[4, 200], 4, DType::F32);
    let bias = rand_tensor(&[4], 5, DType::F32);
    let folded = long_conv(&u, &fold_skip(&k, &bias).unwrap()).unwrap();
    let reference = (long_conv(&u, &k).unwrap() + u.broadcast_mul(&bias.reshape((1, 4, 1)).unwrap()).unwrap()).unwrap();
    let scale = max_abs_diff(&reference, &reference.zeros_like().unwrap());
    assert!(max_abs_diff(&folded, &reference) < 1e-6 * scale.max(1.0) * 10.0);
}

#[test]
fn cached_filter_spectra_give_the_same_result() {
    let u = rand_tensor(&[1, 3, 500], 6, DType::F32);
    let k = rand_tensor(&[3, 500], 7, DType::F32);
    let cached = LongConv { filter_spectra: Some(Arc::default()), ..LongConv::default() };
    let a = cached.apply(&u, &k).unwrap();
    let b = cached.apply(&u, &k).unwrap();
    let plain = long_conv(&u, &k).unwrap();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
    assert!(max_abs_diff(&a, &plain) < 1e-5);
}

#[test]
fn rejects_mismatched_shapes_and_dtypes() {
    let u = rand_tensor(&[1, 3, 10], 1, DType::F32);
    let err = long_conv(&u, &rand_tensor(&[3, 9], 2, DType::F32)).unwrap_err().to_string();
    assert!(err.contains("[1, 3, 10]") && err.contains("[3, 9]"), "{err}");
    let err = long_conv(&u, &rand_tensor(&[3, 10], 2, DType::F64)).unwrap_err().to_string();
    assert!(err.contains("f32"), "{err}");
}

/// Autograd gradients of `Σ w ⊙ long_conv(u, k)` against central finite differences.
#[test]
fn gradients_match_finite_differences() {
    for (method, len) in [(ConvMethod::Direct, 7), (ConvMethod::Fft, 7), (ConvMethod::Auto, 150)] {
        let conv = op(method, 2);
        let u = Var::from_tensor(&rand_tensor(&[2, 3, len], 8, DType::F64)).unwrap();
        let k = Var::from_tensor(&rand_tensor(&[3, len], 9, DType::F64)).unwrap();
        let w = rand_tensor(&[2, 3, len], 10, DType::F64);
        let loss = |u: &Tensor, k: &Tensor| -> f64 {
            (conv.apply(u, k).unwrap() * &w).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
        };
        let y = (conv.apply(u.as_tensor(), k.as_tensor()).unwrap() * &w).unwrap().sum_all().unwrap();
        let grads = y.backward().unwrap();
        let gu: Vec<f64> = grads.get(u.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let gk: Vec<f64> = grads.get(k.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let eps = 1e-4;
        for (var, grad, name) in [(&u, &gu, "u"), (&k, &gk, "k")] {
            let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let shape = var.as_tensor().shape().clone();
            // Every entry for short rows; a spread of entries for the long one.
            let step = if len > 100 { 37 } else { 1 };
            for i in (0..base.len()).step_by(step) {
                let mut plus = base.clone();
                plus[i] += eps;
                let mut minus = base.clone();
                minus[i] -= eps;
                let p = Tensor::from_vec(plus, &shape, &Device::Cpu).unwrap();
                let m = Tensor::from_vec(minus, &shape, &Device::Cpu).unwrap();
                let (lp, lm) = if name == "u" {
                    (loss(&p, k.as_tensor()), loss(&m, k.as_tensor()))
                } else {
                    (loss(u.as_tensor(), &p), loss(u.as_tensor(), &m))
                };
                let fd = (lp - lm) / (2.0 * eps);
                assert!((fd - grad[i]).abs() < 1e-6 * (1.0 + fd.abs()), "{method:?} d{name}[{i}]: fd {fd} vs autograd {}", grad[i]);
            }
        }
    }
}
