//! What an omics model predicts and how its input is laid out.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::bins::BinLayout;
use super::impute::ImputeSpec;
use super::stem::StemSpec;
use crate::{Config, ModelError};

/// Signal (continuous) or peaks (binary) target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    /// Continuous per-window value; trained on `log1p(max(value, 0))` with MSE.
    Signal,
    /// Overlap with a peak; trained on `value > 0` with binary cross-entropy.
    Peaks,
}

/// How the final hidden states `[B, L, D]` of a window become the head's input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean over positions (`[B, D]`); what models saved before pooling was a setting use.
    #[default]
    Mean,
    /// Mean and max over positions, concatenated (`[B, 2D]`): the max keeps a short
    /// element (a motif, a peak summit) from being averaged away over a long window.
    MeanMax,
}

impl Pooling {
    /// Width of the pooled vector for a backbone of width `d_model`.
    pub fn width(self, d_model: usize) -> usize {
        match self {
            Pooling::Mean => d_model,
            Pooling::MeanMax => 2 * d_model,
        }
    }

    /// Pools hidden states `[B, L, D]` into `[B, width]` (differentiable).
    pub fn pool(self, hidden: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        match self {
            Pooling::Mean => hidden.mean(1),
            Pooling::MeanMax => candle_core::Tensor::cat(&[hidden.mean(1)?, hidden.max(1)?], 1),
        }
    }

    /// Parses `mean` or `mean_max` (also `mean-max`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "mean" => Some(Pooling::Mean),
            "mean_max" => Some(Pooling::MeanMax),
            _ => None,
        }
    }
}

/// One predicted track (one head output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OmicsTrack {
    /// Track name in the catalog.
    pub name: String,
    /// Window-table column the target was read from.
    pub column: String,
    /// Assay (e.g. `ATAC-seq`).
    pub assay: String,
    /// Target (e.g. `CTCF`), if any.
    #[serde(default)]
    pub target: Option<String>,
    /// Tissue or biosample.
    pub tissue: String,
    /// Signal or peaks.
    pub kind: TrackKind,
}

impl OmicsTrack {
    /// The SQL field name of this track's prediction: `assay` or `assay_target`,
    /// lowercased, non-alphanumerics as `_` (e.g. `atac_seq`, `chip_seq_ctcf`).
    pub fn field_name(&self) -> String {
        let raw = match &self.target {
            Some(t) if !t.is_empty() => format!("{}_{}", self.assay, t),
            _ => self.assay.clone(),
        };
        let mut out: String =
            raw.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        while out.contains("__") {
            out = out.replace("__", "_");
        }
        out.trim_matches('_').to_string()
    }
}

