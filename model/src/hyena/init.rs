//! Deterministic construction of the filter buffers and seeded random weights, for
//! benchmarks and examples that need a model of a given shape without a checkpoint.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Config;

/// The positional buffers `(z [1, l_max, E], t [1, l_max, 1])` exactly as the reference
/// constructs them (ARCHITECTURE.md §5): `t = i/(l_max−1)`, `ω = 2π·i/l_max`,
/// `z = [t, cos(f·ω), −sin(f·ω)]` with `f = linspace(1e-4, bands−1, bands)`.
pub fn positional_buffers(cfg: &Config, device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let (l_max, e) = (cfg.max_seq_len, cfg.emb_dim);
    let bands = (e - 1) / 2;
    let freqs: Vec<f64> = linspace(1e-4, bands as f64 - 1.0, bands);
    let mut z = Vec::with_capacity(l_max * e);
    let mut t = Vec::with_capacity(l_max);
    for i in 0..l_max {
        let ti = i as f64 / (l_max - 1) as f64;
        let w = 2.0 * std::f64::consts::PI * i as f64 / l_max as f64;
        t.push(ti as f32);
        z.push(ti as f32);
        z.extend(freqs.iter().map(|f| (f * w).cos() as f32));
        z.extend(freqs.iter().map(|f| -(f * w).sin() as f32));
    }
    Ok((Tensor::from_vec(z, (1, l_max, e), device)?, Tensor::from_vec(t, (1, l_max, 1), device)?))
}

/// The modulation buffer `deltas = linspace(ln(1e-2)/1.5, ln(1e-2)/0.3, D)`, `[1, 1, D]`.
pub fn modulation_deltas(cfg: &Config, device: &Device) -> candle_core::Result<Tensor> {
    let target = 1e-2f64.ln();
    let d: Vec<f32> = linspace(target / 1.5, target / 0.3, cfg.d_model).into_iter().map(|x| x as f32).collect();
    Tensor::from_vec(d, (1, 1, cfg.d_model), device)
}

fn linspace(start: f64, end: f64, steps: usize) -> Vec<f64> {
    if steps == 1 {
        return vec![start];
    }
    (0..steps).map(|i| start + (end - start) * i as f64 / (steps - 1) as f64).collect()
}

