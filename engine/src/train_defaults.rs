//! Training settings chosen from the data: what `omicsdb train` uses for every setting
//! the user leaves out.
//!
//! A [`TrainRequest`] holds what was asked (every tuning setting optional); [`resolve`]
//! looks at the window set (width, stride, how many windows), its tracks (how many,
//! peaks or signal) and the [`Preset`], and fills each missing setting with the recipe
//! that makes a randomly initialised Hyena omics model learn tissue-specific elements:
//! a convolutional motif stem seeded with enriched k-mers, per-bin targets (the bin
//! window set is created and filled from the tracks when there is none), reverse-
//! complement and shift augmentation, weight averaging, a warm-up + cosine schedule,
//! reverse-complement averaging at inference, and a time budget that plans the epochs.
//! Each choice comes back as a [`SettingChoice`] with its reason, stored with the model
//! and printed by `omicsdb model show`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Database;
use crate::error::{Error as EngineError, Result};
use crate::train::{ImputeSpec, LoopOptions, LrSchedule, Pooling, StemActivation, StemSpec, TrainOpts};

/// Groups of defaults: how much time and capacity a run gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// A quick look: 5 minutes, a narrow backbone, at most 6 epochs.
    Fast,
    /// 15 minutes, at most 12 epochs.
    #[default]
    Default,
    /// 45 minutes, a wider and deeper backbone, at most 24 epochs.
    Thorough,
}

impl Preset {
    /// Parses `fast`, `default` or `thorough` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "fast" => Some(Preset::Fast),
            "default" => Some(Preset::Default),
            "thorough" => Some(Preset::Thorough),
            _ => None,
        }
    }

    /// The preset's name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Fast => "fast",
            Preset::Default => "default",
            Preset::Thorough => "thorough",
        }
    }

    /// Wall-clock budget of loading and training.
    pub fn time_budget(self) -> Duration {
        Duration::from_secs(match self {
            Preset::Fast => 5 * 60,
            Preset::Default => 15 * 60,
            Preset::Thorough => 45 * 60,
        })
    }

    /// Most epochs.
    pub fn max_epochs(self) -> usize {
        match self {
            Preset::Fast => 6,
            Preset::Default => 12,
            Preset::Thorough => 24,
        }
    }
}

/// What a user asked `omicsdb train` for. `None` (or an empty list) leaves a setting to
/// [`resolve`].
#[derive(Debug, Clone, Default)]
pub struct TrainRequest {
    /// Name to register the model under.
    pub model: String,
    /// Start the backbone from this imported HyenaDNA model (no stem then).
    pub from: Option<String>,
    /// Window set to train on (`windows` when `None`).
    pub window_set: Option<String>,
    /// Tracks (empty: every track of the window set, after `tissues`).
    pub tracks: Vec<String>,
    /// Only tracks of these tissues.
    pub tissues: Vec<String>,
    /// Held-out test chromosomes or regions (required).
    pub holdout_chroms: Vec<String>,
    /// Validation chromosomes or regions (empty: a seeded tenth of the training windows).
    pub valid_chroms: Vec<String>,
    /// At most this many windows per split.
    pub max_windows: Option<usize>,
    /// Seed.
    pub seed: u64,
    /// Continue an interrupted run.
    pub resume: bool,
    /// Imputation.
    pub impute: Option<ImputeSpec>,
    /// Catalog note.
    pub note: String,
    /// Group of defaults.
    pub preset: Preset,
    /// Budget of loading and training (`Some(Duration::ZERO)`: no limit).
    pub time_budget: Option<Duration>,
    /// Most epochs.
    pub epochs: Option<usize>,
    /// Windows per optimiser step.
    pub batch_size: Option<usize>,
    /// Peak learning rate.
    pub lr: Option<f64>,
    /// Learning-rate schedule.
    pub lr_schedule: Option<LrSchedule>,
    /// Epochs without validation improvement before stopping.
    pub patience: Option<usize>,
    /// Flanking bases on each side of a window.
    pub flank: Option<usize>,
    /// Backbone width.
    pub d_model: Option<usize>,
    /// Backbone depth.
    pub n_layer: Option<usize>,
    /// Short convolution width.
    pub short_filter: Option<usize>,
    /// Positional features of the long filter.
    pub filter_emb_dim: Option<usize>,
    /// Average both strands at inference.
    pub rc_average: Option<bool>,
    /// Pooling before the head.
    pub pooling: Option<Pooling>,
    /// Stem width in bases (0: no stem).
    pub stem_kernel: Option<usize>,
    /// Bases per backbone position after the stem.
    pub stem_pool: Option<usize>,
    /// Stem filters.
    pub stem_filters: Option<usize>,
    /// Stem nonlinearity.
    pub stem_activation: Option<StemActivation>,
    /// Seeded stem filters per track (0: none).
    pub motif_seeds: Option<usize>,
    /// Per-bin targets of this many bases (0: window targets only).
    pub bin_size: Option<usize>,
    /// Neighbouring bins pooled into each bin.
    pub bin_context: Option<usize>,
    /// Reverse-complement augmentation.
    pub rc_augment: Option<bool>,
    /// Shift augmentation in bases (0: off).
    pub shift_augment: Option<usize>,
    /// Weight-average decay (0: off).
    pub ema_decay: Option<f64>,
    /// AdamW's decoupled weight decay.
    pub weight_decay: Option<f64>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingSource {
    /// Given on the command line (or by the caller).
    Given,
    /// Chosen by [`resolve`] from the data and the preset.
    Chosen,
}

/// One setting of a run, its value and why it has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingChoice {
    /// The setting, as its `omicsdb train` option (`bin-size`).
    pub setting: String,
    /// Its value (`100`, `off`).
    pub value: String,
    /// Given or chosen.
    pub source: SettingSource,
    /// Why (for chosen settings: the rule and the data it looked at).
    pub why: String,
}

