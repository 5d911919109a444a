//! `omicsdb train`: trains a Hyena omics model on a window set's tracks, evaluates it on
//! held-out chromosomes beside the k-mer baseline, and registers it in the catalog
//! (architecture [`omicsdb_model::omics::ARCHITECTURE`], its tracks and metrics).
//!
//! Windows are read with SQL (`chrom, start, end, n_frac` and one column per track) from
//! the window set; windows with more than half `N` are skipped. Each window becomes the
//! `window_bp + 2·flank_bp` bases centred on it ([`context_sequence`], `N` past the
//! chromosome ends). Chromosomes in `holdout_chroms` are the test set, those in
//! `valid_chroms` the validation set (early stopping); without `valid_chroms` every tenth
//! training window (seeded) validates.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, Float32Array, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use candle_core::{DType, Device, Tensor};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use omicsdb_model::omics::seed;
use omicsdb_model::omics::spec::context_sequence;
use omicsdb_model::omics::{ARCHITECTURE, OmicsNet, OmicsPredictor, OmicsSpec, OmicsTrack, TrackKind};
pub use omicsdb_model::omics::{ImputeSpec, Pooling, StemActivation, StemSpec};
pub use omicsdb_model::train::LrSchedule;
use omicsdb_model::train::baseline::KmerBaseline;
use omicsdb_model::train::trainer::{StepProgress, TrainReport};
use omicsdb_model::train::{Dataset, TrackMetrics, TrainOptions, evaluate_tracks};
use omicsdb_model::{Config, tokenize};
use omicsdb_storage::Store;
use omicsdb_storage::region::Region;
use omicsdb_storage::meta::WindowSetMeta;
use omicsdb_storage::models::{self, ModelImport, ModelMeta};

use crate::Database;
use crate::error::{Error as EngineError, Result};

/// The training-loop options (re-exported for the CLI).
pub use omicsdb_model::train::TrainOptions as LoopOptions;
pub use crate::train_defaults::{DataFacts, Preset, SettingChoice, SettingSource, TrainRequest, choose, resolve};

/// The SQL table of per-track metrics of every omics model version.
pub const MODEL_METRICS_TABLE: &str = "model_metrics";

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainOpts {
    /// Name to register the model under (a new version if it exists).
    pub model: String,
    /// Initialise the backbone from this HyenaDNA model in the catalog (`name[@version]`).
    pub from: Option<String>,
    /// Window set to train on.
    pub window_set: String,
    /// Track names (empty: all tracks of the window set's assembly, after `tissues`).
    pub tracks: Vec<String>,
    /// Only tracks of these tissues (empty: all).
    pub tissues: Vec<String>,
    /// Test chromosomes or regions (`chr8`, `chr20:50,000,001-63,025,520`; required).
    /// A window is in a region when its centre is.
    pub holdout_chroms: Vec<String>,
    /// Validation chromosomes or regions (empty: a seeded tenth of the training windows).
    pub valid_chroms: Vec<String>,
    /// Flanking bases on each side of a window.
    pub flank_bp: usize,
    /// Backbone width for a randomly initialised model.
    pub d_model: usize,
    /// Backbone depth for a randomly initialised model.
    pub n_layer: usize,
    /// Width of the short depthwise convolution of a randomly initialised model
    /// (HyenaDNA uses 3; a wider one sees a whole TF motif in one layer).
    pub short_filter_order: usize,
    /// Positional features of the implicit long filter of a randomly initialised
    /// model (HyenaDNA uses 5; more lets the filter represent sharper shapes).
    pub filter_emb_dim: usize,
    /// At most this many training windows (seeded subsample); `None` for all.
    pub max_windows: Option<usize>,
    /// Average forward and reverse-complement predictions at inference.
    pub rc_average: bool,
    /// Pooling of the backbone's hidden states before the head.
    pub pooling: Pooling,
    /// Convolutional stem of a randomly initialised model (motif detectors and max
    /// pooling in front of the backbone); `None` feeds tokens to the backbone, as
    /// HyenaDNA does. Not with `from` (a pretrained backbone reads tokens).
    pub stem: Option<StemSpec>,
    /// Per-bin outputs of this many bases inside each window (see
    /// [`omicsdb_model::omics::bins`]); the per-bin targets are read from a window set of
    /// `bin_bp`-wide windows (stride `bin_bp`) on the same assembly that holds the tracks.
    pub bin_bp: Option<usize>,
    /// Neighbouring bins on each side pooled into each bin's features (see
    /// [`omicsdb_model::omics::bins::BinLayout::context`]).
    pub bin_context: usize,
    /// Seed up to this many stem filters per track from the k-mers most enriched in the
    /// training set's active bins ([`omicsdb_model::omics::seed`]); 0: random filters only.
    pub motif_seeds: usize,
    /// Observed track values as a further input (imputation, `impute_omics`; see
    /// [`omicsdb_model::omics::impute`]); `None`: sequence only.
    pub impute: Option<ImputeSpec>,
    /// Loop settings (epochs, batch size, lr, seed, patience, resume).
    pub train: TrainOptions,
    /// Catalog note.
    pub note: String,
    /// How each setting was chosen ([`resolve`]), stored with the model's metrics under
    /// `training.settings`; empty when the caller set every field itself.
    pub settings: Vec<SettingChoice>,
}

