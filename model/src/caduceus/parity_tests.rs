//! Parity with the reference (kuleshov-group/caduceus `CaduceusForMaskedLM` and
//! `CaduceusTokenizer`, mamba-ssm 1.2 with its pure-PyTorch scan and norms) on the
//! fixtures of `scripts/fixtures/caduceus.py`: token ids exactly; every layer's input, the
//! final hidden states and the MLM logits within 1e-4 (max |diff|, f32 on both sides),
//! alone and as a batch of two rows; the pseudo-log-likelihood within 1e-3; and for the
//! RC-equivariant configs, the outputs of the reverse complement equal to the flipped
//! outputs (1e-5).

use candle_core::{DType, Device, Tensor};

use crate::parity_fixtures::{Fixture, ids_of, max_diff};

use super::{Caduceus, CaduceusConfig, CharTokenizer};
use crate::zoo;

const TOL: f32 = 1e-4;
const PLL_TOL: f64 = 1e-3;
const RC_TOL: f32 = 1e-5;
const ALL: [&str; 4] = ["ps_small", "bi_ew_ln", "ps_unfused_ln", "uni_rms"];

fn dir(name: &str) -> std::path::PathBuf {
    crate::parity_fixtures::dir("caduceus", name)
}

fn fixture(name: &str) -> Fixture {
    crate::parity_fixtures::fixture("caduceus", name)
}

fn load(name: &str) -> (CaduceusConfig, Caduceus) {
    let d = dir(name);
    let cfg = CaduceusConfig::from_dir(&d).unwrap();
    let vb = zoo::var_builder(&d.join("model.safetensors"), &Device::Cpu, DType::F32).unwrap();
    let model = Caduceus::new(&cfg, vb).unwrap();
    (cfg, model)
}

fn row(ids: &[u32]) -> Tensor {
    Tensor::from_vec(ids.to_vec(), (1, ids.len()), &Device::Cpu).unwrap()
}

/// Checks one config; returns the largest |diff| seen on hidden states and logits.
fn check_config(name: &str) -> f32 {
    let fx = fixture(name);
    let (cfg, model) = load(name);
    assert!(model.has_lm_head(), "{name}");
    let tok = CharTokenizer::new(1024);
    let expected = ids_of(&fx.inputs["ids"]);
    let mut worst = 0f32;
    let mut check = |what: String, got: &Tensor, want: &Tensor| {
        let d = max_diff(got, want);
        assert!(d <= TOL, "{name}: {what}: max |diff| {d}");
        worst = worst.max(d);
    };
    for (i, seq) in fx.inputs["sequences"].as_array().unwrap().iter().enumerate() {
        let ids = tok.tokenize(seq.as_str().unwrap().as_bytes());
        assert_eq!(ids, expected[i], "{name}: token ids of sequence {i}");
        let all = model.forward_all(&row(&ids)).unwrap();
        assert_eq!(all.len(), cfg.n_layer + 1);
        for (l, h) in all[..cfg.n_layer].iter().enumerate() {
            check(format!("sequence {i} input of layer {l}"), h, &fx.outputs[&format!("single{i}.layer_in{l}")]);
        }
        check(format!("sequence {i} hidden"), &all[cfg.n_layer], &fx.outputs[&format!("single{i}.hidden")]);
        let logits = model.logits_from_hidden(&all[cfg.n_layer]).unwrap();
        check(format!("sequence {i} logits"), &logits, &fx.outputs[&format!("single{i}.logits")]);
    }
    let batch = ids_of(&fx.inputs["batch_ids"]);
    let x = Tensor::from_vec(batch.concat(), (batch.len(), batch[0].len()), &Device::Cpu).unwrap();
    let hidden = model.forward_hidden(&x).unwrap();
    check("batch hidden".into(), &hidden, &fx.outputs["batch.hidden"]);
    check("batch logits".into(), &model.logits_from_hidden(&hidden).unwrap(), &fx.outputs["batch.logits"]);
    eprintln!("{name}: max |diff| {worst:e} over layer inputs, hidden states and logits");
    worst
}

