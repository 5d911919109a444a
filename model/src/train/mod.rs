//! Training and evaluation of omics models on CPU (or any candle device).
//!
//! * [`dataset`]: windows as token ids plus encoded targets ([`Dataset`]).
//! * [`trainer`]: the AdamW loop with per-epoch checkpoints, resume and early stopping.
//! * [`ema`]: an exponential moving average of the weights (validated and kept).
//! * [`metrics`]: Pearson r, AUROC, AUPRC, and per-track evaluation.
//! * [`baseline`]: the k-mer count baseline (ridge for signal, L2 logistic regression for
//!   peaks), solved by hand on small dense matrices (Cholesky / Newton).

pub mod baseline;
pub mod dataset;
pub mod ema;
pub mod metrics;
pub mod trainer;

#[cfg(test)]
mod acceptance;

pub use dataset::Dataset;
pub use metrics::{TrackMetrics, evaluate_tracks};
pub use trainer::{EpochReport, LrSchedule, TrainOptions, TrainReport, train, train_observed};