/// What [`resolve`] looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFacts {
    /// Window width (bases).
    pub width: usize,
    /// Window stride (bases).
    pub stride: usize,
    /// Windows with at most half `N` in the window set (every split).
    pub windows: usize,
    /// Tracks to train on.
    pub tracks: usize,
    /// Whether the tracks' sources can be re-read (to fill a bin window set).
    pub sources_readable: bool,
    /// Whether a bin window set of each width already holds the tracks.
    pub bin_sets: Vec<usize>,
}

/// Bin widths tried, in order of preference (decimal and power-of-two window widths).
const BIN_CANDIDATES: [usize; 12] = [100, 128, 50, 64, 200, 256, 40, 32, 25, 20, 16, 10];
/// Pools tried for the stem, largest first.
const POOL_CANDIDATES: [usize; 6] = [10, 8, 5, 4, 2, 1];

struct Chooser {
    out: Vec<SettingChoice>,
}

impl Chooser {
    /// `given` if set, else `chosen` with its reason; records the choice.
    fn pick<T: Clone>(&mut self, setting: &str, given: Option<T>, chosen: impl FnOnce() -> (T, String), show: impl Fn(&T) -> String) -> T {
        let (value, source, why) = match given {
            Some(v) => (v, SettingSource::Given, "given".to_string()),
            None => {
                let (v, why) = chosen();
                (v, SettingSource::Chosen, why)
            }
        };
        self.out.push(SettingChoice { setting: setting.into(), value: show(&value), source, why });
        value
    }
}

fn on_off(v: &bool) -> String {
    if *v { "on".into() } else { "off".into() }
}

fn round_to(value: usize, unit: usize) -> usize {
    let unit = unit.max(1);
    ((value + unit / 2) / unit).max(1) * unit
}

/// The per-bin width for a window of `width` bases: the first of `BIN_CANDIDATES` that
/// divides it into at least 4 bins, for windows of at least 200 bp.
pub fn default_bin_size(width: usize) -> Option<usize> {
    if width < 200 {
        return None;
    }
    BIN_CANDIDATES.into_iter().find(|&b| width % b == 0 && width / b >= 4)
}

