//! `omicsdb train`: train a Hyena omics model on the database's windows and tracks,
//! evaluate it on held-out chromosomes beside a k-mer baseline, and register it.

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use omicsdb::Database;
use omicsdb::train::{ImputeSpec, LrSchedule, Pooling, StemActivation, StemSpec, TrainEvent, TrainOpts, train_omics};
use omicsdb_storage::models::ModelMeta;

/// Arguments of `omicsdb train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Name to register the model under (a new version if it exists).
    #[arg(long)]
    pub model: String,
    /// Start the backbone from this imported HyenaDNA model (NAME or NAME@VERSION)
    /// instead of random weights.
    #[arg(long)]
    pub from: Option<String>,
    /// Window set to train on.
    #[arg(long, default_value = "windows")]
    pub window_set: String,
    /// Tracks to predict (comma-separated; default: every track on the window set).
    #[arg(long, value_delimiter = ',')]
    pub tracks: Vec<String>,
    /// Only the tracks of these tissues (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tissues: Vec<String>,
    /// Held-out test chromosomes or regions, comma-separated (`chr8,chr9` or
    /// `20:50000001-63025520`, no commas inside a number here); a window belongs to
    /// the region holding its centre.
    #[arg(long, value_delimiter = ',', required = true)]
    pub holdout_chroms: Vec<String>,
    /// Validation chromosomes or regions for early stopping (default: a seeded tenth
    /// of the training windows).
    #[arg(long, value_delimiter = ',')]
    pub valid_chroms: Vec<String>,
    /// Maximum epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Windows per optimiser step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// AdamW learning rate (the peak, with `--lr-schedule cosine`).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Learning-rate schedule: `cosine` (3% linear warm-up, then cosine decay to 5% of
    /// `--lr` over `--epochs`) or `constant`.
    #[arg(long, default_value = "cosine", value_parser = parse_schedule)]
    pub lr_schedule: LrSchedule,
    /// Seed (initialisation, split, shuffles).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs without validation improvement before stopping.
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Continue an interrupted run from its last epoch checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Flanking bases added on each side of a window.
    #[arg(long, default_value_t = 0)]
    pub flank: usize,
    /// Backbone width of a randomly initialised model.
    #[arg(long, default_value_t = 32)]
    pub d_model: usize,
    /// Backbone depth of a randomly initialised model.
    #[arg(long, default_value_t = 2)]
    pub n_layer: usize,
    /// Short convolution width of a randomly initialised model (HyenaDNA: 3).
    #[arg(long, default_value_t = 3)]
    pub short_filter: usize,
    /// Positional features of the long filter of a randomly initialised model (odd; HyenaDNA: 5).
    #[arg(long, default_value_t = 5)]
    pub filter_emb_dim: usize,
    /// At most this many windows per split (seeded subsample).
    #[arg(long)]
    pub max_windows: Option<usize>,
    /// Average forward and reverse-complement predictions at inference.
    #[arg(long)]
    pub rc_average: bool,
    /// Pooling of the hidden states over a window before the head: `mean`, or
    /// `mean-max` (mean and max concatenated).
    #[arg(long, default_value = "mean", value_parser = parse_pooling)]
    pub pooling: Pooling,
    /// Put a convolutional stem of this width (bases, odd; e.g. 19) in front of a
    /// randomly initialised backbone: motif detectors over the one-hot DNA, max-pooled
    /// into bins of `--stem-pool` bases that the backbone then runs over (`--stem-pool`
    /// times fewer positions). Default: no stem, the backbone reads tokens as HyenaDNA
    /// does. Not with `--from`.
    #[arg(long)]
    pub stem_kernel: Option<usize>,
    /// Bases per backbone position after the stem (max pooling).
    #[arg(long, default_value_t = 8)]
    pub stem_pool: usize,
    /// Convolution filters (motif detectors) of the stem.
    #[arg(long, default_value_t = 128)]
    pub stem_filters: usize,
    /// Nonlinearity of the stem: `relu` (max pooling, then ReLU; a fused, fast
    /// training path) or `gelu`.
    #[arg(long, default_value = "relu", value_parser = parse_activation)]
    pub stem_activation: StemActivation,
    /// Seed up to this many stem filters per track from the 8-mers most enriched in the
    /// training windows' active bins (peaks, or the top 5% of a signal), so training
    /// starts from candidate motifs instead of random filters (at most half the
    /// filters are seeded). 0: random filters only. Only with a stem.
    #[arg(long, default_value_t = 8)]
    pub motif_seeds: usize,
    /// Per-bin outputs: predict every track in bins of this many bases inside the
    /// window and train bin against bin (the window value is the bins' mean signal or
    /// largest peak logit). The bin targets come from a window set of this width and
    /// stride on the same assembly, created before the tracks were ingested. Must
    /// divide the window width, and with a stem be a multiple of `--stem-pool` (as
    /// must `--flank`).
    #[arg(long)]
    pub bin_size: Option<usize>,
    /// With `--bin-size`: neighbouring bins on each side pooled into each bin's
    /// features, so a bin at the edge of an element sees the motifs on both sides.
    #[arg(long, default_value_t = 1)]
    pub bin_context: usize,
    /// Reverse-complement a random half of every training batch (augmentation).
    #[arg(long)]
    pub rc_augment: bool,
    /// Shift augmentation: move every training window by a random offset of up to this
    /// many bases either way, taking the bases (and, with `--bin-size`, the bin targets)
    /// from the neighbouring window, so each element is seen at many places in the
    /// input. With `--bin-size` the offset is a whole number of bins; without it the
    /// window targets are kept, so keep it a small jitter (a few bases). Windows need
    /// tiled neighbours (stride = width); others are not shifted. 0: off.
    #[arg(long, default_value_t = 0)]
    pub shift_augment: usize,
    /// Weight averaging: validate, checkpoint and keep an exponential moving average of
    /// the weights with this decay per optimiser step (e.g. 0.99, a horizon of about 100
    /// steps) instead of the raw weights. 0: off.
    #[arg(long, default_value_t = 0.0)]
    pub ema_decay: f64,
    /// Imputation: the model also reads the measured values of some tracks for a window
    /// and predicts the others, so `impute_omics(region, tissue, assay)` can use what was
    /// measured. Training hides a random half of each window's tracks (every track of a
    /// quarter of the windows, which keeps the sequence-only `predict_omics` good) and
    /// scores the hidden ones; the held-out metrics gain an imputation column (each
    /// track predicted with every other track observed).
    #[arg(long)]
    pub impute: bool,
    /// With `--impute`: hidden width of the network that embeds the observed values.
    #[arg(long, default_value_t = 64)]
    pub impute_hidden: usize,
    /// Note stored with the model.
    #[arg(long, default_value = "")]
    pub note: String,
}

