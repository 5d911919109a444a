//! Parity with the reference PyTorch outputs in `data/fixtures/hyenadna/` (random-weight
//! models with official shapes, key names and configs). Tolerances from the fixtures README:
//! hidden states, block outputs, embeddings, filters, debug tensors `atol = rtol = 1e-4`;
//! logits `atol = 1e-3, rtol = 1e-4`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::HyenaDna;
use crate::long_conv::{ConvMethod, LongConv};
use crate::{Config, tokenize};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/fixtures/hyenadna");
const HIDDEN_TOL: (f64, f64) = (1e-4, 1e-4);
const LOGITS_TOL: (f64, f64) = (1e-3, 1e-4);

fn dir(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn outputs(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir(name).join("outputs.safetensors"), &Device::Cpu).unwrap()
}

/// `|a − b| <= atol + rtol·|b|` everywhere; panics with the worst element otherwise.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, (atol, rtol): (f64, f64)) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let g: Vec<f32> = got.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let w: Vec<f32> = want.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let mut worst = (0.0f64, 0usize);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let excess = ((a - b).abs() as f64) - (atol + rtol * (*b as f64).abs());
        if excess > worst.0 || a.is_nan() {
            worst = (excess.max(f64::MIN_POSITIVE), i);
        }
    }
    assert!(worst.0 <= 0.0, "{what}: element {} got {} want {} (over tolerance by {:e})", worst.1, g[worst.1], w[worst.1], worst.0);
}

fn sequences(name: &str) -> Vec<(String, Vec<u32>)> {
    let text = std::fs::read_to_string(dir(name).join("inputs.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let ids = s["input_ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            (s["sequence"].as_str().unwrap().to_string(), ids)
        })
        .collect()
}

fn ids_tensor(ids: &[u32]) -> Tensor {
    Tensor::from_vec(ids.to_vec(), (1, ids.len()), &Device::Cpu).unwrap()
}