/// Options naming only a window set, for reading its tracks.
pub(crate) fn blank_opts(window_set: &str) -> TrainOpts {
    TrainOpts {
        model: String::new(),
        from: None,
        window_set: window_set.into(),
        tracks: Vec::new(),
        tissues: Vec::new(),
        holdout_chroms: Vec::new(),
        valid_chroms: Vec::new(),
        flank_bp: 0,
        d_model: 0,
        n_layer: 0,
        short_filter_order: 0,
        filter_emb_dim: 0,
        max_windows: None,
        rc_average: false,
        pooling: Pooling::Mean,
        stem: None,
        bin_bp: None,
        bin_context: 0,
        motif_seeds: 0,
        impute: None,
        train: TrainOptions::default(),
        note: String::new(),
        settings: Vec::new(),
    }
}

/// The tracks `opts` selects on a window set (for [`crate::train_defaults::data_facts`]).
pub(crate) fn select_tracks_for(store: &Store, window_set: &str, assembly: &str, opts: &TrainOpts) -> Result<Vec<OmicsTrack>> {
    select_tracks(store, window_set, assembly, opts)
}

/// Progress events of a training run.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Windows loaded and split.
    Loaded {
        /// Training windows.
        train: usize,
        /// Validation windows.
        valid: usize,
        /// Held-out windows.
        test: usize,
        /// Model input length.
        input_len: usize,
    },
    /// An optimiser step.
    Step(StepProgress),
    /// Evaluation started.
    Evaluating,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The registered model version.
    pub meta: ModelMeta,
    /// The loop's report.
    pub report: TrainReport,
    /// Held-out metrics of the model.
    pub model_metrics: Vec<TrackMetrics>,
    /// Held-out metrics of the k-mer baseline.
    pub baseline_metrics: Vec<TrackMetrics>,
    /// Held-out metrics of imputation (each track predicted with every other track
    /// observed), when the model was trained with [`TrainOpts::impute`]; else empty.
    pub impute_metrics: Vec<TrackMetrics>,
    /// Held-out inference throughput (windows/s, fused kernels).
    pub eval_windows_per_s: f64,
}

fn other(message: String) -> EngineError {
    EngineError::Other(message)
}