/// The omics part of an omics model's `config.json` (key `"omics"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OmicsSpec {
    /// Assembly the model was trained on.
    pub assembly: String,
    /// Window set it was trained on.
    pub window_set: String,
    /// Window width in bp (the unit of prediction).
    pub window_bp: usize,
    /// Flanking bases added on each side of a window.
    pub flank_bp: usize,
    /// Head outputs, in order.
    pub tracks: Vec<OmicsTrack>,
    /// Average the forward and reverse-complement predictions at inference.
    #[serde(default)]
    pub rc_average: bool,
    /// Pooling of the hidden states before the head.
    #[serde(default)]
    pub pooling: Pooling,
    /// Convolutional stem in front of the backbone ([`super::stem`]); `None`: the
    /// backbone embeds every token itself, as HyenaDNA does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stem: Option<StemSpec>,
    /// Per-bin outputs: bins of this many bases inside the window ([`super::bins`]);
    /// `None`: one output per window, pooled over every position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin_bp: Option<usize>,
    /// Neighbouring bins on each side pooled into each bin's features
    /// ([`BinLayout::context`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bin_context: usize,
    /// Observed track values as a further input ([`super::impute`]); `None`: sequence only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impute: Option<ImputeSpec>,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl OmicsSpec {
    /// Model input length: `window_bp + 2 · flank_bp`.
    pub fn input_len(&self) -> usize {
        self.window_bp + 2 * self.flank_bp
    }

    /// Positions the backbone runs over: the input length, or the stem's bins.
    pub fn trunk_len(&self) -> usize {
        self.stem.map_or(self.input_len(), |s| s.trunk_len(self.input_len()))
    }

    /// Where the per-bin outputs sit among the backbone positions, when the spec has
    /// bins; an error names the lengths that do not divide.
    pub fn bin_layout(&self) -> Result<Option<BinLayout>, String> {
        match self.bin_bp {
            None => Ok(None),
            Some(bin) => BinLayout::new(self.window_bp, self.flank_bp, bin, self.stem.map_or(1, |s| s.pool))
                .map(|l| Some(l.with_context(self.bin_context))),
        }
    }

    /// Per track, whether it is a peak track (the bins' aggregation, [`super::bins::aggregate`]).
    pub fn peak_mask(&self) -> Vec<bool> {
        self.tracks.iter().map(|t| t.kind == TrackKind::Peaks).collect()
    }

    /// Reads the `"omics"` object of a model's config JSON.
    pub fn from_config_json(value: &serde_json::Value, file: &Path) -> Result<Self, ModelError> {
        let omics = value.get("omics").ok_or_else(|| ModelError::Config {
            file: file.to_path_buf(),
            message: "no \"omics\" object: not a hyena_omics model".into(),
        })?;
        let spec: Self = serde_json::from_value(omics.clone())
            .map_err(|e| ModelError::Config { file: file.to_path_buf(), message: format!("omics: {e}") })?;
        spec.bin_layout().map_err(|message| ModelError::Config { file: file.to_path_buf(), message: format!("omics: {message}") })?;
        if let Some(impute) = &spec.impute {
            impute.check().map_err(|message| ModelError::Config { file: file.to_path_buf(), message: format!("omics: {message}") })?;
        }
        Ok(spec)
    }

    /// The model's `config.json`: the flat HyenaDNA config plus `"omics"`.
    pub fn config_json(&self, cfg: &Config) -> serde_json::Value {
        serde_json::json!({
            "d_model": cfg.d_model,
            "n_layer": cfg.n_layer,
            "d_inner": cfg.d_inner,
            "vocab_size": cfg.vocab_size,
            "pad_vocab_size_multiple": cfg.pad_vocab_size_multiple,
            "emb_dim": cfg.emb_dim,
            "filter_order": cfg.filter_order,
            "short_filter_order": cfg.short_filter_order,
            "hyena_order": cfg.hyena_order,
            "num_inner_mlps": cfg.num_inner_mlps,
            "activation_freq": cfg.activation_freq,
            "layer_norm_epsilon": cfg.layer_norm_epsilon,
            "max_seq_len": cfg.max_seq_len,
            "use_bias": cfg.use_bias,
            "modulation_shift": cfg.modulation_shift,
            "architecture": super::ARCHITECTURE,
            "omics": self,
        })
    }

    /// The training target of a raw window value for head output `t`.
    pub fn encode_target(&self, t: usize, value: f32) -> f32 {
        let value = if value.is_finite() { value } else { 0.0 };
        match self.tracks[t].kind {
            TrackKind::Signal => value.max(0.0).ln_1p(),
            TrackKind::Peaks => f32::from(value > 0.0),
        }
    }

    /// A head output in the track's units: `expm1` of the prediction for signal
    /// (clamped at 0), the sigmoid probability for peaks.
    pub fn decode_output(&self, t: usize, raw: f32) -> f32 {
        match self.tracks[t].kind {
            TrackKind::Signal => raw.max(0.0).exp_m1(),
            TrackKind::Peaks => 1.0 / (1.0 + (-raw).exp()),
        }
    }

    /// Head output indices of a tissue's tracks (case-insensitive), in order.
    pub fn tissue_tracks(&self, tissue: &str) -> Vec<usize> {
        (0..self.tracks.len()).filter(|&i| self.tracks[i].tissue.eq_ignore_ascii_case(tissue)).collect()
    }

    /// The distinct tissues, in head order.
    pub fn tissues(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tracks {
            if !out.contains(&t.tissue) {
                out.push(t.tissue.clone());
            }
        }
        out
    }
}