/// Checks a loaded model against every stored output of its fixture.
fn check_model(name: &str, model: &HyenaDna, debug: bool) {
    let out = outputs(name);
    // Filters: the full l_max grid, and the intermediate stages where stored.
    for (l, block) in model.layers().iter().enumerate() {
        let f = &block.mixer.filter_fn;
        assert_close(&format!("{name} filter.{l}.k"), &f.filter().unwrap(), &out[&format!("filter.{l}.k")], HIDDEN_TOL);
        if let Some(z) = out.get(&format!("filter.{l}.z")) {
            assert_close(&format!("{name} filter.{l}.z"), f.z(), z, HIDDEN_TOL);
            assert_close(&format!("{name} filter.{l}.t"), f.t(), &out[&format!("filter.{l}.t")], HIDDEN_TOL);
            let h = f.h_premod().unwrap();
            assert_close(&format!("{name} filter.{l}.h_premod"), &h, &out[&format!("filter.{l}.h_premod")], HIDDEN_TOL);
        }
    }
    for (i, (seq, ids)) in sequences(name).iter().enumerate() {
        let stored_ids: Vec<u32> = out[&format!("input_ids.{i}")].to_dtype(DType::U32).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(&tokenize(seq.as_bytes()).unwrap(), ids, "{name} tokenizer, sequence {i}");
        assert_eq!(&stored_ids, ids, "{name} stored ids, sequence {i}");
        let x = ids_tensor(ids);
        let trace = model.forward_trace(&x, false).unwrap();
        assert_close(&format!("{name} last_hidden_state.{i}"), &trace.last_hidden_state, &out[&format!("last_hidden_state.{i}")], HIDDEN_TOL);
        let logits = model.forward_logits(&x).unwrap();
        assert_close(&format!("{name} logits.{i}"), &logits, &out[&format!("logits.{i}")], LOGITS_TOL);
        // The fused inference path (forward_hidden) against the reference, separately.
        let hidden = model.forward_hidden(&x).unwrap();
        assert_close(&format!("{name} forward_hidden.{i}"), &hidden, &out[&format!("last_hidden_state.{i}")], HIDDEN_TOL);
        if let Some(e) = out.get(&format!("embeddings.{i}")) {
            assert_close(&format!("{name} embeddings.{i}"), &trace.embeddings, e, HIDDEN_TOL);
            for (l, b) in trace.blocks.iter().enumerate() {
                assert_close(&format!("{name} block_out.{i}.{l}"), &b.out, &out[&format!("block_out.{i}.{l}")], HIDDEN_TOL);
            }
        }
        if debug && i == 0 {
            for (l, b) in trace.blocks.iter().enumerate() {
                let key = |k: &str| out[&format!("debug.0.{l}.{k}")].clone();
                let len = ids.len();
                assert_close("ln1_out", &b.ln1_out, &key("ln1_out"), HIDDEN_TOL);
                assert_close("in_proj_out", &b.mixer.in_proj_out, &key("in_proj_out"), HIDDEN_TOL);
                let untrimmed = key("short_conv_out_untrimmed").narrow(2, 0, len).unwrap().transpose(1, 2).unwrap();
                assert_close("short_conv_out", &b.mixer.short_conv_out, &untrimmed, HIDDEN_TOL);
                assert_close("fftconv_in", &b.mixer.fftconv_in, &key("fftconv_in"), HIDDEN_TOL);
                assert_close("fftconv_out", &b.mixer.fftconv_out, &key("fftconv_out"), HIDDEN_TOL);
                assert_close("mixer_out", &b.mixer.out, &key("mixer_out"), HIDDEN_TOL);
                assert_close("ln2_out", &b.ln2_out, &key("ln2_out"), HIDDEN_TOL);
                assert_close("mlp_out", &b.mlp_out, &key("mlp_out"), HIDDEN_TOL);
            }
        }
    }
    // The left-padded batch: pads are ordinary tokens (no mask), as in the reference.
    let padded = out["padded.input_ids"].to_dtype(DType::U32).unwrap();
    let rows: Vec<Vec<u32>> = sequences(name).into_iter().map(|(_, ids)| ids).collect();
    let (ours, len) = crate::tokenizer::pad_left(&rows);
    assert_eq!(padded.dims(), &[3, len]);
    assert_eq!(padded.flatten_all().unwrap().to_vec1::<u32>().unwrap(), ours, "{name} left padding");
    let hidden = model.forward_hidden(&padded).unwrap();
    assert_close(&format!("{name} padded.last_hidden_state"), &hidden, &out["padded.last_hidden_state"], HIDDEN_TOL);
}

#[test]
fn micro_from_safetensors_matches_reference() {
    let model = HyenaDna::load(&dir("micro"), &Device::Cpu, DType::F32).unwrap();
    assert_eq!(model.config().d_model, 32);
    check_model("micro", &model, true);
}

#[test]
fn micro_from_dedup_safetensors_and_pytorch_bin_matches_reference() {
    let cfg = Config::from_dir(&dir("micro")).unwrap();
    for file in ["model.hf_dedup.safetensors", "pytorch_model.bin"] {
        let model = HyenaDna::load_weights(&cfg, &dir("micro").join(file), &Device::Cpu, DType::F32).unwrap();
        check_model("micro", &model, false);
    }
}

#[test]
fn tiny_1k_matches_reference() {
    let model = HyenaDna::load(&dir("tiny-1k"), &Device::Cpu, DType::F32).unwrap();
    assert_eq!(model.config().max_seq_len, 1026);
    check_model("tiny-1k", &model, false);
}

