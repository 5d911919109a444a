//! The trainable omics network: HyenaDNA backbone as candle `Var`s, pooling and a
//! linear head. Its forward pass uses plain candle ops (differentiable LayerNorm, GELU)
//! and the Hyena operator in training mode (the filter recomputed through autograd, the
//! long convolution through its custom-op backward), so `loss.backward()` reaches every
//! weight; it computes the same function as the fused inference path
//! ([`crate::HyenaDna::forward_hidden`]), which a test checks.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Embedding, Linear, Module, VarBuilder, VarMap, linear};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bins::{BinLayout, aggregate, pool_features};
use super::impute::{ImputeBranch, ImputeSpec};
use super::stem::{ConvStem, StemSpec};
use super::Pooling;
use crate::hyena::HyenaOperator;
use crate::hyena::train_ops;
use crate::{Config, ModelError};

/// Key prefix of the backbone tensors (the HF-port layout).
pub const BACKBONE: &str = "hyena.backbone";

/// Output projections of each block's two residual branches, zeroed in [`OmicsNet::random`]
/// for a model with a stem.
const ZERO_INIT_SUFFIXES: [&str; 4] = ["mixer.out_proj.weight", "mixer.out_proj.bias", "mlp.fc2.weight", "mlp.fc2.bias"];

/// State-dict keys that are fixed buffers in the reference and are not trained.
const FROZEN_SUFFIXES: [&str; 3] = ["pos_emb.z", "pos_emb.t", "modulation.deltas"];

struct Norm {
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    fn new(d: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self { weight: vb.get(d, "weight")?, bias: vb.get(d, "bias")? })
    }
    fn forward(&self, x: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
        train_ops::layer_norm(x, &self.weight, &self.bias, eps as f32)
    }
}

struct TrainBlock {
    norm1: Norm,
    mixer: HyenaOperator,
    norm2: Norm,
    fc1: Linear,
    fc2: Linear,
}

/// The omics network over a [`VarMap`] (backbone `hyena.backbone.*`, head `head.*`).
pub struct OmicsNet {
    cfg: Config,
    varmap: VarMap,
    embeddings: Embedding,
    stem: Option<ConvStem>,
    blocks: Vec<TrainBlock>,
    ln_f: Norm,
    head: Linear,
    outputs: usize,
    pooling: Pooling,
    /// Per-bin outputs: where the bins sit, and which outputs are peak tracks.
    bins: Option<(BinLayout, Vec<bool>)>,
    /// Observed track values as a further input ([`super::impute`]).
    impute: Option<(ImputeBranch, ImputeSpec)>,
    device: Device,
}

impl std::fmt::Debug for OmicsNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmicsNet").field("cfg", &self.cfg).field("outputs", &self.outputs).finish()
    }
}

