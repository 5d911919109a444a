//! The zoo's family detection and pooling, on the bundled checkpoints and on configs
//! written here.

use std::path::PathBuf;

use super::*;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("data/fixtures").join(rel)
}

/// A fresh directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omicsdb-zoo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn detects_hyenadna_and_dnabert_from_config_json() {
    assert_eq!(detect(&fixture("hyenadna/micro")).unwrap().name, "hyenadna");
    assert_eq!(detect(&fixture("dnabert/k3_small")).unwrap().name, "dnabert");
    let facts = (detect(&fixture("dnabert/k3_small")).unwrap().facts)(&fixture("dnabert/k3_small")).unwrap();
    assert_eq!(facts.tokenizer, "kmer3");
    assert!(facts.bidirectional && facts.lm_head && !facts.rc_equivariant);
}

#[test]
fn detects_caduceus_and_records_its_facts() {
    for (name, rc, width) in [("ps_small", true, 64), ("bi_ew_ln", false, 24), ("uni_rms", false, 16)] {
        let dir = fixture(&format!("caduceus/{name}"));
        let entry = detect(&dir).unwrap();
        assert_eq!(entry.name, "caduceus");
        let facts = (entry.facts)(&dir).unwrap();
        assert_eq!((facts.tokenizer.as_str(), facts.d_model, facts.rc_equivariant, facts.lm_head), ("char", width, rc, true), "{name}");
        assert_eq!(facts.bidirectional, name != "uni_rms", "{name}");
    }
    // By architectures alone, too.
    let dir = scratch("caduceus-arch");
    std::fs::write(dir.join("config.json"), r#"{"architectures": ["CaduceusForMaskedLM"], "d_model": 8, "n_layer": 1, "vocab_size": 12}"#).unwrap();
    assert_eq!(detect(&dir).unwrap().name, "caduceus");
    let facts = (detect(&dir).unwrap().facts)(&dir).unwrap();
    assert_eq!(facts.max_len, crate::caduceus::DEFAULT_MAX_LEN, "no tokenizer_config.json: the pre-training length");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_config_is_an_error_naming_what_was_found() {
    let dir = scratch("gpt2");
    std::fs::write(dir.join("config.json"), r#"{"model_type": "gpt2", "n_embd": 8}"#).unwrap();
    let e = detect(&dir).unwrap_err().to_string();
    assert!(e.contains("\"gpt2\"") && e.contains("hyenadna, dnabert"), "{e}");
    let empty = scratch("empty");
    let e = detect(&empty).unwrap_err().to_string();
    assert!(e.contains("no config"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn mean_pooling_skips_special_tokens_and_cls_is_position_zero() {
    let dir = fixture("dnabert/k3_small");
    let model = load(&dir, &Device::Cpu, DType::F32).unwrap();
    let ids = model.tokenize(b"ACGTACGTAC").unwrap();
    assert_eq!(ids.len(), 10 - 3 + 3);
    let n = ids.len();
    let ids = Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap();
    let hidden = model.hidden(&ids).unwrap();
    let mean = pool(model.as_ref(), &hidden, Pooling::Mean).unwrap().to_vec2::<f32>().unwrap();
    let by_hand = hidden.narrow(1, 1, n - 2).unwrap().mean(1).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(mean, by_hand);
    let cls = pool(model.as_ref(), &hidden, Pooling::Cls).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(cls, hidden.narrow(1, 0, 1).unwrap().squeeze(1).unwrap().to_vec2::<f32>().unwrap());
    assert!(pool(model.as_ref(), &hidden, Pooling::Last).is_err());
}