/// candle errors arrive as model errors.
fn candle(e: candle_core::Error) -> EngineError {
    EngineError::Model(omicsdb_model::ModelError::from(e))
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The tracks to train on, in catalog order.
fn select_tracks(store: &Store, window_set: &str, assembly: &str, opts: &TrainOpts) -> Result<Vec<OmicsTrack>> {
    let all: Vec<_> = store
        .tracks()?
        .into_iter()
        .filter(|t| t.assembly == assembly && t.files.contains_key(window_set) && !t.columns.is_empty())
        .collect();
    let known = || all.iter().map(|t| format!("{} ({})", t.name, t.tissue)).collect::<Vec<_>>().join(", ");
    for name in &opts.tracks {
        if !all.iter().any(|t| &t.name == name) {
            return Err(other(format!("--tracks: no track '{name}' on window set '{window_set}'; known: {}", known())));
        }
    }
    for tissue in &opts.tissues {
        if !all.iter().any(|t| t.tissue.eq_ignore_ascii_case(tissue)) {
            return Err(other(format!("--tissues: no track of tissue '{tissue}' on window set '{window_set}'; known: {}", known())));
        }
    }
    let chosen: Vec<OmicsTrack> = all
        .iter()
        .filter(|t| opts.tracks.is_empty() || opts.tracks.contains(&t.name))
        .filter(|t| opts.tissues.is_empty() || opts.tissues.iter().any(|s| s.eq_ignore_ascii_case(&t.tissue)))
        .map(|t| OmicsTrack {
            name: t.name.clone(),
            column: t.columns[0].clone(),
            assay: t.assay.clone(),
            target: t.target.clone(),
            tissue: t.tissue.clone(),
            kind: match t.kind {
                omicsdb_storage::meta::TrackKind::Signal => TrackKind::Signal,
                omicsdb_storage::meta::TrackKind::Peaks => TrackKind::Peaks,
            },
        })
        .collect();
    if chosen.is_empty() {
        return Err(other(format!("no tracks to train on for window set '{window_set}'; known: {}", known())));
    }
    Ok(chosen)
}

/// One window with its raw track values.
struct WindowRow {
    chrom: String,
    start: i64,
    end: i64,
    values: Vec<f32>,
}

/// Seeded Fisher–Yates shuffle (splitmix64), so the split needs no RNG dependency.
fn shuffle<T>(items: &mut [T], state: &mut u64) {
    for i in (1..items.len()).rev() {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

async fn read_windows(db: &Database, window_set: &str, tracks: &[OmicsTrack]) -> Result<Vec<WindowRow>> {
    let cols: Vec<String> = tracks.iter().map(|t| quote(&t.column)).collect();
    let query = format!(
        "SELECT chrom, start, \"end\", n_frac, {} FROM {} WHERE n_frac <= 0.5 ORDER BY chrom, start",
        cols.join(", "),
        quote(window_set)
    );
    let mut rows = Vec::new();
    for batch in db.sql(&query).await? {
        let chrom = cast(batch.column(0), &DataType::Utf8)?;
        let chrom = chrom.as_any().downcast_ref::<StringArray>().ok_or_else(|| other("chrom: not a string".into()))?;
        let start = cast(batch.column(1), &DataType::Int64)?;
        let start = start.as_any().downcast_ref::<Int64Array>().ok_or_else(|| other("start: not an integer".into()))?;
        let end = cast(batch.column(2), &DataType::Int64)?;
        let end = end.as_any().downcast_ref::<Int64Array>().ok_or_else(|| other("end: not an integer".into()))?;
        let mut values: Vec<Arc<dyn Array>> = Vec::new();
        let mut vals: Vec<&Float32Array> = Vec::new();
        for i in 0..tracks.len() {
            values.push(cast(batch.column(4 + i), &DataType::Float32)?);
        }
        for v in &values {
            vals.push(v.as_any().downcast_ref::<Float32Array>().ok_or_else(|| other("track column: not numeric".into()))?);
        }
        for r in 0..batch.num_rows() {
            rows.push(WindowRow {
                chrom: chrom.value(r).to_string(),
                start: start.value(r),
                end: end.value(r),
                values: vals.iter().map(|v| if v.is_null(r) { 0.0 } else { v.value(r) }).collect(),
            });
        }
    }
    Ok(rows)
}

/// Tokens of the model input centred on a window (`N` for any non-ACGT base).
fn window_tokens(store: &Store, assembly: &str, chrom: &str, centre: u64, input_len: usize) -> Result<Vec<u32>> {
    let genome = store.genome(assembly)?;
    let chrom_len = genome
        .chrom_length(chrom)
        .ok_or_else(|| other(format!("chromosome '{chrom}' is not in assembly '{assembly}'")))?;
    let mut seq = context_sequence(centre, input_len, chrom_len, |s, e| genome.sequence(chrom, s, e, false))?;
    for b in seq.iter_mut() {
        if !matches!(b, b'A' | b'C' | b'G' | b'T') {
            *b = b'N';
        }
    }
    Ok(tokenize(&seq)?)
}

/// Per chromosome, the track values of every bin of a bin window set, indexed by
/// `start / bin_bp` (`[bin][track]`, row-major).
type BinValues = HashMap<String, Vec<f32>>;

/// Reads the per-bin targets for `--bin-size`: the window set of `bin_bp`-wide windows
/// with stride `bin_bp` on `ws`'s assembly that holds every track (see [`TrainOpts::bin_bp`]).
async fn read_bins(db: &Database, ws: &WindowSetMeta, bin_bp: usize, tracks: &[OmicsTrack]) -> Result<BinValues> {
    if ws.stride % bin_bp as u64 != 0 {
        return Err(other(format!(
            "--bin-size {bin_bp}: window set '{}' has stride {}, so its windows do not start on bin boundaries; use a bin size that divides it",
            ws.name, ws.stride
        )));
    }
    let store = db.store();
    let all_tracks = store.tracks()?;
    let holds_tracks = |name: &str| {
        tracks.iter().all(|t| all_tracks.iter().any(|m| m.name == t.name && m.files.contains_key(name) && m.columns.contains(&t.column)))
    };
    let sets = store.window_sets()?;
    let found = sets
        .iter()
        .find(|s| s.assembly == ws.assembly && s.width == bin_bp as u64 && s.stride == bin_bp as u64 && holds_tracks(&s.name))
        .cloned();
    let bin_set = match found {
        Some(set) => set,
        // None yet: create one; creating a window set fills it from the tracks' sources.
        None => {
            let taken = |name: &str| sets.iter().any(|s| s.name == name);
            let name = [format!("bins{bin_bp}"), format!("{}_bins{bin_bp}", ws.assembly)]
                .into_iter()
                .find(|n| !taken(n))
                .ok_or_else(|| {
                    other(format!(
                        "--bin-size {bin_bp}: the per-bin targets need a window set of {bin_bp} bp windows (stride {bin_bp}) on assembly '{}' holding the tracks; the names bins{bin_bp} and {}_bins{bin_bp} are taken by other window sets",
                        ws.assembly, ws.assembly
                    ))
                })?;
            db.create_window_set(&ws.assembly, &name, bin_bp as u64, bin_bp as u64, false).map_err(|e| {
                other(format!("--bin-size {bin_bp}: creating the bin window set '{name}' from the tracks failed: {e}"))
            })?
        }
    };
    let cols: Vec<String> = tracks.iter().map(|t| quote(&t.column)).collect();
    let query = format!("SELECT chrom, start, {} FROM {}", cols.join(", "), quote(&bin_set.name));
    let t = tracks.len();
    let mut out: BinValues = HashMap::new();
    for batch in db.sql(&query).await? {
        let chrom = cast(batch.column(0), &DataType::Utf8)?;
        let chrom = chrom.as_any().downcast_ref::<StringArray>().ok_or_else(|| other("chrom: not a string".into()))?;
        let start = cast(batch.column(1), &DataType::Int64)?;
        let start = start.as_any().downcast_ref::<Int64Array>().ok_or_else(|| other("start: not an integer".into()))?;
        let values: Vec<Arc<dyn Array>> = (0..t).map(|i| cast(batch.column(2 + i), &DataType::Float32)).collect::<std::result::Result<_, _>>()?;
        let values: Vec<&Float32Array> = values
            .iter()
            .map(|v| v.as_any().downcast_ref::<Float32Array>().ok_or_else(|| other("bin track column: not numeric".into())))
            .collect::<Result<_>>()?;
        for r in 0..batch.num_rows() {
            let bin = (start.value(r).max(0) as usize) / bin_bp;
            let row = out.entry(chrom.value(r).to_string()).or_default();
            if row.len() < (bin + 1) * t {
                row.resize((bin + 1) * t, 0.0);
            }
            for (i, v) in values.iter().enumerate() {
                row[bin * t + i] = if v.is_null(r) { 0.0 } else { v.value(r) };
            }
        }
    }
    Ok(out)
}

fn build_dataset(store: &Store, spec: &OmicsSpec, rows: &[&WindowRow], bins: Option<&(BinValues, usize)>) -> Result<Dataset> {
    let len = spec.input_len();
    let t = spec.tracks.len();
    let mut data = Dataset::with_bins(len, t, bins.map_or(0, |b| b.1)).flanked(spec.flank_bp);
    let mut bin_targets = Vec::new();
    let mut previous: Option<&WindowRow> = None;
    for &row in rows {
        let centre = ((row.start + row.end) / 2) as u64;
        let ids = window_tokens(store, &spec.assembly, &row.chrom, centre, len)?;
        let targets: Vec<f32> = row.values.iter().enumerate().map(|(t, &v)| spec.encode_target(t, v)).collect();
        match (bins, spec.bin_bp) {
            (Some((values, count)), Some(bin_bp)) => {
                let first = row.start.max(0) as usize / bin_bp;
                let chrom = values.get(&row.chrom).map_or(&[][..], |v| v.as_slice());
                bin_targets.clear();
                for b in 0..*count {
                    for i in 0..t {
                        let raw = chrom.get((first + b) * t + i).copied().unwrap_or(0.0);
                        bin_targets.push(spec.encode_target(i, raw));
                    }
                }
                data.push_binned(&ids, &targets, &bin_targets)?;
            }
            _ => data.push(&ids, &targets)?,
        }
        // Tiled neighbours let shift augmentation borrow each other's tokens and bins.
        if previous.is_some_and(|p| p.chrom == row.chrom && p.end == row.start) {
            data.mark_continues();
        }
        previous = Some(row);
    }
    Ok(data)
}

/// Initial head bias: the mean target (signal) or the logit of the positive rate (peaks).
fn head_bias(spec: &OmicsSpec, train: &Dataset) -> Vec<f32> {
    (0..spec.tracks.len())
        .map(|t| {
            let col = train.target_column(t);
            let mean = col.iter().sum::<f32>() / col.len().max(1) as f32;
            match spec.tracks[t].kind {
                TrackKind::Signal => mean,
                TrackKind::Peaks => {
                    let p = mean.clamp(1e-3, 1.0 - 1e-3);
                    (p / (1.0 - p)).ln()
                }
            }
        })
        .collect()
}

/// The backbone to start from: a catalog HyenaDNA model, or a random one.
fn initial_net(store: &Store, opts: &TrainOpts, spec: &OmicsSpec, bias: &[f32]) -> Result<OmicsNet> {
    let device = Device::Cpu;
    let outputs = spec.tracks.len();
    let input_len = spec.input_len();
    match &opts.from {
        Some(name) => {
            let (base, version) = match name.rsplit_once('@') {
                Some((b, v)) => (b, Some(v.parse::<u32>().map_err(|_| other(format!("--from '{name}': bad version")))?)),
                None => (name.as_str(), None),
            };
            let meta = models::model(store, base, version)?;
            let dir = store.path(&meta.dir);
            let cfg = Config::from_dir(&dir)?;
            if input_len > cfg.max_seq_len {
                return Err(other(format!(
                    "--from {}: window + flanks = {input_len} bp exceeds its max_seq_len {}",
                    meta.label(),
                    cfg.max_seq_len
                )));
            }
            let weights = dir.join(&meta.weights_file);
            let state = if meta.weights_file.ends_with(".safetensors") {
                candle_core::safetensors::load(&weights, &device).map_err(candle)?
            } else {
                candle_core::pickle::read_all(&weights).map_err(candle)?.into_iter().collect::<HashMap<_, _>>()
            };
            Ok(OmicsNet::from_state(&cfg, state, outputs, opts.pooling, None, bias, opts.train.seed, &device)?)
        }
        None => {
            let d = opts.d_model.max(8);
            let json = serde_json::json!({
                "d_model": d, "n_layer": opts.n_layer.max(1), "d_inner": 4 * d, "vocab_size": 12,
                "max_seq_len": spec.trunk_len(), "filter_order": 32, "modulation_shift": 0.0,
                "short_filter_order": opts.short_filter_order.max(1),
                // Odd, at least 3: time plus sin/cos pairs.
                "emb_dim": (opts.filter_emb_dim.max(3) - 1) / 2 * 2 + 1
            });
            let cfg = Config::from_json_str(&json.to_string(), std::path::Path::new("(omicsdb train)"))?;
            Ok(OmicsNet::random(&cfg, outputs, opts.pooling, spec.stem, bias, opts.train.seed, &device)?)
        }
    }
}

/// Raw predictions `[track][example]` of a saved model over a dataset, and windows/s.
fn predict_saved(predictor: &OmicsPredictor, data: &Dataset, rc_average: bool) -> Result<(Vec<Vec<f32>>, f64)> {
    let t0 = std::time::Instant::now();
    let mut out = vec![Vec::with_capacity(data.n()); data.outputs];
    let rows: Vec<usize> = (0..data.n()).collect();
    let per_call = (16_384 / data.len.max(1)).max(1);
    for chunk in rows.chunks(per_call) {
        let (ids, _) = data.batch(chunk, &Device::Cpu).map_err(candle)?;
        let ids = ids.to_dtype(DType::U32).map_err(candle)?;
        let raw = predictor.forward_raw(&ids, rc_average)?.to_vec2::<f32>().map_err(candle)?;
        for row in raw {
            for (t, v) in row.into_iter().enumerate() {
                out[t].push(v);
            }
        }
    }
    Ok((out, data.n() as f64 / t0.elapsed().as_secs_f64().max(1e-9)))
}

fn metrics_json(ours: &[TrackMetrics], baseline: &[TrackMetrics], imputed: &[TrackMetrics]) -> serde_json::Value {
    serde_json::Value::Array(
        ours.iter()
            .zip(baseline)
            .enumerate()
            .map(|(i, (m, b))| {
                let mut v = serde_json::to_value(m).unwrap_or_default();
                v["baseline"] = serde_json::to_value(b).unwrap_or_default();
                if let Some(imp) = imputed.get(i) {
                    v["imputed"] = serde_json::to_value(imp).unwrap_or_default();
                }
                v
            })
            .collect(),
    )
}

/// Raw held-out outputs `[track][example]` of imputation: each track predicted with
/// every other track's window value observed (the leave-one-out `impute_omics` runs).
/// The backbone runs once per batch; only the head runs once per track.
fn impute_saved(predictor: &OmicsPredictor, data: &Dataset, rc_average: bool) -> Result<Vec<Vec<f32>>> {
    let head = &predictor.head;
    let t_count = data.outputs;
    let mut out = vec![Vec::with_capacity(data.n()); t_count];
    let rows: Vec<usize> = (0..data.n()).collect();
    let per_call = (16_384 / data.len.max(1)).max(1);
    for chunk in rows.chunks(per_call) {
        let (ids, _) = data.batch(chunk, &Device::Cpu).map_err(candle)?;
        let ids = ids.to_dtype(DType::U32).map_err(candle)?;
        let fwd = head.features(&predictor.backbone, &ids)?;
        let rev = match rc_average {
            true => Some(head.features(&predictor.backbone, &omicsdb_model::omics::predictor::reverse_complement_ids(&ids).map_err(candle)?)?),
            false => None,
        };
        for (t, column) in out.iter_mut().enumerate() {
            let seen: Vec<Vec<Option<f32>>> = chunk
                .iter()
                .map(|&r| (0..t_count).map(|u| (u != t).then(|| data.targets[r * t_count + u])).collect())
                .collect();
            let observed = omicsdb_model::omics::impute::observed_input(&seen, t_count, &Device::Cpu).map_err(candle)?;
            let raw = head.outputs_averaged(&fwd, rev.as_ref(), Some(&observed))?;
            column.extend(raw.to_vec2::<f32>().map_err(candle)?.into_iter().map(|row| row[t]));
        }
    }
    Ok(out)
}

/// Trains, evaluates and registers an omics model (see the module docs).
pub async fn train_omics(db: &Database, opts: &TrainOpts, progress: &mut dyn FnMut(&TrainEvent)) -> Result<TrainOutcome> {
    let started = std::time::Instant::now();
    let store = Arc::clone(db.store());
    models::check_model_name(&opts.model)?;
    if opts.holdout_chroms.is_empty() {
        return Err(other("--holdout-chroms is required: the chromosomes the model is evaluated on".into()));
    }
    let ws = store.window_set(&opts.window_set)?;
    let tracks = select_tracks(&store, &ws.name, &ws.assembly, opts)?;
    let spec = OmicsSpec {
        assembly: ws.assembly.clone(),
        window_set: ws.name.clone(),
        window_bp: ws.width as usize,
        flank_bp: opts.flank_bp,
        tracks,
        rc_average: opts.rc_average,
        pooling: opts.pooling,
        stem: opts.stem,
        bin_bp: opts.bin_bp,
        bin_context: opts.bin_context,
        impute: opts.impute,
    };
    if let Some(imp) = &opts.impute {
        imp.check().map_err(|m| other(format!("--impute: {m}")))?;
    }
    let layout = spec.bin_layout().map_err(|m| other(format!("--bin-size: {m}")))?;
    if opts.stem.is_some() && opts.from.is_some() {
        return Err(other(
            "a convolutional stem replaces the token embedding, so it cannot start from a pretrained HyenaDNA backbone (--from): drop one of them".into(),
        ));
    }
    if let Some(stem) = opts.stem {
        if stem.kernel % 2 == 0 || stem.pool == 0 || stem.channels == 0 {
            return Err(other(format!(
                "stem: the kernel must be odd and the pool and filters positive (got kernel {}, pool {}, filters {})",
                stem.kernel, stem.pool, stem.channels
            )));
        }
    }
    let rows = read_windows(db, &ws.name, &spec.tracks).await?;
    let chroms: Vec<&str> = {
        let mut c: Vec<&str> = rows.iter().map(|r| r.chrom.as_str()).collect();
        c.dedup();
        c
    };
    let regions = |list: &[String], option: &str| -> Result<Vec<Region>> {
        let mut out = Vec::with_capacity(list.len());
        for text in list {
            let r = Region::parse_or_chrom(text).map_err(|m| other(format!("{option}: {m}")))?;
            if !chroms.contains(&r.chrom.as_str()) {
                return Err(other(format!(
                    "{option}: chromosome '{}' has no windows in '{}'; chromosomes: {}",
                    r.chrom,
                    ws.name,
                    chroms.join(", ")
                )));
            }
            out.push(r);
        }
        Ok(out)
    };
    let holdout = regions(&opts.holdout_chroms, "--holdout-chroms")?;
    let valid = regions(&opts.valid_chroms, "--valid-chroms")?;
    // A window belongs to the region holding its centre, so no window is in two splits.
    let inside = |set: &[Region], r: &WindowRow| {
        let centre = (r.start.max(0) as u64 + r.end.max(0) as u64) / 2;
        set.iter().any(|g| g.contains(&r.chrom, centre))
    };
    let mut train_rows: Vec<&WindowRow> = Vec::new();
    let mut valid_rows: Vec<&WindowRow> = Vec::new();
    let mut test_rows: Vec<&WindowRow> = Vec::new();
    for r in &rows {
        if inside(&holdout, r) {
            test_rows.push(r);
        } else if inside(&valid, r) {
            valid_rows.push(r);
        } else {
            train_rows.push(r);
        }
    }
    if test_rows.is_empty() || train_rows.is_empty() {
        return Err(other(format!(
            "the split leaves {} training and {} held-out windows; both need some (--holdout-chroms {})",
            train_rows.len(),
            test_rows.len(),
            opts.holdout_chroms.join(",")
        )));
    }
    let mut rng = opts.train.seed;
    if opts.valid_chroms.is_empty() {
        shuffle(&mut train_rows, &mut rng);
        let n_valid = train_rows.len() / 10;
        valid_rows = train_rows.split_off(train_rows.len() - n_valid);
    }
    if let Some(cap) = opts.max_windows {
        for set in [&mut train_rows, &mut valid_rows, &mut test_rows] {
            if set.len() > cap {
                shuffle(set, &mut rng);
                set.truncate(cap);
            }
        }
    }
    progress(&TrainEvent::Loaded { train: train_rows.len(), valid: valid_rows.len(), test: test_rows.len(), input_len: spec.input_len() });
    let bins = match (layout, spec.bin_bp) {
        (Some(layout), Some(bin_bp)) => Some((read_bins(db, &ws, bin_bp, &spec.tracks).await?, layout.count)),
        _ => None,
    };
    let train_set = build_dataset(&store, &spec, &train_rows, bins.as_ref())?;
    let valid_set = build_dataset(&store, &spec, &valid_rows, bins.as_ref())?;
    let test_set = build_dataset(&store, &spec, &test_rows, bins.as_ref())?;

    let bias = head_bias(&spec, &train_set);
    let mut net = initial_net(&store, opts, &spec, &bias)?;
    if let Some(layout) = layout {
        net = net.with_bins(layout, spec.peak_mask())?;
    }
    if let Some(imp) = spec.impute {
        net = net.with_impute(imp, opts.train.seed)?;
    }
    let seeds = match spec.stem {
        Some(_) if opts.motif_seeds > 0 => seed::enriched_kmers(&train_set, &spec, seed::SEED_K, opts.motif_seeds),
        _ => Vec::new(),
    };
    net.seed_stem(&seeds)?;
    let mut train_opts = opts.train.clone();
    // The budget covers loading too: the loop gets what is left of it (at least a second).
    train_opts.time_budget = opts.train.time_budget.map(|b| b.saturating_sub(started.elapsed()).max(std::time::Duration::from_secs(1)));
    let ckpt: PathBuf = store.path(&format!("checkpoints/{}", opts.model));
    if !train_opts.resume {
        std::fs::remove_dir_all(&ckpt).ok();
    }
    train_opts.checkpoint_dir = Some(ckpt.clone());
    let report = omicsdb_model::train::train(&mut net, &spec, &train_set, &valid_set, &train_opts, &mut |p| progress(&TrainEvent::Step(*p)))?;

    progress(&TrainEvent::Evaluating);
    let out_dir = store.path(&format!("checkpoints/{}.export", opts.model));
    std::fs::remove_dir_all(&out_dir).ok();
    std::fs::create_dir_all(&out_dir).map_err(|e| other(format!("{}: {e}", out_dir.display())))?;
    net.save(&out_dir.join("model.safetensors"))?;
    let config = serde_json::to_string_pretty(&spec.config_json(net.config())).map_err(|e| other(e.to_string()))?;
    std::fs::write(out_dir.join("config.json"), config).map_err(|e| other(format!("{}: {e}", out_dir.display())))?;
    let predictor = OmicsPredictor::load(&out_dir, &Device::Cpu)?;
    let (pred, eval_windows_per_s) = predict_saved(&predictor, &test_set, opts.rc_average)?;
    let targets: Vec<Vec<f32>> = (0..spec.tracks.len()).map(|t| test_set.target_column(t)).collect();
    let model_metrics = evaluate_tracks(&spec, &pred, &targets);
    let baseline = KmerBaseline::fit(&spec, &train_set, opts.train.seed);
    let baseline_metrics = evaluate_tracks(&spec, &baseline.predict(&test_set), &targets);
    let impute_metrics = match spec.impute {
        Some(_) => evaluate_tracks(&spec, &impute_saved(&predictor, &test_set, opts.rc_average)?, &targets),
        None => Vec::new(),
    };

    let last_wps = report.epochs.last().map_or(0.0, |e| e.windows_per_s);
    let metrics = serde_json::json!({
        "split": {
            "holdout_chroms": opts.holdout_chroms,
            "valid_chroms": opts.valid_chroms,
            "train_windows": train_set.n(), "valid_windows": valid_set.n(), "test_windows": test_set.n(),
        },
        "training": {
            "epochs": report.epochs, "best_epoch": report.best_epoch, "stopped_early": report.stopped_early,
            "time_budget_s": opts.train.time_budget.map(|b| b.as_secs_f64()),
            "budget_plan": report.budget_plan, "stopped_by_budget": report.stopped_by_budget,
            "settings": opts.settings,
            "seconds": report.seconds, "train_windows_per_s": last_wps, "seed": opts.train.seed,
            "lr": opts.train.lr, "batch_size": opts.train.batch_size, "from": opts.from,
            "rc_augment": opts.train.rc_augment,
            "shift_augment": opts.train.shift_augment,
            "ema_decay": opts.train.ema_decay,
            "weight_decay": opts.train.weight_decay,
            "motif_seeds": seeds.iter().map(|s| serde_json::json!({
                "kmer": s.word(), "track": spec.tracks[s.track].name, "observed": s.observed, "expected": s.expected,
            })).collect::<Vec<_>>(),
        },
        "eval_windows_per_s": eval_windows_per_s,
        "baseline": format!("{}-mer frequencies + ridge (signal) / logistic regression (peaks)", omicsdb_model::train::baseline::K),
        "tracks": metrics_json(&model_metrics, &baseline_metrics, &impute_metrics),
        "impute": spec.impute,
    });
    let meta = models::import_model_with(
        &store,
        &ModelImport {
            name: &opts.model,
            src_dir: &out_dir,
            note: &opts.note,
            architecture: ARCHITECTURE,
            tracks: spec.tracks.iter().map(|t| t.name.clone()).collect(),
            metrics,
            family: None,
            extra_files: &[],
        },
    )?;
    std::fs::remove_dir_all(&out_dir).ok();
    db.refresh()?;
    Ok(TrainOutcome { meta, report, model_metrics, baseline_metrics, impute_metrics, eval_windows_per_s })
}

/// `model_metrics` rows: `model, version, track, method ('hyena_omics', 'kmer_baseline',
/// or 'hyena_omics_impute' for a model trained with imputation: the track predicted with
/// the other tracks observed), metric ('pearson', 'auroc', 'auprc'), value` for every
/// omics model.
pub fn model_metrics_batch(store: &Store) -> Result<RecordBatch> {
    let (mut model, mut version, mut track, mut method, mut metric, mut value) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for meta in models::list_models(store)? {
        let Some(tracks) = meta.metrics.get("tracks").and_then(|t| t.as_array()) else { continue };
        for t in tracks {
            let name = t.get("track").and_then(|v| v.as_str()).unwrap_or_default();
            for (m, src) in [(ARCHITECTURE, Some(t)), ("kmer_baseline", t.get("baseline")), ("hyena_omics_impute", t.get("imputed"))] {
                let Some(src) = src else { continue };
                for key in ["pearson", "auroc", "auprc"] {
                    if let Some(v) = src.get(key).and_then(|v| v.as_f64()) {
                        model.push(meta.name.clone());
                        version.push(meta.version as i64);
                        track.push(name.to_string());
                        method.push(m.to_string());
                        metric.push(key.to_string());
                        value.push(v);
                    }
                }
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("track", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(model)),
            Arc::new(Int64Array::from(version)),
            Arc::new(StringArray::from(track)),
            Arc::new(StringArray::from(method)),
            Arc::new(StringArray::from(metric)),
            Arc::new(arrow::array::Float64Array::from(value)),
        ],
    )?)
}

/// (Re-)registers the [`MODEL_METRICS_TABLE`] table on a session from the catalog.
pub fn register_model_metrics(ctx: &SessionContext, store: &Store) -> Result<()> {
    let batch = model_metrics_batch(store)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.deregister_table(MODEL_METRICS_TABLE)?;
    ctx.register_table(MODEL_METRICS_TABLE, Arc::new(table))?;
    Ok(())
}

/// Tokens for one window (exposed for `predict_omics` parity tests).
pub fn tokens_for(store: &Store, assembly: &str, chrom: &str, centre: u64, input_len: usize) -> Result<Tensor> {
    let ids = window_tokens(store, assembly, chrom, centre, input_len)?;
    Tensor::from_vec(ids, (1, input_len), &Device::Cpu).map_err(candle)
}