impl OmicsNet {
    /// Builds the network from a backbone state dict (`hyena.backbone.*`, e.g.
    /// [`crate::hyena::init::random_state_dict`] or a loaded checkpoint) and either the
    /// head tensors in `state` (`head.weight`, `head.bias`) or a fresh seeded head of
    /// `outputs` rows (uniform ±1/√W over the pooled width W, bias `head_bias`). With a
    /// `stem`, its weights come from `state` (`stem.conv.*`) or are seeded the same way
    /// (uniform ±1/√fan-in, as PyTorch's `Conv1d`).
    #[allow(clippy::too_many_arguments)]
    pub fn from_state(
        cfg: &Config,
        state: HashMap<String, Tensor>,
        outputs: usize,
        pooling: Pooling,
        stem: Option<StemSpec>,
        head_bias: &[f32],
        seed: u64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let varmap = VarMap::new();
        {
            let mut data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
            for (key, t) in state {
                // Accept the standalone/Lightning prefixes too.
                let key = ["model.backbone.", "backbone."]
                    .iter()
                    .find_map(|p| key.strip_prefix(p).map(|rest| format!("{BACKBONE}.{rest}")))
                    .unwrap_or(key);
                if key.starts_with(BACKBONE) || key.starts_with("head.") || key.starts_with("stem.") {
                    data.insert(key, Var::from_tensor(&t.to_dtype(DType::F32)?.to_device(device)?)?);
                }
            }
            if !data.contains_key("head.weight") {
                let mut rng = StdRng::seed_from_u64(seed ^ 0x6f6d_6963_73);
                let width = pooling.width(cfg.d_model);
                let bound = 1.0 / (width as f64).sqrt();
                let w: Vec<f32> = (0..outputs * width).map(|_| rng.random_range(-bound..bound) as f32).collect();
                data.insert("head.weight".into(), Var::from_vec(w, (outputs, width), device)?);
                let mut b = head_bias.to_vec();
                b.resize(outputs, 0.0);
                data.insert("head.bias".into(), Var::from_vec(b, outputs, device)?);
            }
            if let Some(stem) = stem.filter(|_| !data.contains_key("stem.conv.weight")) {
                let mut rng = StdRng::seed_from_u64(seed ^ 0x7374_656d);
                let (c, d) = (stem.channels, cfg.d_model);
                let mut draw = |n: usize, fan_in: usize| -> Vec<f32> {
                    let bound = 1.0 / (fan_in as f64).sqrt();
                    (0..n).map(|_| rng.random_range(-bound..bound) as f32).collect()
                };
                let fan = 4 * stem.kernel;
                data.insert("stem.conv.weight".into(), Var::from_vec(draw(c * fan, fan), (c, 4, stem.kernel), device)?);
                data.insert("stem.conv.bias".into(), Var::from_vec(draw(c, fan), c, device)?);
                data.insert("stem.proj.weight".into(), Var::from_vec(draw(d * c, c), (d, c), device)?);
                data.insert("stem.proj.bias".into(), Var::from_vec(draw(d, c), d, device)?);
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let backbone = vb.pp(BACKBONE);
        let d = cfg.d_model;
        let embeddings =
            Embedding::new(backbone.get((cfg.padded_vocab_size(), d), "embeddings.word_embeddings.weight")?, d);
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for l in 0..cfg.n_layer {
            let b = backbone.pp("layers").pp(l);
            blocks.push(TrainBlock {
                norm1: Norm::new(d, b.pp("norm1"))?,
                mixer: HyenaOperator::new(cfg, b.pp("mixer"))?,
                norm2: Norm::new(d, b.pp("norm2"))?,
                fc1: linear(d, cfg.d_inner, b.pp("mlp.fc1"))?,
                fc2: linear(cfg.d_inner, d, b.pp("mlp.fc2"))?,
            });
        }
        let ln_f = Norm::new(d, backbone.pp("ln_f"))?;
        let head = linear(pooling.width(d), outputs, vb.pp("head"))?;
        let stem = match stem {
            Some(spec) => Some(ConvStem::new(
                (vb.get((spec.channels, 4, spec.kernel), "stem.conv.weight")?, vb.get(spec.channels, "stem.conv.bias")?),
                (vb.get((d, spec.channels), "stem.proj.weight")?, vb.get(d, "stem.proj.bias")?),
                spec,
            )?),
            None => None,
        };
        Ok(Self {
            cfg: cfg.clone(),
            varmap,
            embeddings,
            stem,
            blocks,
            ln_f,
            head,
            outputs,
            pooling,
            bins: None,
            impute: None,
            device: device.clone(),
        })
    }

    /// A randomly initialised network of the config's shape (seeded, deterministic).
    pub fn random(
        cfg: &Config,
        outputs: usize,
        pooling: Pooling,
        stem: Option<StemSpec>,
        head_bias: &[f32],
        seed: u64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut state = crate::hyena::init::random_state_dict(cfg, seed, device)?;
        // Behind a stem, zero-initialised residual branches (as in Fixup and
        // "zero-init residual" training): each block starts as the identity, so at step
        // 0 the head sees the stem's motif features directly and the blocks grow from
        // there. With HyenaDNA's random branch outputs on top, a planted motif in a 1 kb
        // window was drowned out and training stayed at chance (a 10-mer in half of the
        // windows: chance after 300 steps; zeroed: loss 0.03 by step 200).
        for (key, t) in state.iter_mut() {
            if stem.is_some() && ZERO_INIT_SUFFIXES.iter().any(|s| key.ends_with(s)) {
                *t = t.zeros_like()?;
            }
        }
        Self::from_state(cfg, state, outputs, pooling, stem, head_bias, seed, device)
    }

    /// The network with per-bin outputs ([`super::bins`]): `layout` from
    /// [`super::OmicsSpec::bin_layout`], `peaks` from [`super::OmicsSpec::peak_mask`]. The
    /// head weights are the same shape; [`Self::forward`] then aggregates the bins.
    pub fn with_bins(mut self, layout: BinLayout, peaks: Vec<bool>) -> Result<Self, ModelError> {
        if peaks.len() != self.outputs {
            return Err(ModelError::BadShape {
                what: "per-bin track kinds".into(),
                expected: format!("{} outputs", self.outputs),
                got: vec![peaks.len()],
            });
        }
        self.bins = Some((layout, peaks));
        Ok(self)
    }

    /// The network with observed track values as a further input ([`super::impute`]):
    /// `impute.fc1` seeded uniform ±1/√fan-in, `impute.fc2` zero, so training starts from
    /// the sequence-only network's outputs.
    pub fn with_impute(mut self, spec: ImputeSpec, seed: u64) -> Result<Self, ModelError> {
        spec.check().map_err(|message| ModelError::Config { file: "impute".into(), message })?;
        let (t, h, w) = (self.outputs, spec.hidden, self.pooling.width(self.cfg.d_model));
        {
            let mut data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
            let mut rng = StdRng::seed_from_u64(seed ^ 0x696d_7075_7465);
            let bound = 1.0 / ((2 * t) as f64).sqrt();
            let w1: Vec<f32> = (0..h * 2 * t).map(|_| rng.random_range(-bound..bound) as f32).collect();
            let b1: Vec<f32> = (0..h).map(|_| rng.random_range(-bound..bound) as f32).collect();
            data.insert("impute.fc1.weight".into(), Var::from_vec(w1, (h, 2 * t), &self.device)?);
            data.insert("impute.fc1.bias".into(), Var::from_vec(b1, h, &self.device)?);
            data.insert("impute.fc2.weight".into(), Var::zeros((w, h), DType::F32, &self.device)?);
            data.insert("impute.fc2.bias".into(), Var::zeros(w, DType::F32, &self.device)?);
        }
        let vb = VarBuilder::from_varmap(&self.varmap, DType::F32, &self.device);
        self.impute = Some((ImputeBranch::new(t, h, w, vb.pp("impute"))?, spec));
        Ok(self)
    }

    /// The imputation settings, when the network reads observed values.
    pub fn impute_spec(&self) -> Option<&ImputeSpec> {
        self.impute.as_ref().map(|(_, s)| s)
    }

    /// Writes motif seeds ([`super::seed`]) into the first stem filters; returns how
    /// many filters were seeded (0 without a stem).
    pub fn seed_stem(&mut self, seeds: &[super::seed::Seed]) -> Result<usize, ModelError> {
        let Some(spec) = self.stem.as_ref().map(|s| s.spec()) else { return Ok(0) };
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let (Some(w), Some(b)) = (data.get("stem.conv.weight"), data.get("stem.conv.bias")) else { return Ok(0) };
        let mut weight = w.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        let mut bias = b.as_tensor().to_vec1::<f32>()?;
        let n = super::seed::seeded_stem(&mut weight, &mut bias, spec.channels, spec.kernel, seeds);
        w.set(&Tensor::from_vec(weight, (spec.channels, 4, spec.kernel), &self.device)?)?;
        b.set(&Tensor::from_vec(bias, spec.channels, &self.device)?)?;
        Ok(n)
    }

    /// Bins per window (1 without per-bin outputs).
    pub fn bins_per_window(&self) -> usize {
        self.bins.as_ref().map_or(1, |(l, _)| l.count)
    }

    /// The backbone config.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Number of head outputs.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The trainable variables (every weight but the fixed positional and modulation
    /// buffers), sorted by name so optimisation is deterministic.
    pub fn trainable_vars(&self) -> Vec<Var> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut named: Vec<(&String, &Var)> =
            data.iter().filter(|(k, _)| !FROZEN_SUFFIXES.iter().any(|s| k.ends_with(s))).collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// Final hidden states `[B, L', D]` after `ln_f` for token ids `[B, L]` (u32), where
    /// `L'` is `L`, or the stem's bins.
    pub fn hidden(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        let len = ids.dim(1)?;
        let l_max = self.cfg.max_seq_len * self.stem.as_ref().map_or(1, |s| s.spec().pool);
        if len > l_max {
            return Err(ModelError::SequenceTooLong { len, l_max });
        }
        let eps = self.cfg.layer_norm_epsilon;
        let mut r = match &self.stem {
            Some(stem) => stem.forward(ids)?,
            None => self.embeddings.forward(ids)?,
        };
        for b in &self.blocks {
            let mixed = b.mixer.forward_trace(&b.norm1.forward(&r, eps)?, true)?.out;
            let a = (r + mixed)?;
            let h = super::gelu::gelu(&train_ops::linear(&b.fc1, &b.norm2.forward(&a, eps)?)?)?;
            let mlp = train_ops::linear(&b.fc2, &h)?;
            r = (a + mlp)?;
        }
        Ok(self.ln_f.forward(&r, eps)?)
    }

    /// Pooled features of the hidden states: `[B, W]` (over all positions), or
    /// `[B, bins, W]` with per-bin outputs.
    pub fn features(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        Ok(pool_features(self.bins.as_ref().map(|(l, _)| l), &self.hidden(ids)?, self.pooling)?)
    }

    /// Raw per-bin outputs `[B, bins, T]` of pooled features ([`Self::features`]) with
    /// observed values `[B, 2T]` ([`super::impute::observed_input`]; `None`: nothing
    /// observed; ignored by a network without imputation).
    pub fn head_bins(&self, features: &Tensor, observed: Option<&Tensor>) -> Result<Tensor, ModelError> {
        let features = match &self.impute {
            Some((branch, _)) => branch.add_to(features, observed)?,
            None => features.clone(),
        };
        let out = train_ops::linear(&self.head, &features)?;
        Ok(if out.rank() == 2 { out.unsqueeze(1)? } else { out })
    }

    /// Window-level raw outputs `[B, T]` of per-bin raw outputs ([`super::bins::aggregate`];
    /// one bin is the window itself).
    pub fn window_outputs(&self, bins: &Tensor) -> Result<Tensor, ModelError> {
        match &self.bins {
            Some((_, peaks)) => Ok(aggregate(bins, peaks)?),
            None => Ok(bins.squeeze(1)?),
        }
    }

    /// Raw head outputs `[B, T]`: the hidden states pooled over all positions
    /// ([`Pooling`]), through the linear head; with per-bin outputs, the bins'
    /// window-level aggregate ([`super::bins::aggregate`]). Nothing observed.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        self.forward_observed(ids, None)
    }

    /// [`Self::forward`] with observed values `[B, 2T]`.
    pub fn forward_observed(&self, ids: &Tensor, observed: Option<&Tensor>) -> Result<Tensor, ModelError> {
        self.window_outputs(&self.forward_bins_observed(ids, observed)?)
    }

    /// Raw per-bin outputs `[B, bins, T]` (what training compares with per-bin targets);
    /// without per-bin outputs, the window outputs as one bin `[B, 1, T]`. Nothing observed.
    pub fn forward_bins(&self, ids: &Tensor) -> Result<Tensor, ModelError> {
        self.forward_bins_observed(ids, None)
    }

    /// [`Self::forward_bins`] with observed values `[B, 2T]`.
    pub fn forward_bins_observed(&self, ids: &Tensor, observed: Option<&Tensor>) -> Result<Tensor, ModelError> {
        self.head_bins(&self.features(ids)?, observed)
    }

    /// Rebuilds the Hyena operators from the current variable values. The operator keeps
    /// a re-laid-out copy of its short-filter taps, so after the variables change
    /// (optimiser step, [`Self::load_weights`]) the copy must be refreshed.
    pub fn refresh(&mut self) -> Result<(), ModelError> {
        let vb = VarBuilder::from_varmap(&self.varmap, DType::F32, &self.device);
        for (l, block) in self.blocks.iter_mut().enumerate() {
            block.mixer = HyenaOperator::new(&self.cfg, vb.pp(BACKBONE).pp("layers").pp(l).pp("mixer"))?;
        }
        Ok(())
    }

    /// Every weight by key (without the unused `lm_head`), for saving.
    pub fn state(&self) -> HashMap<String, Tensor> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.iter().filter(|(k, _)| *k != "lm_head.weight").map(|(k, v)| (k.clone(), v.as_tensor().detach())).collect()
    }