/// A full HF-port state dict (`hyena.backbone.*`, `lm_head.weight`) with seeded random
/// weights in the fixtures' ranges (linear ±1/√fan_in, embeddings ±√3, LayerNorm weight
/// 0.5..1.5, Sin freq `w ± 1`) and the deterministic buffers. **Random weights**: for
/// benchmarks and shape tests only.
pub fn random_state_dict(cfg: &Config, seed: u64, device: &Device) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = HashMap::new();
    let mut uniform = |shape: &[usize], lo: f64, hi: f64| -> candle_core::Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi) as f32).collect();
        Tensor::from_vec(v, shape, device)
    };
    let (d, i, e, f) = (cfg.d_model, cfg.d_inner, cfg.emb_dim, cfg.filter_order);
    let rows = cfg.padded_vocab_size();
    let lin = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
    let mut put = |k: String, t: Tensor| {
        out.insert(k, t);
    };
    let emb = uniform(&[rows, d], -3f64.sqrt(), 3f64.sqrt())?;
    put("lm_head.weight".into(), emb.clone());
    put("hyena.backbone.embeddings.word_embeddings.weight".into(), emb);
    let (z, t) = positional_buffers(cfg, device)?;
    let deltas = modulation_deltas(cfg, device)?;
    for l in 0..cfg.n_layer {
        let p = format!("hyena.backbone.layers.{l}");
        let m = format!("{p}.mixer");
        put(format!("{m}.in_proj.weight"), uniform(&[3 * d, d], -lin(d), lin(d))?);
        put(format!("{m}.in_proj.bias"), uniform(&[3 * d], -lin(d), lin(d))?);
        put(format!("{m}.out_proj.weight"), uniform(&[d, d], -lin(d), lin(d))?);
        put(format!("{m}.out_proj.bias"), uniform(&[d], -lin(d), lin(d))?);
        let k = cfg.short_filter_order;
        put(format!("{m}.short_filter.weight"), uniform(&[3 * d, 1, k], -lin(k), lin(k))?);
        put(format!("{m}.short_filter.bias"), uniform(&[3 * d], -lin(k), lin(k))?);
        let fl = format!("{m}.filter_fn");
        put(format!("{fl}.bias"), uniform(&[d], -1.0, 1.0)?);
        put(format!("{fl}.pos_emb.z"), z.clone());
        put(format!("{fl}.pos_emb.t"), t.clone());
        put(format!("{fl}.modulation.deltas"), deltas.clone());
        put(format!("{fl}.implicit_filter.0.weight"), uniform(&[f, e], -lin(e), lin(e))?);
        put(format!("{fl}.implicit_filter.0.bias"), uniform(&[f], -lin(e), lin(e))?);
        let freq = uniform(&[1, f], cfg.activation_freq - 1.0, cfg.activation_freq + 1.0)?;
        for j in 0..cfg.num_inner_mlps {
            let idx = 2 * (j + 1);
            put(format!("{fl}.implicit_filter.{idx}.weight"), uniform(&[f, f], -lin(f), lin(f))?);
            put(format!("{fl}.implicit_filter.{idx}.bias"), uniform(&[f], -lin(f), lin(f))?);
        }
        for j in 0..=cfg.num_inner_mlps {
            put(format!("{fl}.implicit_filter.{}.freq", 2 * j + 1), freq.clone());
        }
        let last = 2 * (cfg.num_inner_mlps + 1);
        put(format!("{fl}.implicit_filter.{last}.weight"), uniform(&[d, f], -lin(f), lin(f))?);
        for norm in ["norm1", "norm2"] {
            put(format!("{p}.{norm}.weight"), uniform(&[d], 0.5, 1.5)?);
            put(format!("{p}.{norm}.bias"), uniform(&[d], -0.2, 0.2)?);
        }
        put(format!("{p}.mlp.fc1.weight"), uniform(&[i, d], -lin(d), lin(d))?);
        put(format!("{p}.mlp.fc1.bias"), uniform(&[i], -lin(d), lin(d))?);
        put(format!("{p}.mlp.fc2.weight"), uniform(&[d, i], -lin(i), lin(i))?);
        put(format!("{p}.mlp.fc2.bias"), uniform(&[d], -lin(i), lin(i))?);
    }
    put("hyena.backbone.ln_f.weight".into(), uniform(&[d], 0.5, 1.5)?);
    put("hyena.backbone.ln_f.bias".into(), uniform(&[d], -0.2, 0.2)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/fixtures/hyenadna");

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    /// The constructed buffers equal the ones stored in the checkpoints (within f32
    /// rounding of the reference's complex64 computation).
    #[test]
    fn buffers_match_the_checkpoints() {
        for name in ["micro", "tiny-1k"] {
            let dir = std::path::Path::new(DIR).join(name);
            let cfg = Config::from_dir(&dir).unwrap();
            let w = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
            let (z, t) = positional_buffers(&cfg, &Device::Cpu).unwrap();
            let deltas = modulation_deltas(&cfg, &Device::Cpu).unwrap();
            let key = |k: &str| w[&format!("hyena.backbone.layers.0.mixer.filter_fn.{k}")].clone();
            assert!(max_diff(&z, &key("pos_emb.z")) < 2e-6, "{name} z");
            assert!(max_diff(&t, &key("pos_emb.t")) < 1e-6, "{name} t");
            assert!(max_diff(&deltas, &key("modulation.deltas")) < 2e-6, "{name} deltas");
        }
    }

    #[test]
    fn random_state_dict_has_every_checkpoint_key() {
        let dir = std::path::Path::new(DIR).join("micro");
        let cfg = Config::from_dir(&dir).unwrap();
        let stored = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
        let random = random_state_dict(&cfg, 7, &Device::Cpu).unwrap();
        let mut a: Vec<_> = stored.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect();
        let mut b: Vec<_> = random.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let vb = candle_nn::VarBuilder::from_tensors(random, DType::F32, &Device::Cpu);
        let model = crate::HyenaDna::new(&cfg, vb).unwrap();
        let ids = Tensor::from_vec(vec![7u32, 8, 9, 10], (1, 4), &Device::Cpu).unwrap();
        assert_eq!(model.forward_hidden(&ids).unwrap().dims(), &[1, 4, 32]);
    }
}
