//! `omicsdb train`: train a Hyena omics model on the database's windows and tracks,
//! evaluate it on held-out chromosomes beside a k-mer baseline, and register it.

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use omicsdb::Database;
use std::time::Duration;

use omicsdb::train::{ImputeSpec, LrSchedule, Pooling, Preset, SettingChoice, SettingSource, StemActivation, TrainEvent, TrainRequest, resolve, train_omics};
use omicsdb_storage::models::ModelMeta;

/// Arguments of `omicsdb train`. Every tuning option left out is chosen from the data
/// and the `--preset` (see `omicsdb::train_defaults`); `model show` lists each setting
/// with where it came from and why.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Name to register the model under (a new version if it exists).
    #[arg(long)]
    pub model: String,
    /// Start the backbone from this imported HyenaDNA model (NAME or NAME@VERSION)
    /// instead of random weights (no stem then).
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
    /// Validation chromosomes or regions for early stopping and the best checkpoint
    /// (default: a seeded tenth of the training windows).
    #[arg(long, value_delimiter = ',')]
    pub valid_chroms: Vec<String>,
    /// Groups of defaults: `fast` (5 min, narrow, at most 6 epochs), `default` (15 min,
    /// at most 12 epochs) or `thorough` (45 min, wider and deeper, at most 24 epochs).
    #[arg(long, default_value = "default", value_parser = parse_preset)]
    pub preset: Preset,
    /// Wall-clock budget of loading and training (`15m`, `900s`, `1h`; `0`: none).
    /// The epochs are planned to fit after timing the first steps; when it ends the run
    /// stops with the best validation checkpoint. Default: the preset's.
    #[arg(long, value_parser = parse_budget)]
    pub time_budget: Option<Duration>,
    /// Most epochs (default: the preset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Windows per optimiser step (default 32).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// AdamW learning rate (the peak, with `--lr-schedule cosine`; default 5e-3).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule: `cosine` (3% linear warm-up, then cosine decay to 5% of
    /// `--lr` over the planned steps; the default) or `constant`.
    #[arg(long, value_parser = parse_schedule)]
    pub lr_schedule: Option<LrSchedule>,
    /// Seed (initialisation, split, shuffles).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs without validation improvement before stopping (default: half the epochs).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Continue an interrupted run from its last epoch checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Flanking bases added on each side of a window (default: 30% of the width).
    #[arg(long)]
    pub flank: Option<usize>,
    /// Backbone width of a randomly initialised model (default: 32 or 64 by data size).
    #[arg(long)]
    pub d_model: Option<usize>,
    /// Backbone depth of a randomly initialised model (default 2).
    #[arg(long)]
    pub n_layer: Option<usize>,
    /// Short convolution width of a randomly initialised model (HyenaDNA: 3).
    #[arg(long)]
    pub short_filter: Option<usize>,
    /// Positional features of the long filter of a randomly initialised model (odd; HyenaDNA: 5).
    #[arg(long)]
    pub filter_emb_dim: Option<usize>,
    /// At most this many windows per split (seeded subsample).
    #[arg(long)]
    pub max_windows: Option<usize>,
    /// Average forward and reverse-complement predictions at inference (default on;
    /// `--rc-average false` turns it off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub rc_average: Option<bool>,
    /// Pooling of the hidden states over a window before the head: `mean-max` (the
    /// default) or `mean`.
    #[arg(long, value_parser = parse_pooling)]
    pub pooling: Option<Pooling>,
    /// Width of the convolutional stem (bases, odd; default 19 for a randomly initialised
    /// backbone; `0`: no stem, the backbone reads tokens as HyenaDNA does): motif
    /// detectors over the one-hot DNA, max-pooled into bins of `--stem-pool` bases that
    /// the backbone then runs over. Not with `--from`.
    #[arg(long)]
    pub stem_kernel: Option<usize>,
    /// Bases per backbone position after the stem (default: 10 or the largest of 8, 5,
    /// 4, 2 dividing the bins).
    #[arg(long)]
    pub stem_pool: Option<usize>,
    /// Convolution filters (motif detectors) of the stem (default: 128, or 16 per track).
    #[arg(long)]
    pub stem_filters: Option<usize>,
    /// Nonlinearity of the stem: `relu` (max pooling, then ReLU; a fused, fast
    /// training path; the default) or `gelu`.
    #[arg(long, value_parser = parse_activation)]
    pub stem_activation: Option<StemActivation>,
    /// Seed up to this many stem filters per track from the 8-mers most enriched in the
    /// training windows' active bins (peaks, or the top 5% of a signal), so training
    /// starts from candidate motifs (default 8; 0: random filters only). Only with a stem.
    #[arg(long)]
    pub motif_seeds: Option<usize>,
    /// Per-bin outputs: predict every track in bins of this many bases inside the
    /// window and train bin against bin (the window value is the bins' mean signal or
    /// largest peak logit). Default: 100 bp (or 50, 200, ... dividing the window into at
    /// least 4 bins); `0`: window targets only. The bin targets come from a window set of
    /// this width and stride on the same assembly; when there is none, `bins<SIZE>` is
    /// created and filled from the tracks' source files.
    #[arg(long)]
    pub bin_size: Option<usize>,
    /// With bins: neighbouring bins on each side pooled into each bin's features
    /// (default 2).
    #[arg(long)]
    pub bin_context: Option<usize>,
    /// Reverse-complement a random half of every training batch (default on;
    /// `--rc-augment false` turns it off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub rc_augment: Option<bool>,
    /// Shift augmentation: move every training window by a random offset of up to this
    /// many bases either way, taking the bases (and the bin targets) from the
    /// neighbouring window. Default: 3 bins with bins on tiled windows, else 0 (off).
    #[arg(long)]
    pub shift_augment: Option<usize>,
    /// Weight averaging: validate, checkpoint and keep an exponential moving average of
    /// the weights with this decay per optimiser step (default: 0.9-0.99 from the
    /// planned steps; 0: off).
    #[arg(long)]
    pub ema_decay: Option<f64>,
    /// AdamW's decoupled weight decay (each step multiplies the weights by
    /// `1 - lr * weight_decay`). Default: chosen (see `model show`).
    #[arg(long)]
    pub weight_decay: Option<f64>,
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