    /// Writes the weights as safetensors.
    pub fn save(&self, file: &Path) -> Result<(), ModelError> {
        candle_core::safetensors::save(&self.state(), file)
            .map_err(|source| ModelError::Weights { file: file.to_path_buf(), source })
    }

    /// Overwrites the weights with a file written by [`Self::save`] (resume).
    pub fn load_weights(&mut self, file: &Path) -> Result<(), ModelError> {
        let wrap = |source| ModelError::Weights { file: file.to_path_buf(), source };
        let loaded = candle_core::safetensors::load(file, &Device::Cpu).map_err(wrap)?;
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        for (key, var) in data.iter() {
            if key == "lm_head.weight" {
                continue;
            }
            let t = loaded.get(key).ok_or_else(|| ModelError::MissingTensor {
                file: file.to_path_buf(),
                key: key.clone(),
                prefixes: String::new(),
            })?;
            var.set(&t.to_device(var.device()).map_err(wrap)?).map_err(wrap)?;
        }
        drop(data);
        self.refresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HyenaDna;

    pub(crate) fn tiny_config(len: usize) -> Config {
        let json = format!(
            r#"{{"d_model":16,"n_layer":2,"d_inner":32,"vocab_size":12,"max_seq_len":{len},"filter_order":16}}"#
        );
        Config::from_json_str(&json, Path::new("tiny.json")).unwrap()
    }

    /// The differentiable training path computes what the fused inference path does.
    #[test]
    fn training_forward_matches_inference_backbone() {
        let cfg = tiny_config(40);
        let dev = Device::Cpu;
        let state = crate::hyena::init::random_state_dict(&cfg, 3, &dev).unwrap();
        let reference = HyenaDna::new(&cfg, VarBuilder::from_tensors(state.clone(), DType::F32, &dev)).unwrap();
        let net = OmicsNet::from_state(&cfg, state, 2, Pooling::Mean, None, &[0.0, 0.0], 3, &dev).unwrap();
        let ids: Vec<u32> = (0..2 * 40).map(|i| 7 + (i * 7 % 5) as u32).collect();
        let ids = Tensor::from_vec(ids, (2, 40), &dev).unwrap();
        let a = net.hidden(&ids).unwrap();
        let b = reference.forward_hidden(&ids).unwrap();
        let diff: f32 = (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
        assert!(diff < 1e-4, "max diff {diff}");
        assert_eq!(net.forward(&ids).unwrap().dims(), &[2, 2]);
    }

    #[test]
    fn save_and_load_round_trip() {
        let cfg = tiny_config(16);
        let dev = Device::Cpu;
        let a = OmicsNet::random(&cfg, 3, Pooling::MeanMax, None, &[], 1, &dev).unwrap();
        let mut b = OmicsNet::random(&cfg, 3, Pooling::MeanMax, None, &[], 2, &dev).unwrap();
        let dir = std::env::temp_dir().join(format!("omics-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("w.safetensors");
        a.save(&file).unwrap();
        b.load_weights(&file).unwrap();
        let ids = Tensor::from_vec(vec![7u32; 16], (1, 16), &dev).unwrap();
        let (ya, yb) = (a.forward(&ids).unwrap(), b.forward(&ids).unwrap());
        assert_eq!(ya.to_vec2::<f32>().unwrap(), yb.to_vec2::<f32>().unwrap());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A model with a convolutional stem: the saved weights run through
    /// [`crate::omics::OmicsPredictor`] (what `predict_omics` uses) give the training
    /// path's outputs.
    #[test]
    fn stem_model_saved_and_served_matches_training_path() {
        use crate::omics::{OmicsPredictor, OmicsSpec, OmicsTrack, StemSpec, TrackKind};
        let stem = StemSpec { kernel: 5, pool: 4, channels: 6, activation: crate::omics::StemActivation::Relu };
        let track = |kind| OmicsTrack {
            name: "t".into(),
            column: "t".into(),
            assay: "ATAC-seq".into(),
            target: None,
            tissue: "liver".into(),
            kind,
        };
        let spec = OmicsSpec {
            assembly: "a".into(),
            window_set: "w".into(),
            window_bp: 30,
            flank_bp: 0,
            tracks: vec![track(TrackKind::Signal), track(TrackKind::Peaks)],
            rc_average: false,
            pooling: Pooling::MeanMax,
            stem: Some(stem),
            bin_bp: None,
            bin_context: 0,
            impute: None,
        };
        let cfg = tiny_config(spec.trunk_len()); // ⌈30 / 4⌉ = 8 positions
        let dev = Device::Cpu;
        let net = OmicsNet::random(&cfg, 2, Pooling::MeanMax, Some(stem), &[0.1, -0.2], 5, &dev).unwrap();
        let dir = std::env::temp_dir().join(format!("omics-stem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        net.save(&dir.join("model.safetensors")).unwrap();
        std::fs::write(dir.join("config.json"), spec.config_json(&cfg).to_string()).unwrap();
        let served = OmicsPredictor::load(&dir, &dev).unwrap();
        let ids: Vec<u32> = (0..2 * 30).map(|i| 7 + ((i * 5 + i / 7) % 5) as u32).collect(); // includes N (11)
        let ids = Tensor::from_vec(ids, (2, 30), &dev).unwrap();
        let a = net.forward(&ids).unwrap().to_vec2::<f32>().unwrap();
        let b = served.forward_raw(&ids, false).unwrap().to_vec2::<f32>().unwrap();
        for (ra, rb) in a.iter().zip(&b) {
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() < 1e-4, "{a:?} vs {b:?}");
            }
        }
        // The blocks start as the identity (zero-initialised residual outputs), yet the
        // weights differ per window: the stem features reach the head.
        assert!((a[0][0] - a[1][0]).abs() > 1e-6, "{a:?}");
        // Too long an input is refused with the limit in bases.
        let long = Tensor::from_vec(vec![7u32; 40], (1, 40), &dev).unwrap();
        assert!(matches!(net.forward(&long), Err(ModelError::SequenceTooLong { len: 40, l_max: 32 })));
        std::fs::remove_dir_all(&dir).ok();
    }
}