/// Fills every setting `req` leaves out from `facts` and the preset (see the module docs).
pub fn choose(req: &TrainRequest, facts: &DataFacts) -> Result<(TrainOpts, Vec<SettingChoice>)> {
    let preset = req.preset;
    let mut c = Chooser { out: Vec::new() };
    c.out.push(SettingChoice {
        setting: "preset".into(),
        value: preset.name().into(),
        source: SettingSource::Given,
        why: "groups the time budget, the most epochs and the backbone size".into(),
    });
    let w = facts.width;
    let budget = c.pick(
        "time-budget",
        req.time_budget,
        || (preset.time_budget(), format!("the {} preset's budget for loading and training; the epochs are planned to fit it", preset.name())),
        |d| if d.is_zero() { "none".into() } else { format!("{} s", d.as_secs()) },
    );
    let pretrained = req.from.is_some();
    let stem_kernel = c.pick(
        "stem-kernel",
        req.stem_kernel,
        || match pretrained {
            true => (0, "--from: a pretrained HyenaDNA backbone reads tokens, so no stem".into()),
            false => (19, "a randomly initialised backbone learns motifs fastest from a convolutional stem over one-hot DNA (Basset/Enformer); 19 bp spans a TF motif with its flanks".into()),
        },
        |k| if *k == 0 { "off".into() } else { k.to_string() },
    );
    let stem_on = stem_kernel > 0;
    let bin_bp = c.pick(
        "bin-size",
        req.bin_size,
        || match default_bin_size(w) {
            Some(b) if facts.bin_sets.contains(&b) => (b, format!("per-bin targets give an element-level gradient; {b} bp divides the {w} bp windows into {} bins (the bin window set exists)", w / b)),
            Some(b) if facts.sources_readable => (b, format!("per-bin targets give an element-level gradient; {b} bp divides the {w} bp windows into {} bins (a {b} bp window set is created from the tracks' sources)", w / b)),
            Some(_) => (0, "the tracks' source files cannot be re-read to fill a bin window set, so window targets only".into()),
            None => (0, format!("{w} bp windows cannot be cut into 4 or more bins of 10-256 bp, so window targets only")),
        },
        |b| if *b == 0 { "off".into() } else { b.to_string() },
    );
    let binned = bin_bp > 0;
    if binned && w % bin_bp != 0 {
        return Err(EngineError::Other(format!("--bin-size {bin_bp} must divide the window width {w}")));
    }
    let unit = if binned { bin_bp } else { w };
    let stem_pool = c.pick(
        "stem-pool",
        req.stem_pool.filter(|_| stem_on),
        || match stem_on {
            true => {
                let p = POOL_CANDIDATES.into_iter().find(|&p| unit % p == 0).unwrap_or(1);
                (p, format!("max-pools the stem into {p} bp positions (the largest of 10, 8, 5, 4, 2 dividing the {unit} bp {}), so each Hyena block costs {p} times less", if binned { "bins" } else { "windows" }))
            }
            false => (1, "no stem".into()),
        },
        |p| p.to_string(),
    );
    let flank = c.pick(
        "flank",
        req.flank,
        || {
            let step = if binned { bin_bp } else if stem_on { stem_pool } else { 1 };
            let f = round_to((w * 3 / 10).max(100), step);
            (f, format!("context around each window: 30% of its width (at least 100 bp) on each side, a whole number of {step} bp steps"))
        },
        |f| f.to_string(),
    );
    let train_windows = facts.windows * 2 / 3;
    let small = train_windows < 2_000;
    let d_model = c.pick(
        "d-model",
        req.d_model,
        || match (preset, small) {
            (Preset::Fast, _) | (_, true) => (32, format!("{} preset / {} windows: a narrow backbone (64 from 2,000 training windows up)", preset.name(), facts.windows)),
            (Preset::Default, false) => (64, format!("{} windows: enough data for a 64-wide backbone", facts.windows)),
            (Preset::Thorough, false) => (96, "thorough preset: a 96-wide backbone".into()),
        },
        |d| d.to_string(),
    );
    let n_layer = c.pick(
        "n-layer",
        req.n_layer,
        || match preset {
            Preset::Thorough => (3, "thorough preset: 3 Hyena blocks".into()),
            _ => (2, "2 Hyena blocks over the stem's positions".into()),
        },
        |n| n.to_string(),
    );
    let short_filter = c.pick("short-filter", req.short_filter, || (3, "HyenaDNA's short convolution".into()), |n| n.to_string());
    let filter_emb_dim = c.pick("filter-emb-dim", req.filter_emb_dim, || (5, "HyenaDNA's positional features".into()), |n| n.to_string());
    let pooling = c.pick(
        "pooling",
        req.pooling,
        || (Pooling::MeanMax, "mean and max over positions: the max keeps a short strong element visible".into()),
        |p| match p {
            Pooling::Mean => "mean".into(),
            Pooling::MeanMax => "mean-max".into(),
        },
    );
    let stem_filters = c.pick(
        "stem-filters",
        req.stem_filters.filter(|_| stem_on),
        || match stem_on {
            true => {
                let n = round_to((16 * facts.tracks).max(128), 32);
                (n, format!("128, or 16 per track when more ({} tracks), so the seeded motifs fill at most half", facts.tracks))
            }
            false => (0, "no stem".into()),
        },
        |n| n.to_string(),
    );
    let stem_activation = c.pick(
        "stem-activation",
        req.stem_activation.filter(|_| stem_on),
        || (StemActivation::Relu, "ReLU after max pooling: the fused, fast training path".into()),
        |a| match a {
            StemActivation::Relu => "relu".into(),
            StemActivation::Gelu => "gelu".into(),
        },
    );
    let motif_seeds = c.pick(
        "motif-seeds",
        req.motif_seeds.filter(|_| stem_on),
        || match stem_on {
            true => (8, "the 8-mers most enriched in each track's active training bins start 8 stem filters per track, so training starts from candidate motifs".into()),
            false => (0, "no stem".into()),
        },
        |n| n.to_string(),
    );
    let bin_context = c.pick(
        "bin-context",
        req.bin_context.filter(|_| binned),
        || match binned {
            true => (2, "each bin also pools 2 bins on each side, so a bin at an element's edge sees the motifs on both sides".into()),
            false => (1, "no bins".into()),
        },
        |n| n.to_string(),
    );
    let rc_augment = c.pick(
        "rc-augment",
        req.rc_augment,
        || (true, "the tracks are unstranded: an element on the other strand is as active, so half of each batch is reverse-complemented".into()),
        on_off,
    );
    let rc_average = c.pick(
        "rc-average",
        req.rc_average,
        || (true, "unstranded tracks: predictions average both strands".into()),
        on_off,
    );
    let tiled = facts.stride == w;
    let shift_augment = c.pick(
        "shift-augment",
        req.shift_augment,
        || match (binned, tiled) {
            (true, true) => {
                let s = (3 * bin_bp).min(w / 3 / bin_bp * bin_bp).max(bin_bp);
                (s, format!("windows tile the genome: each is moved by up to {s} bp (whole bins, targets moving with them), so each element is seen at many places"))
            }
            (true, false) => (0, format!("windows overlap (stride {} < width {w}): no tiled neighbours to shift into", facts.stride)),
            (false, _) => (0, "without bins the window targets would not move with the bases".into()),
        },
        |s| s.to_string(),
    );
    let batch_size = c.pick("batch-size", req.batch_size, || (32, "32 windows a step".into()), |n| n.to_string());
    let epochs = c.pick(
        "epochs",
        req.epochs,
        || (preset.max_epochs(), format!("the {} preset's most epochs; the time budget may plan fewer", preset.name())),
        |n| n.to_string(),
    );
    let lr = c.pick(
        "lr",
        req.lr,
        || (5e-3, "AdamW peak 5e-3 under warm-up and cosine decay (stable for every stem model measured; see README)".into()),
        |v| format!("{v}"),
    );
    let schedule = c.pick(
        "lr-schedule",
        req.lr_schedule,
        || (LrSchedule::Cosine, "3% linear warm-up, then cosine decay over the planned steps".into()),
        |s| match s {
            LrSchedule::Cosine => "cosine".into(),
            LrSchedule::Constant => "constant".into(),
        },
    );
    let patience = c.pick(
        "patience",
        req.patience,
        || {
            let p = epochs.div_ceil(2).max(3);
            (p, format!("stop after {p} epochs without a better validation loss (half the most epochs); the best validation checkpoint is kept either way"))
        },
        |n| n.to_string(),
    );
    let ema_decay = c.pick(
        "ema-decay",
        req.ema_decay,
        || {
            let steps = (train_windows.max(1).div_ceil(batch_size.max(1)) * epochs) as f64;
            let horizon = (steps / 15.0).clamp(10.0, 100.0);
            let d = ((1.0 - 1.0 / horizon) * 1000.0).round() / 1000.0;
            (d, format!("validate and keep an average of the weights over the last ~{horizon:.0} steps (a fifteenth of the ~{steps:.0} planned, at most 100)"))
        },
        |v| format!("{v}"),
    );
    let weight_decay = c.pick(
        "weight-decay",
        req.weight_decay,
        || (0.01, "AdamW's usual 0.01".into()),
        |v| format!("{v}"),
    );
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(EngineError::Other(format!("--weight-decay {weight_decay} must be a finite number of at least 0")));
    }
    let stem = stem_on.then_some(StemSpec { kernel: stem_kernel, pool: stem_pool, channels: stem_filters, activation: stem_activation });
    let opts = TrainOpts {
        model: req.model.clone(),
        from: req.from.clone(),
        window_set: req.window_set.clone().unwrap_or_else(|| "windows".into()),
        tracks: req.tracks.clone(),
        tissues: req.tissues.clone(),
        holdout_chroms: req.holdout_chroms.clone(),
        valid_chroms: req.valid_chroms.clone(),
        flank_bp: flank,
        d_model,
        n_layer,
        short_filter_order: short_filter,
        filter_emb_dim,
        max_windows: req.max_windows,
        rc_average,
        pooling,
        stem,
        bin_bp: binned.then_some(bin_bp),
        bin_context,
        motif_seeds: if stem_on { motif_seeds } else { 0 },
        impute: req.impute,
        train: LoopOptions {
            epochs,
            batch_size,
            lr,
            seed: req.seed,
            patience,
            resume: req.resume,
            rc_augment,
            shift_augment,
            ema_decay,
            schedule,
            time_budget: (!budget.is_zero()).then_some(budget),
            weight_decay,
            ..Default::default()
        },
        note: req.note.clone(),
        settings: c.out.clone(),
    };
    Ok((opts, c.out))
}