#[test]
fn caduceus_ps_matches_the_reference_from_a_deduplicated_checkpoint() {
    // Tied LM head and reverse in/out projections saved once (save_pretrained's layout).
    check_config("ps_small");
    check_config("uni_rms");
}

#[test]
fn caduceus_matches_the_reference_with_every_tensor_saved() {
    check_config("bi_ew_ln");
    check_config("ps_unfused_ln");
}

#[test]
fn caduceus_pseudo_log_likelihood_matches_the_reference() {
    for name in ALL {
        let fx = fixture(name);
        let model = zoo::load(&dir(name), &Device::Cpu, DType::F32).unwrap();
        let seqs: Vec<&str> = fx.inputs["sequences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        let mut worst = 0f64;
        for (i, seq) in seqs.iter().enumerate() {
            let ids = model.tokenize(seq.as_bytes()).unwrap();
            let got = model.loglik(&row(&ids)).unwrap()[0];
            let want = fx.outputs[&format!("single{i}.pll")].to_vec1::<f64>().unwrap()[0];
            assert!((got - want).abs() <= PLL_TOL, "{name}: sequence {i}: PLL {got} vs reference {want}");
            worst = worst.max((got - want).abs());
        }
        // Two rows of one length in one call score as they do alone.
        let ids = model.tokenize(seqs[0].as_bytes()).unwrap();
        let two = Tensor::from_vec([ids.clone(), ids.clone()].concat(), (2, ids.len()), &Device::Cpu).unwrap();
        let both = model.loglik(&two).unwrap();
        let want = fx.outputs["single0.pll"].to_vec1::<f64>().unwrap()[0];
        assert!(both.iter().all(|v| (v - want).abs() <= PLL_TOL), "{name}: batched PLL {both:?} vs {want}");
        eprintln!("{name}: PLL max |diff| {worst:e}");
    }
}

fn flip(x: &Tensor, dim: usize) -> Tensor {
    super::mamba::flip(x, dim).unwrap()
}

#[test]
fn caduceus_ps_is_reverse_complement_equivariant() {
    for name in ["ps_small", "ps_unfused_ln"] {
        let (cfg, model) = load(name);
        assert!(cfg.rcps);
        let comp = cfg.complement().unwrap();
        let tok = CharTokenizer::new(1024);
        let ids = tok.tokenize(b"GATTACAGGCTTANACGTTTGCA");
        let rc: Vec<u32> = ids.iter().rev().map(|&i| comp[i as usize]).collect();
        let (h, h_rc) = (model.forward_hidden(&row(&ids)).unwrap(), model.forward_hidden(&row(&rc)).unwrap());
        // embed(revcomp(x)) = embed(x) reversed along the sequence and the channels.
        let d = max_diff(&h_rc, &flip(&flip(&h, 1), 2));
        assert!(d <= RC_TOL, "{name}: hidden states of the reverse complement: max |diff| {d}");
        // The logits of the reverse complement at t are those of x at L-1-t, complemented.
        let (lg, lg_rc) = (model.logits_from_hidden(&h).unwrap(), model.logits_from_hidden(&h_rc).unwrap());
        let comp_idx = Tensor::from_vec(comp.clone(), comp.len(), &Device::Cpu).unwrap();
        let want = flip(&lg, 1).index_select(&comp_idx, 2).unwrap();
        let dl = max_diff(&lg_rc, &want);
        assert!(dl <= RC_TOL, "{name}: logits of the reverse complement: max |diff| {dl}");
        // And the forward pass is not trivially symmetric: x and its reverse complement differ.
        assert!(max_diff(&h_rc, &h) > 1e-2, "{name}");
        eprintln!("{name}: RC equivariance max |diff| hidden {d:e}, logits {dl:e}");
    }
}

#[test]
fn a_bad_token_id_is_an_error_naming_it() {
    let (_, model) = load("uni_rms");
    let e = model.forward_hidden(&row(&[7, 8, 16])).unwrap_err().to_string();
    assert!(e.contains("token id 16") && e.contains("position 2"), "{e}");
}