/// The model input for a window centred at `centre` on a chromosome of `chrom_len` bp:
/// `input_len` bases starting at `centre − input_len/2`, fetched with `fetch(start, end)`
/// (0-based half-open, inside the chromosome), uppercased, and padded with `N` where the
/// span runs past either chromosome end.
pub fn context_sequence<E>(
    centre: u64,
    input_len: usize,
    chrom_len: u64,
    fetch: impl FnOnce(u64, u64) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let half = (input_len / 2) as i64;
    let start = centre as i64 - half;
    let end = start + input_len as i64;
    let (fs, fe) = (start.max(0), end.min(chrom_len as i64));
    let mut out = Vec::with_capacity(input_len);
    out.extend(std::iter::repeat_n(b'N', (fs - start).max(0) as usize));
    if fe > fs {
        let mut seq = fetch(fs as u64, fe as u64)?;
        seq.make_ascii_uppercase();
        out.extend(seq);
    }
    out.resize(input_len, b'N');
    Ok(out)
}

/// Window centres covering `[start, end)`: one centred window if the region is at most
/// `window_bp` long, else tiles of `window_bp` from `start`, the last one ending at `end`.
pub fn tile_centres(start: u64, end: u64, window_bp: usize) -> Vec<u64> {
    let w = window_bp.max(1) as u64;
    let len = end.saturating_sub(start);
    if len <= w {
        return vec![start + len / 2];
    }
    let n = len.div_ceil(w);
    (0..n).map(|i| (start + i * w + w / 2).min(end - w + w / 2)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_pads_with_n_past_the_chromosome_ends() {
        let chrom = b"acgtACGTAC"; // 10 bp
        let fetch = |s: u64, e: u64| Ok::<_, ()>(chrom[s as usize..e as usize].to_vec());
        assert_eq!(context_sequence(1, 6, 10, fetch).unwrap(), b"NNACGT");
        assert_eq!(context_sequence(5, 4, 10, fetch).unwrap(), b"TACG");
        assert_eq!(context_sequence(9, 6, 10, fetch).unwrap(), b"GTACNN");
    }

    #[test]
    fn tiles_cover_the_region_and_end_at_its_end() {
        assert_eq!(tile_centres(100, 150, 100), vec![125]);
        assert_eq!(tile_centres(0, 250, 100), vec![50, 150, 200]);
        assert_eq!(tile_centres(0, 200, 100), vec![50, 150]);
    }

    #[test]
    fn field_names_and_scaling() {
        let t = |assay: &str, target: Option<&str>, kind| OmicsTrack {
            name: "x".into(),
            column: "x".into(),
            assay: assay.into(),
            target: target.map(String::from),
            tissue: "liver".into(),
            kind,
        };
        assert_eq!(t("ChIP-seq", Some("CTCF"), TrackKind::Peaks).field_name(), "chip_seq_ctcf");
        assert_eq!(t("ATAC-seq", None, TrackKind::Signal).field_name(), "atac_seq");
        let spec = OmicsSpec {
            assembly: "a".into(),
            window_set: "w".into(),
            window_bp: 10,
            flank_bp: 2,
            tracks: vec![t("s", None, TrackKind::Signal), t("p", None, TrackKind::Peaks)],
            rc_average: false,
            pooling: Pooling::Mean,
            stem: None,
            bin_bp: None,
            bin_context: 0,
            impute: None,
        };
        assert_eq!(spec.input_len(), 14);
        assert!((spec.decode_output(0, spec.encode_target(0, 3.5)) - 3.5).abs() < 1e-5);
        assert_eq!(spec.encode_target(1, 0.2), 1.0);
        assert_eq!(spec.decode_output(1, 0.0), 0.5);
        assert_eq!(spec.tissue_tracks("LIVER"), vec![0, 1]);
    }
}