/// Reads the [`DataFacts`] of `req`'s window set and tracks from the database.
pub async fn data_facts(db: &Database, req: &TrainRequest) -> Result<DataFacts> {
    let store = db.store();
    let name = req.window_set.clone().unwrap_or_else(|| "windows".into());
    let ws = store.window_set(&name)?;
    let probe = TrainOpts { tracks: req.tracks.clone(), tissues: req.tissues.clone(), ..crate::train::blank_opts(&name) };
    let tracks = crate::train::select_tracks_for(store, &ws.name, &ws.assembly, &probe)?;
    let count = format!("SELECT count(*) FROM \"{}\" WHERE n_frac <= 0.5", ws.name.replace('"', "\"\""));
    let mut windows = 0usize;
    for batch in db.sql(&count).await? {
        if batch.num_rows() > 0 {
            let col = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Int64)?;
            if let Some(v) = col.as_any().downcast_ref::<arrow::array::Int64Array>() {
                windows += v.value(0).max(0) as usize;
            }
        }
    }
    let metas = store.tracks()?;
    let chosen: Vec<_> = metas.iter().filter(|m| tracks.iter().any(|t| t.name == m.name)).collect();
    let sources_readable = chosen.iter().all(|m| std::path::Path::new(&m.source).exists());
    let bin_sets = store
        .window_sets()?
        .into_iter()
        .filter(|s| s.assembly == ws.assembly && s.width == s.stride && chosen.iter().all(|m| m.files.contains_key(&s.name)))
        .map(|s| s.width as usize)
        .collect();
    Ok(DataFacts { width: ws.width as usize, stride: ws.stride as usize, windows, tracks: tracks.len(), sources_readable, bin_sets })
}