fn parse_schedule(text: &str) -> std::result::Result<LrSchedule, String> {
    match text.to_ascii_lowercase().as_str() {
        "cosine" => Ok(LrSchedule::Cosine),
        "constant" => Ok(LrSchedule::Constant),
        _ => Err(format!("unknown learning-rate schedule {text:?}: use cosine or constant")),
    }
}

fn parse_activation(text: &str) -> std::result::Result<StemActivation, String> {
    match text.to_ascii_lowercase().as_str() {
        "relu" => Ok(StemActivation::Relu),
        "gelu" => Ok(StemActivation::Gelu),
        _ => Err(format!("unknown stem activation {text:?}: use relu or gelu")),
    }
}

fn parse_pooling(text: &str) -> std::result::Result<Pooling, String> {
    Pooling::parse(text).ok_or_else(|| format!("unknown pooling {text:?}: use mean-max or mean"))
}

/// Runs `omicsdb train`.
pub fn run(db: &Database, args: TrainArgs) -> Result<()> {
    let stem = match (args.stem_kernel, &args.from) {
        (Some(_), Some(_)) => anyhow::bail!("--stem-kernel cannot be combined with --from: a pretrained HyenaDNA backbone reads tokens"),
        (Some(kernel), None) => {
            Some(StemSpec { kernel, pool: args.stem_pool, channels: args.stem_filters, activation: args.stem_activation })
        }
        (None, _) => None,
    };
    let opts = TrainOpts {
        model: args.model,
        from: args.from,
        window_set: args.window_set,
        tracks: args.tracks,
        tissues: args.tissues,
        holdout_chroms: args.holdout_chroms,
        valid_chroms: args.valid_chroms,
        flank_bp: args.flank,
        d_model: args.d_model,
        n_layer: args.n_layer,
        short_filter_order: args.short_filter,
        filter_emb_dim: args.filter_emb_dim,
        max_windows: args.max_windows,
        rc_average: args.rc_average,
        pooling: args.pooling,
        stem,
        bin_bp: args.bin_size,
        bin_context: args.bin_context,
        motif_seeds: if stem.is_some() { args.motif_seeds } else { 0 },
        impute: args.impute.then(|| ImputeSpec { hidden: args.impute_hidden, ..ImputeSpec::default() }),
        train: omicsdb::train::LoopOptions {
            epochs: args.epochs,
            batch_size: args.batch_size,
            lr: args.lr,
            seed: args.seed,
            patience: args.patience,
            resume: args.resume,
            rc_augment: args.rc_augment,
            shift_augment: args.shift_augment,
            ema_decay: args.ema_decay,
            schedule: args.lr_schedule,
            ..Default::default()
        },
        note: args.note,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut epoch = 0;
    // Without a terminal the bar is hidden: a log line every 30 s and at each epoch's end.
    let log_lines = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_line = std::time::Instant::now();
    let mut on_event = |e: &TrainEvent| match e {
        TrainEvent::Loaded { train, valid, test, input_len } => {
            let line = format!("windows: {train} train, {valid} valid, {test} held out; input {input_len} bp");
            if log_lines { eprintln!("{line}") } else { bar.println(line) }
        }
        TrainEvent::Step(p) => {
            if p.epoch != epoch {
                epoch = p.epoch;
                bar.set_length(p.steps as u64);
                bar.set_prefix(p.epoch.to_string());
            }
            bar.set_position(p.step as u64);
            bar.set_message(format!("loss {:.4}  {:.1} windows/s", p.loss, p.windows_per_s));
            if log_lines && (p.step == p.steps || last_line.elapsed().as_secs() >= 30) {
                last_line = std::time::Instant::now();
                eprintln!("epoch {} step {}/{}: loss {:.4}, {:.1} windows/s", p.epoch, p.step, p.steps, p.loss, p.windows_per_s);
            }
        }
        TrainEvent::Evaluating => {
            let line = "evaluating on the held-out windows";
            if log_lines { eprintln!("{line}") } else { bar.println(line) }
        }
    };
    let out = super::runtime()?.block_on(train_omics(db, &opts, &mut on_event))?;
    bar.finish_and_clear();
    for e in &out.report.epochs {
        println!(
            "epoch {:>3}: train loss {:.4}  valid loss {:.4}  {:.1} windows/s",
            e.epoch, e.train_loss, e.valid_loss, e.windows_per_s
        );
    }
    println!(
        "best epoch {}{}; held-out inference {:.1} windows/s",
        out.report.best_epoch,
        if out.report.stopped_early { " (stopped early)" } else { "" },
        out.eval_windows_per_s
    );
    print_metrics(&out.meta);
    println!("registered {} (architecture hyena_omics, sha256 {})", out.meta.label(), &out.meta.sha256[..12.min(out.meta.sha256.len())]);
    Ok(())
}

/// Prints a model's held-out metrics beside the k-mer baseline's, one line per track.
pub fn print_metrics(meta: &ModelMeta) {
    let Some(tracks) = meta.metrics.get("tracks").and_then(|t| t.as_array()) else { return };
    let f = |v: Option<&serde_json::Value>, k: &str| {
        v.and_then(|v| v.get(k)).and_then(|x| x.as_f64()).map_or("-".to_string(), |x| format!("{x:.3}"))
    };
    // Imputation columns only for models trained with --impute.
    let imputed = tracks.iter().any(|t| t.get("imputed").is_some());
    let extra = if imputed { format!("   {:>8} {:>8} {:>8}", "imp_r", "imp_roc", "imp_prc") } else { String::new() };
    println!("{:<28} {:<7} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}{extra}", "track", "kind", "pearson", "auroc", "auprc", "base_r", "base_roc", "base_prc");
    for t in tracks {
        let b = t.get("baseline");
        let i = t.get("imputed");
        let extra = if imputed { format!("   {:>8} {:>8} {:>8}", f(i, "pearson"), f(i, "auroc"), f(i, "auprc")) } else { String::new() };
        println!(
            "{:<28} {:<7} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}{extra}",
            t.get("track").and_then(|v| v.as_str()).unwrap_or("?"),
            t.get("kind").and_then(|v| v.as_str()).unwrap_or("?"),
            f(Some(t), "pearson"),
            f(Some(t), "auroc"),
            f(Some(t), "auprc"),
            f(b, "pearson"),
            f(b, "auroc"),
            f(b, "auprc"),
        );
    }
}
