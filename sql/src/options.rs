//! omicsdb's session settings, a DataFusion [`ConfigExtension`] under the
//! `omicsdb.` prefix (`SET omicsdb.max_function_output_bytes = 1048576`, for
//! admins over the wire; readers may not change it).

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::extensions_options;

/// Default most bytes one call of a genomic function may produce (256 MiB).
pub const DEFAULT_MAX_FUNCTION_OUTPUT_BYTES: u64 = 256 * 1024 * 1024;

/// The hard ceiling of [`OmicsdbOptions::max_function_output_bytes`]: Arrow
/// string and list columns address their values with 32-bit offsets.
pub const MAX_FUNCTION_OUTPUT_BYTES_CEILING: u64 = i32::MAX as u64;

/// Default window of `variant_loglik` (bases).
pub const DEFAULT_VARIANT_WINDOW_BP: u64 = 1024;

extensions_options! {
    /// omicsdb's settings of one session.
    pub struct OmicsdbOptions {
        /// Most bytes one call of a genomic function (kmers, kmer_counts,
        /// sequence, tokenize) may produce for one batch of rows; a call that
        /// would produce more fails with SQLSTATE 53200 before allocating it.
        pub max_function_output_bytes: u64, default = DEFAULT_MAX_FUNCTION_OUTPUT_BYTES
        /// What `score_variant`, `variant_loglik` and `ism` do with a REF allele
        /// that differs from the genome: `error` (the default: an error naming the
        /// variant) or `null` (a NULL result, counted in the model registry's
        /// `ref_mismatches`).
        pub variant_ref_mismatch: String, default = "error".to_string()
        /// Bases of the window `variant_loglik` scores around a variant (capped at
        /// the model's maximum input length).
        pub variant_window_bp: u64, default = DEFAULT_VARIANT_WINDOW_BP
    }
}

impl ConfigExtension for OmicsdbOptions {
    const PREFIX: &'static str = "omicsdb";
}

/// The output budget of one function call under `config` (the default when
/// the session has no [`OmicsdbOptions`]), capped at the Arrow ceiling.
pub fn max_function_output_bytes(config: &ConfigOptions) -> u64 {
    config
        .extensions
        .get::<OmicsdbOptions>()
        .map_or(DEFAULT_MAX_FUNCTION_OUTPUT_BYTES, |o| o.max_function_output_bytes)
        .min(MAX_FUNCTION_OUTPUT_BYTES_CEILING)
}