/// [`data_facts`], then [`choose`].
pub async fn resolve(db: &Database, req: &TrainRequest) -> Result<(TrainOpts, Vec<SettingChoice>)> {
    let facts = data_facts(db, req).await?;
    choose(req, &facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(width: usize, windows: usize) -> DataFacts {
        DataFacts { width, stride: width, windows, tracks: 6, sources_readable: true, bin_sets: Vec::new() }
    }

    fn req() -> TrainRequest {
        TrainRequest { model: "m".into(), holdout_chroms: vec!["chr6".into()], ..Default::default() }
    }

    fn value<'a>(choices: &'a [SettingChoice], setting: &str) -> &'a SettingChoice {
        choices.iter().find(|c| c.setting == setting).unwrap_or_else(|| panic!("no {setting} in {choices:?}"))
    }

    #[test]
    fn the_recipe_is_the_default_for_kilobase_windows() {
        let (opts, choices) = choose(&req(), &facts(1000, 6000)).unwrap();
        let stem = opts.stem.expect("a stem");
        assert_eq!((stem.kernel, stem.pool, stem.channels), (19, 10, 128));
        assert_eq!(opts.bin_bp, Some(100));
        assert_eq!(opts.bin_context, 2);
        assert_eq!(opts.flank_bp, 300);
        assert_eq!(opts.motif_seeds, 8);
        assert_eq!((opts.d_model, opts.n_layer), (64, 2));
        assert!(opts.rc_average && opts.train.rc_augment);
        assert_eq!(opts.train.shift_augment, 300);
        assert_eq!(opts.train.schedule, LrSchedule::Cosine);
        assert_eq!(opts.train.time_budget, Some(Duration::from_secs(900)));
        assert!(opts.train.ema_decay > 0.9 && opts.train.ema_decay <= 0.99, "{}", opts.train.ema_decay);
        // Every setting has a line with a reason.
        for c in &choices {
            assert!(!c.why.is_empty() && !c.value.is_empty(), "{c:?}");
        }
        assert_eq!(value(&choices, "bin-size").source, SettingSource::Chosen);
        assert!(value(&choices, "bin-size").why.contains("created"), "{:?}", value(&choices, "bin-size"));
    }

    #[test]
    fn given_settings_win_and_are_marked_given() {
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            let e = choose(&TrainRequest { weight_decay: Some(bad), ..req() }, &facts(1000, 6000)).unwrap_err().to_string();
            assert!(e.contains("--weight-decay"), "{e}");
        }
        let r = TrainRequest { bin_size: Some(0), stem_kernel: Some(0), d_model: Some(16), time_budget: Some(Duration::ZERO), ..req() };
        let (opts, choices) = choose(&r, &facts(1000, 6000)).unwrap();
        assert_eq!(opts.bin_bp, None);
        assert!(opts.stem.is_none());
        assert_eq!(opts.motif_seeds, 0);
        assert_eq!(opts.d_model, 16);
        assert_eq!(opts.train.time_budget, None);
        assert_eq!(opts.train.shift_augment, 0, "no bins: no shift");
        assert_eq!(value(&choices, "d-model").source, SettingSource::Given);
        assert_eq!(value(&choices, "time-budget").value, "none");
    }

    #[test]
    fn the_data_shapes_the_choices() {
        // Small windows: no bins, the stem pool divides the window.
        let (opts, _) = choose(&req(), &facts(128, 500)).unwrap();
        assert_eq!(opts.bin_bp, None);
        assert_eq!(opts.stem.unwrap().pool, 8);
        assert_eq!(opts.d_model, 32, "few windows: a narrow backbone");
        assert_eq!(opts.flank_bp % 8, 0);
        // omicsdb's default 1024 bp windows: 128 bp bins, an 8 bp stem pool.
        let (opts, _) = choose(&req(), &facts(1024, 60_000)).unwrap();
        assert_eq!((opts.bin_bp, opts.stem.unwrap().pool, opts.flank_bp, opts.train.shift_augment), (Some(128), 8, 256, 256));
        // 600 bp windows: 100 bp bins; overlapping windows are not shifted.
        let mut f = facts(600, 50_000);
        f.stride = 300;
        let (opts, choices) = choose(&req(), &f).unwrap();
        assert_eq!(opts.bin_bp, Some(100));
        assert_eq!(opts.train.shift_augment, 0, "{:?}", value(&choices, "shift-augment"));
        // Tracks whose sources are gone cannot fill a bin set.
        let mut f = facts(1000, 6000);
        f.sources_readable = false;
        assert_eq!(choose(&req(), &f).unwrap().0.bin_bp, None);
        f.bin_sets = vec![100];
        assert_eq!(choose(&req(), &f).unwrap().0.bin_bp, Some(100), "an existing bin set is used");
        // Many tracks: more stem filters; --from: no stem.
        let mut f = facts(1000, 6000);
        f.tracks = 10;
        assert_eq!(choose(&req(), &f).unwrap().0.stem.unwrap().channels, 160);
        let r = TrainRequest { from: Some("hyena".into()), ..req() };
        assert!(choose(&r, &f).unwrap().0.stem.is_none());
    }

    #[test]
    fn presets_set_budget_epochs_and_size() {
        let fast = choose(&TrainRequest { preset: Preset::Fast, ..req() }, &facts(1000, 6000)).unwrap().0;
        let thorough = choose(&TrainRequest { preset: Preset::Thorough, ..req() }, &facts(1000, 6000)).unwrap().0;
        assert_eq!(fast.train.time_budget, Some(Duration::from_secs(300)));
        assert_eq!((fast.train.epochs, fast.d_model), (6, 32));
        assert_eq!(thorough.train.time_budget, Some(Duration::from_secs(2700)));
        assert_eq!((thorough.train.epochs, thorough.d_model, thorough.n_layer), (24, 96, 3));
        assert_eq!(Preset::parse("THOROUGH"), Some(Preset::Thorough));
        assert_eq!(Preset::parse("slow"), None);
    }
}
