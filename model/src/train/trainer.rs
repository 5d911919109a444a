//! The training loop: AdamW over shuffled mini-batches, validation after every epoch,
//! a checkpoint after every epoch (weights + loop state, so an interrupted run resumes),
//! early stopping on the validation loss, and the best epoch's weights restored at the end.
//!
//! Deterministic on CPU for a seed: initialisation, the per-epoch shuffle
//! (`seed + epoch`) and every kernel are deterministic. A resumed run restarts the AdamW
//! moments from zero at the resumed epoch (they are not checkpointed), so it is
//! reproducible but not bit-identical to an uninterrupted one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use super::ema::WeightAverage;
use crate::ModelError;
use crate::omics::OmicsNet;
use crate::omics::bins::aggregate;
use crate::omics::impute::training_mask;
use crate::omics::loss::{kind_masks, masked_multitask_loss, multitask_loss};
use crate::omics::spec::OmicsSpec;

/// Hyper-parameters and bookkeeping of one run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Windows per optimiser step.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Seed of the shuffles.
    pub seed: u64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Where per-epoch checkpoints go (`last.safetensors`, `best.safetensors`, `state.json`).
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint_dir` if there is one.
    pub resume: bool,
    /// Reverse-complement a seeded random half of each batch (augmentation: the same
    /// element on the other strand has the same activity).
    pub rc_augment: bool,
    /// Learning-rate schedule over the run's steps.
    pub schedule: LrSchedule,
    /// Shift augmentation: move each training example by a seeded random offset of up to
    /// this many bases either way, borrowing tokens (and bins) from the neighbouring
    /// window ([`Dataset::shifted_example`]). With per-bin targets the offset is a whole
    /// number of bins and the bin targets move with it, so the model sees each element at
    /// many places in its input; without bins the window targets are kept, so keep it a
    /// small jitter. 0: off.
    pub shift_augment: usize,
    /// Weight averaging: validate, checkpoint and keep an exponential moving average of
    /// the weights with this decay per step (e.g. 0.99) instead of the raw weights
    /// ([`super::ema::WeightAverage`]). 0: off.
    pub ema_decay: f64,
    /// Wall-clock budget of this call. After a short probe of the step rate the run plans
    /// what fits ([`plan_for_budget`]): all `epochs` if they fit, else as many whole
    /// epochs as fit (at least [`MIN_BUDGET_EPOCHS`]), else [`MIN_BUDGET_EPOCHS`] epochs of
    /// a seeded sample of the batches each, so validation and the best checkpoint come
    /// often enough; the learning-rate schedule spans the planned steps. When the budget
    /// ends mid-epoch, the epoch ends there, is validated, and the run stops with the best
    /// validation checkpoint. `None`: no limit.
    pub time_budget: Option<Duration>,
}

/// Fewest epochs (validations) a budgeted run plans for.
pub const MIN_BUDGET_EPOCHS: usize = 6;

/// Optimiser steps timed before a budgeted run plans (after one untimed warm-up step).
const PROBE_STEPS: usize = 12;

/// A budgeted run's plan: epochs and optimiser steps per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetPlan {
    /// Epochs planned.
    pub epochs: usize,
    /// Steps per epoch (all of the training set's batches, or a sample of them).
    pub steps_per_epoch: usize,
}

/// What fits in `seconds_left` at `seconds_per_step`, for at most `max_epochs` epochs of
/// `full_steps` steps, each followed by a validation pass over `valid_windows` (a
/// forward pass only: costed at a third of a training step per window).
pub fn plan_for_budget(
    seconds_left: f64,
    seconds_per_step: f64,
    full_steps: usize,
    batch: usize,
    valid_windows: usize,
    max_epochs: usize,
) -> BudgetPlan {
    let per_step = seconds_per_step.max(1e-9);
    let valid_s = valid_windows as f64 / batch.max(1) as f64 * per_step / 3.0;
    let per_epoch = full_steps as f64 * per_step + valid_s;
    let fit = (seconds_left.max(0.0) / per_epoch).floor() as usize;
    if fit >= max_epochs {
        return BudgetPlan { epochs: max_epochs, steps_per_epoch: full_steps };
    }
    if fit >= MIN_BUDGET_EPOCHS {
        return BudgetPlan { epochs: fit, steps_per_epoch: full_steps };
    }
    let epochs = MIN_BUDGET_EPOCHS.min(max_epochs).max(1);
    let steps = ((seconds_left.max(0.0) / epochs as f64 - valid_s) / per_step).floor();
    BudgetPlan { epochs, steps_per_epoch: (steps.max(1.0) as usize).min(full_steps) }
}

/// How the learning rate changes over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// `lr` throughout.
    #[default]
    Constant,
    /// Linear warm-up over the first 3% of steps, then cosine decay to 5% of `lr` at
    /// the last step of the last epoch.
    Cosine,
}

impl LrSchedule {
    /// The learning rate at `step` (0-based) of `total` steps for a peak of `lr`.
    pub fn at(self, lr: f64, step: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let total = total.max(1) as f64;
                let warm = (total * 0.03).max(1.0);
                let s = step as f64;
                if s < warm {
                    return lr * (s + 1.0) / warm;
                }
                let progress = ((s - warm) / (total - warm).max(1.0)).min(1.0);
                lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
            }
        }
    }
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            lr: 2e-3,
            weight_decay: 0.01,
            seed: 0,
            patience: 3,
            checkpoint_dir: None,
            resume: false,
            rc_augment: false,
            schedule: LrSchedule::Constant,
            shift_augment: 0,
            ema_decay: 0.0,
            time_budget: None,
        }
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch number (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub valid_loss: f64,
    /// Training throughput (windows per second, forward + backward + step).
    pub windows_per_s: f64,
}

/// Progress within an epoch, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct StepProgress {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps in this epoch.
    pub steps: usize,
    /// Running mean loss of the epoch.
    pub loss: f64,
    /// Windows per second so far in this epoch.
    pub windows_per_s: f64,
}

/// Loop state saved with every checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LoopState {
    epochs: Vec<EpochReport>,
    best_epoch: usize,
    best_valid: Option<f64>,
}

/// What a run did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every epoch, in order (including ones before a resume).
    pub epochs: Vec<EpochReport>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Seconds spent in this call.
    pub seconds: f64,
    /// The plan of a run with a [`TrainOptions::time_budget`].
    #[serde(default)]
    pub budget_plan: Option<BudgetPlan>,
    /// Whether the time budget ended the run.
    #[serde(default)]
    pub stopped_by_budget: bool,
}

fn bad(what: &str, message: String) -> ModelError {
    ModelError::Config { file: PathBuf::from(what), message }
}

/// Raw outputs `[track][example]` of the network over a dataset.
pub fn predict_raw(net: &OmicsNet, data: &Dataset, batch: usize, device: &Device) -> Result<Vec<Vec<f32>>, ModelError> {
    let mut out = vec![Vec::with_capacity(data.n()); data.outputs];
    let rows: Vec<usize> = (0..data.n()).collect();
    for chunk in rows.chunks(batch.max(1)) {
        let (ids, _) = data.batch(chunk, device)?;
        let pred = net.forward(&ids)?.detach().to_vec2::<f32>()?;
        for row in pred {
            for (t, v) in row.into_iter().enumerate() {
                out[t].push(v);
            }
        }
    }
    Ok(out)
}

fn dataset_loss(net: &OmicsNet, spec: &OmicsSpec, data: &Dataset, masks: &(Tensor, Tensor), batch: usize, device: &Device) -> Result<f64, ModelError> {
    let rows: Vec<usize> = (0..data.n()).collect();
    let mut total = 0.0;
    // With imputation: the same hidden tracks in every validation pass.
    let mut hides = StdRng::seed_from_u64(0x7661_6c69_64);
    for chunk in rows.chunks(batch.max(1)) {
        let (ids, y) = data.training_batch(chunk, &[], &[], device)?;
        let loss = batch_loss(net, spec, &ids, &y, masks, &mut hides)?.detach();
        total += loss.to_scalar::<f32>()? as f64 * chunk.len() as f64;
    }
    Ok(total / data.n().max(1) as f64)
}

/// The loss of one batch (`ids`, per-bin targets `y` `[B, bins, T]`). With imputation a
/// random share of each row's tracks is observed (their window values, from the possibly
/// shifted bins; [`training_mask`]) and only the hidden ones are scored.
fn batch_loss(
    net: &OmicsNet,
    spec: &OmicsSpec,
    ids: &Tensor,
    y: &Tensor,
    masks: &(Tensor, Tensor),
    hides: &mut StdRng,
) -> Result<Tensor, ModelError> {
    let Some(imp) = net.impute_spec().copied() else {
        return Ok(multitask_loss(&net.forward_bins(ids)?, y, &masks.0, &masks.1)?);
    };
    let (rows, _, tracks) = y.dims3()?;
    let shown = training_mask(&imp, rows, tracks, hides);
    let shown = Tensor::from_vec(shown, (rows, tracks), y.device())?;
    let values = aggregate(y, &spec.peak_mask())?;
    let observed = Tensor::cat(&[(values * &shown)?, shown.clone()], 1)?;
    let hidden = shown.affine(-1.0, 1.0)?.unsqueeze(1)?;
    let pred = net.forward_bins_observed(ids, Some(&observed))?;
    Ok(masked_multitask_loss(&pred, y, &masks.0, &masks.1, &hidden)?)
}

fn save_state(dir: &Path, state: &LoopState) -> Result<(), ModelError> {
    let file = dir.join("state.json");
    let tmp = dir.join("state.json.tmp");
    let text = serde_json::to_string_pretty(state).map_err(|e| bad("state.json", e.to_string()))?;
    std::fs::write(&tmp, text).map_err(|source| ModelError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, &file).map_err(|source| ModelError::Io { path: file, source })
}

/// Saves weights atomically (write to a temporary file, then rename).
fn save_weights(net: &OmicsNet, file: &Path) -> Result<(), ModelError> {
    let tmp = file.with_extension("safetensors.tmp");
    net.save(&tmp)?;
    std::fs::rename(&tmp, file).map_err(|source| ModelError::Io { path: file.to_path_buf(), source })
}

/// Rejects a weight-average decay outside `[0, 1)` and a shift that cannot move any
/// example: under one bin, or over one window.
fn check_regularisers(opts: &TrainOptions, train: &Dataset) -> Result<(), ModelError> {
    if !(0.0..1.0).contains(&opts.ema_decay) {
        return Err(bad("--ema-decay", format!("{} is outside [0, 1): use e.g. 0.99, or 0 for no averaging", opts.ema_decay)));
    }
    let window = train.window_len();
    let step = if train.bins > 0 { (window / train.bins).max(1) } else { 1 };
    if opts.shift_augment > 0 && (opts.shift_augment < step || opts.shift_augment > window) {
        return Err(bad(
            "--shift-augment",
            format!("{} bp cannot move a {window} bp window in steps of {step} bp: use {step} to {window} (a whole number of bins with --bin-size), or 0", opts.shift_augment),
        ));
    }
    Ok(())
}

/// Trains `net` on `train`, validating on `valid`, and leaves the best epoch's weights in
/// it. `progress` is called after every optimiser step.
pub fn train(
    net: &mut OmicsNet,
    spec: &OmicsSpec,
    train: &Dataset,
    valid: &Dataset,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(&StepProgress),
) -> Result<TrainReport, ModelError> {
    train_observed(net, spec, train, valid, opts, progress, &mut |_, _| {})
}

/// [`train`], also calling `on_epoch` with the network and the epoch's report after each
/// epoch's validation (before the checkpoint is written), e.g. to log extra metrics.
pub fn train_observed(
    net: &mut OmicsNet,
    spec: &OmicsSpec,
    train: &Dataset,
    valid: &Dataset,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(&StepProgress),
    on_epoch: &mut dyn FnMut(&OmicsNet, &EpochReport),
) -> Result<TrainReport, ModelError> {
    let started = Instant::now();
    if train.n() == 0 {
        return Err(ModelError::EmptyInput { what: "training set (no windows on the training chromosomes)".into() });
    }
    if valid.n() == 0 {
        return Err(ModelError::EmptyInput { what: "validation set (no windows on the validation chromosomes)".into() });
    }
    check_regularisers(opts, train)?;
    let device = Device::Cpu;
    let masks = kind_masks(spec, &device)?;
    let mut state = LoopState::default();
    if let Some(dir) = &opts.checkpoint_dir {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.clone(), source })?;
        let state_file = dir.join("state.json");
        if opts.resume && state_file.exists() {
            let text = std::fs::read_to_string(&state_file)
                .map_err(|source| ModelError::Io { path: state_file.clone(), source })?;
            state = serde_json::from_str(&text).map_err(|e| bad(&state_file.display().to_string(), e.to_string()))?;
            net.load_weights(&dir.join("last.safetensors"))?;
        }
    }
    let mut average = if opts.ema_decay > 0.0 { Some(WeightAverage::new(net, opts.ema_decay)?) } else { None };
    if let (Some(avg), Some(dir)) = (average.as_mut(), &opts.checkpoint_dir) {
        let file = dir.join("average.safetensors");
        if opts.resume && file.exists() && !state.epochs.is_empty() {
            avg.load(net, &file)?;
        }
    }
    let params = ParamsAdamW { lr: opts.lr, weight_decay: opts.weight_decay, ..ParamsAdamW::default() };
    let mut opt = AdamW::new(net.trainable_vars(), params)?;
    let batch = opts.batch_size.max(1);
    let mut stopped_early = false;
    let mut stopped_by_budget = false;
    let first = state.epochs.len() + 1;
    let full_steps = train.n().div_ceil(batch);
    // Without a budget: every epoch, every batch. With one: planned after the probe.
    let mut plan = BudgetPlan { epochs: opts.epochs, steps_per_epoch: full_steps };
    let mut planned: Option<BudgetPlan> = None;
    let mut probe_start: Option<Instant> = None;
    let mut probe_steps = 0usize;
    let mut epoch = first;
    while epoch <= plan.epochs {
        if state.best_valid.is_some() && epoch - state.best_epoch > opts.patience {
            stopped_early = true;
            break;
        }
        let mut rows: Vec<usize> = (0..train.n()).collect();
        rows.shuffle(&mut StdRng::seed_from_u64(opts.seed.wrapping_add(epoch as u64)));
        let mut flips = StdRng::seed_from_u64(opts.seed.wrapping_add(epoch as u64) ^ 0x7263_6175_67);
        let mut shifts = StdRng::seed_from_u64(opts.seed.wrapping_add(epoch as u64) ^ 0x7368_6966_74);
        let mut hides = StdRng::seed_from_u64(opts.seed.wrapping_add(epoch as u64) ^ 0x6869_6465);
        // Offsets are drawn in steps of one bin (binned) or one base.
        let step_bp = if train.bins > 0 { (train.window_len() / train.bins).max(1) } else { 1 };
        let max_steps = (opts.shift_augment / step_bp) as i64;
        let t0 = Instant::now();
        let (mut sum, mut seen) = (0.0, 0usize);
        let mut out_of_time = false;
        for (step, chunk) in rows.chunks(batch).enumerate() {
            if step >= plan.steps_per_epoch {
                break;
            }
            if opts.time_budget.is_some_and(|b| started.elapsed() >= b) {
                out_of_time = true;
                break;
            }
            let steps = plan.steps_per_epoch;
            // The schedule's position counts this call's epochs from the first one run.
            let done = (epoch - 1) * steps + step;
            opt.set_learning_rate(opts.schedule.at(opts.lr, done, plan.epochs * steps));
            let flip: Vec<bool> = chunk.iter().map(|_| opts.rc_augment && flips.random_bool(0.5)).collect();
            let shift: Vec<i64> = chunk
                .iter()
                .map(|_| if max_steps > 0 { shifts.random_range(-max_steps..=max_steps) * step_bp as i64 } else { 0 })
                .collect();
            let (ids, y) = train.training_batch(chunk, &flip, &shift, &device)?;
            let loss = batch_loss(net, spec, &ids, &y, &masks, &mut hides)?;
            opt.backward_step(&loss)?;
            net.refresh()?;
            if let Some(avg) = average.as_mut() {
                avg.update()?;
            }
            let value = loss.to_scalar::<f32>()? as f64;
            if !value.is_finite() {
                return Err(bad("training", format!("loss became {value} at epoch {epoch}, step {}; lower --lr", step + 1)));
            }
            sum += value * chunk.len() as f64;
            seen += chunk.len();
            if let (Some(budget), None) = (opts.time_budget, planned) {
                // One untimed warm-up step, then PROBE_STEPS timed ones (or the epoch's end).
                match probe_start {
                    None => probe_start = Some(Instant::now()),
                    Some(t) => {
                        probe_steps += 1;
                        if probe_steps >= PROBE_STEPS || step + 1 == steps {
                            let per_step = t.elapsed().as_secs_f64() / probe_steps as f64;
                            let left = budget.as_secs_f64() - started.elapsed().as_secs_f64();
                            // This epoch's steps so far belong to the planned time.
                            let for_epochs = left + (step + 1) as f64 * per_step;
                            let max_epochs = opts.epochs.saturating_sub(first - 1).max(1);
                            let p = plan_for_budget(for_epochs, per_step, full_steps, batch, valid.n(), max_epochs);
                            // Epochs of an earlier (resumed) call come before the plan's.
                            plan = BudgetPlan { epochs: first - 1 + p.epochs, steps_per_epoch: p.steps_per_epoch.max(1) };
                            planned = Some(plan);
                        }
                    }
                }
            }
            progress(&StepProgress {
                epoch,
                step: step + 1,
                steps: plan.steps_per_epoch,
                loss: sum / seen as f64,
                windows_per_s: seen as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            });
        }
        if seen == 0 {
            // The budget ended before this epoch's first step.
            stopped_by_budget = true;
            break;
        }
        let windows_per_s = seen as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        // Validation, the epoch hook and the best checkpoint see the averaged weights.
        if let Some(avg) = average.as_mut() {
            avg.swap(net)?;
        }
        let valid_loss = dataset_loss(net, spec, valid, &masks, batch * 4, &device)?;
        state.epochs.push(EpochReport { epoch, train_loss: sum / seen as f64, valid_loss, windows_per_s });
        if let Some(report) = state.epochs.last() {
            on_epoch(net, report);
        }
        let improved = state.best_valid.is_none_or(|b| valid_loss < b);
        if improved {
            state.best_valid = Some(valid_loss);
            state.best_epoch = epoch;
        }
        if let Some(dir) = &opts.checkpoint_dir {
            if improved {
                save_weights(net, &dir.join("best.safetensors"))?;
            }
            if average.is_some() {
                save_weights(net, &dir.join("average.safetensors"))?;
            }
        }
        if let Some(avg) = average.as_mut() {
            avg.swap(net)?;
        }
        if let Some(dir) = &opts.checkpoint_dir {
            save_weights(net, &dir.join("last.safetensors"))?;
            save_state(dir, &state)?;
        }
        if out_of_time || opts.time_budget.is_some_and(|b| started.elapsed() >= b) {
            stopped_by_budget = epoch < plan.epochs || out_of_time;
            break;
        }
        epoch += 1;
    }
    match (&opts.checkpoint_dir, average.as_mut()) {
        (Some(dir), _) => {
            let best = dir.join("best.safetensors");
            if best.exists() {
                net.load_weights(&best)?;
            }
        }
        // No checkpoints: keep the last average.
        (None, Some(avg)) => avg.swap(net)?,
        (None, None) => {}
    }
    Ok(TrainReport {
        epochs: state.epochs,
        best_epoch: state.best_epoch,
        stopped_early,
        seconds: started.elapsed().as_secs_f64(),
        budget_plan: planned,
        stopped_by_budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::omics::{OmicsTrack, TrackKind};

    fn spec() -> OmicsSpec {
        let track = |name: &str, kind| OmicsTrack {
            name: name.into(),
            column: name.into(),
            assay: name.into(),
            target: None,
            tissue: "t".into(),
            kind,
        };
        OmicsSpec {
            assembly: "a".into(),
            window_set: "w".into(),
            window_bp: 24,
            flank_bp: 0,
            tracks: vec![track("sig", TrackKind::Signal), track("peak", TrackKind::Peaks)],
            rc_average: false,
            pooling: crate::omics::Pooling::MeanMax,
            stem: None,
            bin_bp: None,
            bin_context: 0,
            impute: None,
        }
    }

    /// A toy task: the target is whether the window contains the motif GGGG.
    fn toy_data(n: usize, seed: u64) -> Dataset {
        use rand::Rng;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut data = Dataset::new(24, 2);
        for i in 0..n {
            let mut ids: Vec<u32> = (0..24).map(|_| rng.random_range(7..=10)).collect();
            let has = i % 2 == 0;
            if has {
                let at = rng.random_range(0..20);
                ids[at..at + 4].copy_from_slice(&[9, 9, 9, 9]);
            }
            let y = if has { 1.0 } else { 0.0 };
            data.push(&ids, &[(1.0f32 + 3.0 * y).ln(), y]).unwrap();
        }
        data
    }

    fn tiny_cfg() -> Config {
        Config::from_json_str(
            r#"{"d_model":16,"n_layer":1,"d_inner":32,"vocab_size":12,"max_seq_len":24,"filter_order":16}"#,
            Path::new("tiny.json"),
        )
        .unwrap()
    }

    /// Trains a fresh tiny network; returns the report, the validation predictions and
    /// the validation loss of the weights the network ends with.
    fn run_toy(opts: &TrainOptions, train_set: &Dataset, valid_set: &Dataset) -> (TrainReport, Vec<Vec<f32>>, f64) {
        let mut net = OmicsNet::random(&tiny_cfg(), 2, crate::omics::Pooling::MeanMax, None, &[0.0, 0.0], 4, &Device::Cpu).unwrap();
        let report = train(&mut net, &spec(), train_set, valid_set, opts, &mut |_| {}).unwrap();
        let masks = kind_masks(&spec(), &Device::Cpu).unwrap();
        let kept = dataset_loss(&net, &spec(), valid_set, &masks, opts.batch_size * 4, &Device::Cpu).unwrap();
        (report, predict_raw(&net, valid_set, 8, &Device::Cpu).unwrap(), kept)
    }

    #[test]
    fn loss_decreases_and_runs_are_deterministic_and_resumable() {
        let (train_set, valid_set) = (toy_data(64, 1), toy_data(32, 2));
        let dir = std::env::temp_dir().join(format!("omics-train-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let opts = TrainOptions { epochs: 4, batch_size: 16, lr: 5e-3, seed: 9, checkpoint_dir: Some(dir.clone()), ..Default::default() };
        let run = |opts: &TrainOptions| {
            let (report, pred, _) = run_toy(opts, &train_set, &valid_set);
            (report, pred)
        };
        let (a, pa) = run(&opts);
        assert!(a.epochs.last().unwrap().train_loss < a.epochs[0].train_loss * 0.9, "{:?}", a.epochs);
        std::fs::remove_dir_all(&dir).ok();
        let (b, pb) = run(&opts);
        let losses = |r: &TrainReport| r.epochs.iter().map(|e| (e.train_loss, e.valid_loss)).collect::<Vec<_>>();
        assert_eq!(losses(&a), losses(&b));
        assert_eq!(pa, pb);
        // Resume after the 4 epochs: two more epochs continue the same history.
        let more = TrainOptions { epochs: 6, resume: true, patience: 100, ..opts.clone() };
        let (c, _) = run(&more);
        assert_eq!(c.epochs.len(), 6);
        assert_eq!(losses(&c)[..4], losses(&a)[..]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_budget_plans_whole_epochs_or_samples_of_batches() {
        // 10 s a step, 100 steps an epoch, validation 320 windows at batch 32: 33.3 s.
        let p = |left: f64, max| plan_for_budget(left, 10.0, 100, 32, 320, max);
        assert_eq!(p(1e9, 12), BudgetPlan { epochs: 12, steps_per_epoch: 100 });
        // 8 whole epochs fit in 8.5 epochs' time.
        assert_eq!(p(8.5 * 1033.4, 12), BudgetPlan { epochs: 8, steps_per_epoch: 100 });
        // Under MIN_BUDGET_EPOCHS whole epochs: that many epochs of sampled batches.
        let short = p(3000.0, 12);
        assert_eq!(short.epochs, MIN_BUDGET_EPOCHS);
        assert_eq!(short.steps_per_epoch, 46); // (3000 / 6 - 33.3) / 10
        // Never zero steps; never more epochs than asked.
        assert_eq!(p(0.0, 12).steps_per_epoch, 1);
        assert_eq!(p(100.0, 2).epochs, 2);
    }

    #[test]
    fn a_run_stops_when_its_budget_ends_and_keeps_the_best_checkpoint() {
        let (train_set, valid_set) = (toy_data(256, 1), toy_data(32, 2));
        let dir = std::env::temp_dir().join(format!("omics-train-budget-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        // First, how long one epoch takes here.
        let one = TrainOptions { epochs: 1, batch_size: 8, lr: 5e-3, seed: 9, ..Default::default() };
        let (timed, _, _) = run_toy(&one, &train_set, &valid_set);
        let epoch_s = timed.seconds;
        // A budget of about 2.5 epochs for a run asking for 1000: the plan is
        // MIN_BUDGET_EPOCHS epochs of sampled batches, and the run ends near the budget.
        let budget = Duration::from_secs_f64(epoch_s * 2.5);
        let opts = TrainOptions {
            epochs: 1000,
            patience: 1000,
            time_budget: Some(budget),
            checkpoint_dir: Some(dir.clone()),
            ..one.clone()
        };
        let (report, _, kept) = run_toy(&opts, &train_set, &valid_set);
        let plan = report.budget_plan.expect("a budgeted run has a plan");
        assert_eq!(plan.epochs, MIN_BUDGET_EPOCHS, "{plan:?}");
        assert!(plan.steps_per_epoch < train_set.n().div_ceil(8), "{plan:?}");
        assert!(report.epochs.len() <= MIN_BUDGET_EPOCHS, "{:?}", report.epochs);
        assert!(report.seconds < budget.as_secs_f64() + 2.0 * epoch_s, "{} s for a {budget:?} budget", report.seconds);
        // The weights kept are the best validated epoch's.
        let best = report.epochs[report.best_epoch - 1].valid_loss;
        assert!((kept - best).abs() < 1e-6, "{kept} vs {:?}", report.epochs);
        assert!(report.epochs.iter().all(|e| e.valid_loss >= best));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_regularisers_are_clear_errors() {
        let (train_set, valid_set) = (toy_data(16, 1), toy_data(8, 2));
        let mut net = OmicsNet::random(&tiny_cfg(), 2, crate::omics::Pooling::MeanMax, None, &[0.0, 0.0], 4, &Device::Cpu).unwrap();
        for (opts, says) in [
            (TrainOptions { ema_decay: 1.0, ..Default::default() }, "--ema-decay"),
            (TrainOptions { ema_decay: f64::NAN, ..Default::default() }, "--ema-decay"),
            (TrainOptions { shift_augment: 25, ..Default::default() }, "--shift-augment"),
        ] {
            let err = train(&mut net, &spec(), &train_set, &valid_set, &opts, &mut |_| {}).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn weight_averaging_is_what_is_validated_kept_and_resumed() {
        let (train_set, valid_set) = (toy_data(64, 1), toy_data(32, 2));
        let dir = std::env::temp_dir().join(format!("omics-train-ema-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let opts = TrainOptions {
            epochs: 4,
            batch_size: 16,
            lr: 5e-3,
            seed: 9,
            patience: 100,
            ema_decay: 0.9,
            checkpoint_dir: Some(dir.clone()),
            ..Default::default()
        };
        let (a, pa, kept) = run_toy(&opts, &train_set, &valid_set);
        // The kept weights are the best epoch's average, whose validation loss was reported.
        assert!((kept - a.epochs[a.best_epoch - 1].valid_loss).abs() < 1e-6, "{kept} vs {:?}", a.epochs);
        assert!(dir.join("average.safetensors").exists());
        // Averaging changes the result (the raw weights are not what is kept).
        std::fs::remove_dir_all(&dir).ok();
        let (_, raw, _) = run_toy(&TrainOptions { ema_decay: 0.0, ..opts.clone() }, &train_set, &valid_set);
        assert_ne!(pa, raw);
        // A resumed run continues the averaged history.
        std::fs::remove_dir_all(&dir).ok();
        run_toy(&TrainOptions { epochs: 2, ..opts.clone() }, &train_set, &valid_set);
        let (c, _, _) = run_toy(&TrainOptions { resume: true, ..opts.clone() }, &train_set, &valid_set);
        assert_eq!(c.epochs.len(), 4);
        let losses = |r: &TrainReport| r.epochs.iter().map(|e| (e.train_loss, e.valid_loss)).collect::<Vec<_>>();
        assert_eq!(losses(&c)[..2], losses(&a)[..2]);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Sequences carry nothing here; the peak track is whether the signal is high. Only
    /// with the signal observed can the peak be predicted, and the saved model served
    /// through [`crate::omics::OmicsPredictor`] gives the training path's outputs.
    #[test]
    fn imputation_predicts_a_hidden_track_from_the_observed_one() {
        use crate::omics::impute::{ImputeSpec, observed_input};
        use crate::train::metrics::auroc;
        let data = |n: usize, seed: u64| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut data = Dataset::new(24, 2);
            for _ in 0..n {
                let ids: Vec<u32> = (0..24).map(|_| rng.random_range(7..=10)).collect();
                let v: f32 = rng.random_range(0.0..4.0);
                data.push(&ids, &[v.ln_1p(), f32::from(v > 2.0)]).unwrap();
            }
            data
        };
        let (train_set, valid_set) = (data(160, 1), data(96, 2));
        let imp = ImputeSpec { hidden: 16, ..Default::default() };
        let mut spec = spec();
        spec.impute = Some(imp);
        let net = OmicsNet::random(&tiny_cfg(), 2, crate::omics::Pooling::MeanMax, None, &[0.0, 0.0], 4, &Device::Cpu).unwrap();
        let mut net = net.with_impute(imp, 4).unwrap();
        let opts = TrainOptions { epochs: 6, batch_size: 16, lr: 1e-2, seed: 3, patience: 100, ..Default::default() };
        train(&mut net, &spec, &train_set, &valid_set, &opts, &mut |_| {}).unwrap();
        let rows: Vec<usize> = (0..valid_set.n()).collect();
        let (ids, _) = valid_set.batch(&rows, &Device::Cpu).unwrap();
        let seen: Vec<Vec<Option<f32>>> = rows.iter().map(|&i| vec![Some(valid_set.targets[i * 2]), None]).collect();
        let observed = observed_input(&seen, 2, &Device::Cpu).unwrap();
        let column = |t: &Tensor| t.to_vec2::<f32>().unwrap().iter().map(|r| r[1]).collect::<Vec<f32>>();
        let with = column(&net.forward_observed(&ids, Some(&observed)).unwrap());
        let without = column(&net.forward(&ids).unwrap());
        let labels = valid_set.target_column(1);
        let (a_with, a_without) = (auroc(&with, &labels).unwrap(), auroc(&without, &labels).unwrap());
        assert!(a_with > 0.95 && a_without < 0.75, "AUROC with the signal observed {a_with}, sequence only {a_without}");
        // Saved and served: the same outputs with the same observations.
        let dir = std::env::temp_dir().join(format!("omics-impute-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        net.save(&dir.join("model.safetensors")).unwrap();
        std::fs::write(dir.join("config.json"), spec.config_json(net.config()).to_string()).unwrap();
        let served = crate::omics::OmicsPredictor::load(&dir, &Device::Cpu).unwrap();
        let head = &served.head;
        let out = head.forward_raw_observed(&served.backbone, &ids, Some(&observed), false).unwrap();
        for (x, y) in column(&out).iter().zip(&with) {
            assert!((x - y).abs() < 1e-4, "served {x} vs trained {y}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