#[test]
fn micro_with_shift_zero_matches_training_code_outputs() {
    let mut cfg = Config::from_dir(&dir("micro")).unwrap();
    cfg.modulation_shift = 0.0;
    let model = HyenaDna::load_weights(&cfg, &dir("micro").join("model.safetensors"), &Device::Cpu, DType::F32).unwrap();
    let out = outputs("micro");
    for (l, block) in model.layers().iter().enumerate() {
        assert_close("shift0 filter", &block.mixer.filter_fn.filter().unwrap(), &out[&format!("shift0.filter.{l}.k")], HIDDEN_TOL);
    }
    for (i, (_, ids)) in sequences("micro").iter().enumerate() {
        let hidden = model.forward_hidden(&ids_tensor(ids)).unwrap();
        assert_close("shift0 hidden", &hidden, &out[&format!("shift0.last_hidden_state.{i}")], HIDDEN_TOL);
    }
}

/// The training path (filter recomputed through autograd, no caches) gives the same outputs,
/// and both conv methods stay within tolerance on the longest fixture sequence.
#[test]
fn training_path_and_both_conv_methods_match() {
    let model = HyenaDna::load(&dir("tiny-1k"), &Device::Cpu, DType::F32).unwrap();
    let out = outputs("tiny-1k");
    let (_, ids) = &sequences("tiny-1k")[0];
    let trace = model.forward_trace(&ids_tensor(ids), true).unwrap();
    assert_close("train path", &trace.last_hidden_state, &out["last_hidden_state.0"], HIDDEN_TOL);
    let b = &trace.blocks[0].mixer;
    let k = model.layers()[0].mixer.filter_fn.conv_filter(ids.len()).unwrap();
    let direct = LongConv { method: ConvMethod::Direct, ..LongConv::default() }.apply(&b.fftconv_in, &k).unwrap();
    assert_close("direct conv", &direct, &b.fftconv_out, HIDDEN_TOL);
}

#[test]
fn rejects_bad_inputs_with_clear_errors() {
    let model = HyenaDna::load(&dir("micro"), &Device::Cpu, DType::F32).unwrap();
    let too_long = Tensor::from_vec(vec![7u32; 259], (1, 259), &Device::Cpu).unwrap();
    let err = model.forward_hidden(&too_long).unwrap_err().to_string();
    assert!(err.contains("259") && err.contains("258"), "{err}");
    let bad_id = Tensor::from_vec(vec![7u32, 16], (1, 2), &Device::Cpu).unwrap();
    let err = model.forward_hidden(&bad_id).unwrap_err().to_string();
    assert!(err.contains("token id 16") && err.contains("position 1"), "{err}");
    let flat = Tensor::from_vec(vec![7u32; 3], 3, &Device::Cpu).unwrap();
    assert!(model.forward_hidden(&flat).unwrap_err().to_string().contains("[batch, length]"));
    let err = HyenaDna::load(Path::new("/nonexistent/ckpt"), &Device::Cpu, DType::F32).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/ckpt"), "{err}");
}

/// Keys under the standalone (`backbone.`) and Lightning (`model.backbone.`) layouts load too,
/// with the LM head tied to the embeddings when `lm_head.weight` is absent.
#[test]
fn loads_standalone_and_lightning_key_layouts() {
    let cfg = Config::from_dir(&dir("micro")).unwrap();
    let tensors = candle_core::safetensors::load(dir("micro").join("model.safetensors"), &Device::Cpu).unwrap();
    let reference = HyenaDna::load(&dir("micro"), &Device::Cpu, DType::F32).unwrap();
    let ids = ids_tensor(&sequences("micro")[1].1);
    let want = reference.forward_logits(&ids).unwrap();
    for prefix in ["", "model."] {
        let renamed: HashMap<String, Tensor> = tensors
            .iter()
            .filter(|(k, _)| k.starts_with("hyena."))
            .map(|(k, v)| (format!("{prefix}{}", k.trim_start_matches("hyena.")), v.clone()))
            .collect();
        let vb = VarBuilder::from_tensors(renamed, DType::F32, &Device::Cpu);
        let model = HyenaDna::new(&cfg, vb).unwrap();
        // lm_head.weight == word embeddings in the fixtures, so the tied head gives the same logits.
        assert_close(&format!("prefix {prefix:?}"), &model.forward_logits(&ids).unwrap(), &want, (0.0, 0.0));
    }
}
