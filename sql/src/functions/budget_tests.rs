//! The output budget of the genomic functions: a call whose result would
//! pass `omicsdb.max_function_output_bytes` fails with `ResourcesExhausted`
//! (SQLSTATE 53200 over the wire) before building it, and the session keeps
//! answering.

use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{MemorySequenceSource, register_functions};
use crate::options::{DEFAULT_MAX_FUNCTION_OUTPUT_BYTES, OmicsdbOptions};

fn session(with_options: bool) -> SessionContext {
    let config = SessionConfig::new();
    let config = if with_options { config.with_option_extension(OmicsdbOptions::default()) } else { config };
    let ctx = SessionContext::new_with_config(config);
    let chrom: String = "ACGT".repeat(5_000);
    register_functions(&ctx, Some(Arc::new(MemorySequenceSource::new("toy", [("chr1", chrom.as_str())]))));
    ctx
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<usize, DataFusionError> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

fn is_exhausted(err: &DataFusionError) -> bool {
    matches!(err.find_root(), DataFusionError::ResourcesExhausted(_))
}

#[tokio::test]
async fn kmers_of_a_long_sequence_with_a_large_k_is_refused_not_built() {
    for with_options in [true, false] {
        let ctx = session(with_options);
        // 10 Mb of sequence in 1000-mers would be about 10 GB.
        let err = run(&ctx, "SELECT kmers(repeat('ACGT', 2500000), 1000)").await.unwrap_err();
        assert!(is_exhausted(&err), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("kmers") && msg.contains(&DEFAULT_MAX_FUNCTION_OUTPUT_BYTES.to_string()), "{msg}");
        // The session still answers, and a small call is fine.
        assert_eq!(run(&ctx, "SELECT kmers('ACGTACGT', 3)").await.unwrap(), 1);
    }
}

#[tokio::test]
async fn the_budget_is_a_session_setting_for_every_amplifying_function() {
    let ctx = session(true);
    ctx.sql("SET omicsdb.max_function_output_bytes = 1000").await.unwrap().collect().await.unwrap();
    for sql in [
        "SELECT sequence('chr1', 0, 2000)",
        "SELECT kmers(repeat('ACGT', 100), 8)",
        "SELECT kmer_counts(repeat('ACGTTGCA', 100), 200)",
        "SELECT tokenize(repeat('ACGT', 100))",
    ] {
        let err = run(&ctx, sql).await.expect_err(sql);
        assert!(is_exhausted(&err), "{sql}: {err}");
        assert!(err.to_string().contains("omicsdb.max_function_output_bytes"), "{sql}: {err}");
    }
    for sql in [
        "SELECT sequence('chr1', 0, 900)",
        "SELECT kmers('ACGTACGTAC', 3)",
        "SELECT kmer_counts(repeat('ACGT', 10), 2)",
        "SELECT tokenize(repeat('ACGT', 50))",
    ] {
        assert_eq!(run(&ctx, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")), 1);
    }
}
