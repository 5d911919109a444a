//! omicsdb model-backed SQL functions: `hyena_embed` and `hyena_loglik`,
//! run in batches over whole Arrow arrays, cached in the database.
//!
//! * [`ModelRegistry`]: resolves model names against the catalog
//!   (`name`, `name@version`, or the database's default embedding model),
//!   loads weights lazily, holds the token budget
//!   ([`ModelRegistry::set_batch_tokens`]) and the call counters
//!   ([`ModelRegistry::stats`]).
//! * [`embed`]: `hyena_embed(seq [, model [, pooling]])` →
//!   `FixedSizeList<Float32, d_model>` (mean or last-token pooling of the final
//!   hidden states; the exact positions are documented there).
//! * [`loglik`]: `hyena_loglik(seq [, model])` → Float64 causal-LM log-likelihood.
//! * [`batching`]: per Arrow batch, inputs are deduplicated, answered from the
//!   result cache ([`cache`], keyed by model sha256 and sequence sha256), and the
//!   rest grouped by length and run in micro-batches of at most
//!   `batch_tokens / length` rows (at least one).
//! * [`predict`]: `predict_omics` and `impute_omics` for trained omics models
//!   ([`observed`]: the measured track values `impute_omics` reads).
//! * [`models_table()`]: the `models` SQL table.
//! * [`variant`]: variant effects: `score_variant` (omics models: ref, alt, delta,
//!   log2 ratio per track), `variant_loglik` (language models: zero-shot
//!   log-likelihood ratio) and the `ism` table function (saturation mutagenesis).
//!
//! ```no_run
//! use std::sync::Arc;
//! use datafusion::prelude::SessionContext;
//! use omicsdb_storage::{Store, models};
//! use omicsdb_udf::{ModelRegistry, register_model_functions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(Store::open("my.omicsdb")?);
//! models::import_model(&store, "micro", "data/fixtures/hyenadna/micro".as_ref(), "random weights (test fixture)")?;
//! let ctx = SessionContext::new();
//! let registry = Arc::new(ModelRegistry::new(Arc::clone(&store))?);
//! register_model_functions(&ctx, Arc::clone(&registry));
//! let batches = ctx.sql("SELECT hyena_embed('ACGTACGT', 'micro'), hyena_loglik('ACGTACGT')").await?.collect().await?;
//! println!("{} model calls", registry.stats.model_calls());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

mod args;
pub mod batching;
pub mod cache;
pub mod embed;
pub mod error;
pub mod interrupt;
pub mod loglik;
pub mod models_table;
pub mod observed;
pub mod predict;
pub mod registry;
pub mod variant;

pub use embed::{EmbedFunc, Pooling};
pub use error::{Result, UdfError};
pub use interrupt::{StatementInterrupt, StopReason};
pub use loglik::LoglikFunc;
pub use models_table::{MODELS_TABLE, models_table};
pub use predict::PredictOmicsFunc;
pub use registry::{CallStats, DEFAULT_BATCH_TOKENS, LoadedModel, ModelRegistry};

/// The model functions over one registry.
pub fn model_functions(registry: Arc<ModelRegistry>) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(EmbedFunc::new(Arc::clone(&registry))),
        ScalarUDF::from(EmbedFunc::hyena(Arc::clone(&registry))),
        ScalarUDF::from(LoglikFunc::new(Arc::clone(&registry))),
        ScalarUDF::from(LoglikFunc::hyena(Arc::clone(&registry))),
        ScalarUDF::from(PredictOmicsFunc::new(Arc::clone(&registry))),
        ScalarUDF::from(PredictOmicsFunc::impute(Arc::clone(&registry))),
        ScalarUDF::from(variant::ScoreVariantFunc::new(Arc::clone(&registry))),
        ScalarUDF::from(variant::VariantLoglikFunc::new(registry)),
    ]
}

/// Registers the model functions ([`model_functions`]) and the `ism` table
/// function on a session.
pub fn register_model_functions(ctx: &SessionContext, registry: Arc<ModelRegistry>) {
    ctx.register_udtf(variant::ism::NAME, Arc::new(variant::IsmFunc::new(Arc::clone(&registry))));
    for f in model_functions(registry) {
        ctx.register_udf(f);
    }
}

#[cfg(test)]
mod tests;
