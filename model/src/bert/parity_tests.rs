//! Parity with the reference (transformers' `BertForMaskedLM` + `BertTokenizer`) on the
//! fixtures of `scripts/fixtures/dnabert.py`: token ids exactly; every layer's hidden
//! states and the MLM logits within 1e-4 (max |diff|, f32 on both sides), alone and in a
//! right-padded batch with its attention mask; the pseudo-log-likelihood within 1e-3.

use candle_core::{DType, Device, Tensor};

use crate::parity_fixtures::{Fixture, ids_of, max_diff};

use super::{Bert, BertConfig, KmerTokenizer};
use crate::zoo;

const TOL: f32 = 1e-4;
const PLL_TOL: f64 = 1e-3;

fn dir(name: &str) -> std::path::PathBuf {
    crate::parity_fixtures::dir("dnabert", name)
}

fn fixture(name: &str) -> Fixture {
    crate::parity_fixtures::fixture("dnabert", name)
}

fn load_bert(name: &str, weights: &str) -> Bert {
    let d = dir(name);
    let cfg = BertConfig::from_dir(&d).unwrap();
    let vb = crate::zoo::var_builder(&d.join(weights), &Device::Cpu, DType::F32).unwrap();
    Bert::new(&cfg, vb).unwrap()
}

fn check_config(name: &str, weights: &str) {
    let fx = fixture(name);
    let tok = KmerTokenizer::from_dir(&dir(name)).unwrap();
    let model = load_bert(name, weights);
    assert!(model.has_lm_head());
    let expected_ids = ids_of(&fx.inputs["ids"]);
    for (i, seq) in fx.inputs["sequences"].as_array().unwrap().iter().enumerate() {
        let ids = tok.tokenize(seq.as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(ids, expected_ids[i], "{name}: token ids of sequence {i}");
        let n = ids.len();
        let x = Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap();
        let hidden = model.forward_all(&x, None).unwrap();
        for (l, h) in hidden.iter().enumerate() {
            let d = max_diff(h, &fx.outputs[&format!("single{i}.hidden{l}")]);
            assert!(d <= TOL, "{name}: sequence {i} hidden state {l}: max |diff| {d}");
        }
        let logits = model.logits_from_hidden(hidden.last().unwrap()).unwrap();
        let d = max_diff(&logits, &fx.outputs[&format!("single{i}.logits")]);
        assert!(d <= TOL, "{name}: sequence {i} logits: max |diff| {d}");
    }
    let batch = ids_of(&fx.inputs["batch_ids"]);
    let (b, t) = (batch.len(), batch[0].len());
    let x = Tensor::from_vec(batch.concat(), (b, t), &Device::Cpu).unwrap();
    let mask = fx.outputs["batch.mask"].to_dtype(DType::U32).unwrap();
    let hidden = model.forward_all(&x, Some(&mask)).unwrap();
    for (l, h) in hidden.iter().enumerate() {
        let d = max_diff(h, &fx.outputs[&format!("batch.hidden{l}")]);
        assert!(d <= TOL, "{name}: padded batch hidden state {l}: max |diff| {d}");
    }
    let d = max_diff(&model.logits_from_hidden(hidden.last().unwrap()).unwrap(), &fx.outputs["batch.logits"]);
    assert!(d <= TOL, "{name}: padded batch logits: max |diff| {d}");
}

#[test]
fn k3_matches_the_reference_from_safetensors_and_from_pytorch_bin() {
    check_config("k3_small", "model.safetensors");
    check_config("k3_small", "pytorch_model.bin");
}

#[test]
fn k6_matches_the_reference() {
    check_config("k6_small", "model.safetensors");
    check_config("k6_1k", "model.safetensors");
}

#[test]
fn pseudo_log_likelihood_matches_the_reference() {
    for name in ["k3_small", "k6_small"] {
        let fx = fixture(name);
        let model = zoo::load(&dir(name), &Device::Cpu, DType::F32).unwrap();
        let seqs: Vec<&str> = fx.inputs["sequences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        for (i, seq) in seqs.iter().enumerate() {
            let ids = model.tokenize(seq.as_bytes()).unwrap();
            let n = ids.len();
            let got = model.loglik(&Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap()).unwrap()[0];
            let want = fx.outputs[&format!("single{i}.pll")].to_vec1::<f64>().unwrap()[0];
            assert!((got - want).abs() <= PLL_TOL, "{name}: sequence {i}: PLL {got} vs reference {want}");
        }
        // Two rows of one length in one call score as they do alone.
        let ids = model.tokenize(seqs[0].as_bytes()).unwrap();
        let n = ids.len();
        let two = Tensor::from_vec([ids.clone(), ids].concat(), (2, n), &Device::Cpu).unwrap();
        let both = model.loglik(&two).unwrap();
        let want = fx.outputs["single0.pll"].to_vec1::<f64>().unwrap()[0];
        assert!(both.iter().all(|v| (v - want).abs() <= PLL_TOL), "{name}: batched PLL {both:?} vs {want}");
    }
}