fn parse_preset(text: &str) -> std::result::Result<Preset, String> {
    Preset::parse(text).ok_or_else(|| format!("unknown preset {text:?}: use fast, default or thorough"))
}

/// `90`, `90s`, `15m`, `1h`, `1h30m`; `0` for none.
fn parse_budget(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("bad time budget {text:?}: use e.g. 900s, 15m, 1h30m, or 0 for none");
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let (mut total, mut number) = (0u64, String::new());
    for ch in t.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
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
    if args.stem_kernel.is_some_and(|k| k > 0) && args.from.is_some() {
        anyhow::bail!("--stem-kernel cannot be combined with --from: a pretrained HyenaDNA backbone reads tokens (use --stem-kernel 0 or drop --from)");
    }
    let request = TrainRequest {
        model: args.model,
        from: args.from,
        window_set: Some(args.window_set),
        tracks: args.tracks,
        tissues: args.tissues,
        holdout_chroms: args.holdout_chroms,
        valid_chroms: args.valid_chroms,
        max_windows: args.max_windows,
        seed: args.seed,
        resume: args.resume,
        impute: args.impute.then(|| ImputeSpec { hidden: args.impute_hidden, ..ImputeSpec::default() }),
        note: args.note,
        preset: args.preset,
        time_budget: args.time_budget,
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        lr_schedule: args.lr_schedule,
        patience: args.patience,
        flank: args.flank,
        d_model: args.d_model,
        n_layer: args.n_layer,
        short_filter: args.short_filter,
        filter_emb_dim: args.filter_emb_dim,
        rc_average: args.rc_average,
        pooling: args.pooling,
        stem_kernel: args.stem_kernel,
        stem_pool: args.stem_pool,
        stem_filters: args.stem_filters,
        stem_activation: args.stem_activation,
        motif_seeds: args.motif_seeds,
        bin_size: args.bin_size,
        bin_context: args.bin_context,
        rc_augment: args.rc_augment,
        shift_augment: args.shift_augment,
        ema_decay: args.ema_decay,
        weight_decay: args.weight_decay,
    };
    let runtime = super::runtime()?;
    let (opts, settings) = runtime.block_on(resolve(db, &request))?;
    for c in &settings {
        eprintln!("{}", setting_line(c));
    }
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
    let out = runtime.block_on(train_omics(db, &opts, &mut on_event))?;
    bar.finish_and_clear();
    for e in &out.report.epochs {
        println!(
            "epoch {:>3}: train loss {:.4}  valid loss {:.4}  {:.1} windows/s",
            e.epoch, e.train_loss, e.valid_loss, e.windows_per_s
        );
    }
    let ended = match (out.report.stopped_early, out.report.stopped_by_budget) {
        (true, _) => " (stopped early)",
        (_, true) => " (time budget ended)",
        _ => "",
    };
    if let Some(plan) = out.report.budget_plan {
        println!("time budget plan: {} epochs of {} steps; trained {:.0} s", plan.epochs, plan.steps_per_epoch, out.report.seconds);
    }
    println!("best epoch {}{ended}; held-out inference {:.1} windows/s", out.report.best_epoch, out.eval_windows_per_s);
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

/// One line per setting: `setting = value  (chosen: why)` or `(given)`.
pub fn setting_line(c: &SettingChoice) -> String {
    match c.source {
        SettingSource::Given => format!("{:<16} = {:<10} (given)", c.setting, c.value),
        SettingSource::Chosen => format!("{:<16} = {:<10} (chosen: {})", c.setting, c.value, c.why),
    }
}

/// Prints the settings a model was trained with (`training.settings`), one line each.
pub fn print_settings(meta: &ModelMeta) {
    let Some(list) = meta.metrics.get("training").and_then(|t| t.get("settings")) else { return };
    let Ok(settings) = serde_json::from_value::<Vec<SettingChoice>>(list.clone()) else { return };
    if settings.is_empty() {
        return;
    }
    println!("settings:");
    for c in &settings {
        println!("  {}", setting_line(c));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_budget;
    use std::time::Duration;

    #[test]
    fn time_budgets_parse() {
        assert_eq!(parse_budget("900").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_budget("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_budget("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_budget("0").unwrap(), Duration::ZERO);
        for bad in ["", "15x", "m", "10m5", "-1"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }
}
