//! Loading the parity fixtures that `scripts/fixtures/*.py` write (test-only): a family's
//! `data/fixtures/<family>/<name>/` holds `inputs.json` (sequences and the reference's
//! token ids) and `outputs.safetensors` (the reference's tensors).

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

/// `data/fixtures/<family>/<name>`.
pub fn dir(family: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures").join(family).join(name)
}

/// One fixture's inputs and reference outputs.
pub struct Fixture {
    /// `inputs.json`.
    pub inputs: serde_json::Value,
    /// `outputs.safetensors`, by tensor name.
    pub outputs: HashMap<String, Tensor>,
}

/// Reads the fixture `name` of `family`.
pub fn fixture(family: &str, name: &str) -> Fixture {
    let d = dir(family, name);
    let inputs = serde_json::from_str(&std::fs::read_to_string(d.join("inputs.json")).unwrap()).unwrap();
    let outputs = candle_core::safetensors::load(d.join("outputs.safetensors"), &Device::Cpu).unwrap();
    Fixture { inputs, outputs }
}

/// Largest absolute difference of two tensors of one shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// A JSON list of token-id lists.
pub fn ids_of(v: &serde_json::Value) -> Vec<Vec<u32>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()).collect()
}
