//! Genomic scalar functions, one file each, on whole Arrow arrays.
//!
//! | function | returns |
//! |---|---|
//! | `region(chrom, start, end)` | `chr1:1-1024` (1-based closed) |
//! | `parse_region(text)` | struct(chrom, start, end), 0-based half-open |
//! | `sequence(chrom, start, end [, assembly])` | bases from the [`SequenceSource`] |
//! | `gc_content(seq)` | G+C fraction of A/C/G/T |
//! | `revcomp(seq)` | IUPAC reverse complement, case kept |
//! | `kmers(seq, k)` | list of k-mers |
//! | `kmer_counts(seq, k)` | list of struct(kmer, count), sorted by k-mer |
//! | `tokenize(seq)` | list of HyenaDNA token ids |
//! | `overlaps(chrom_a, start_a, end_a, chrom_b, start_b, end_b)` | bool, bedtools semantics |
//! | `interval_distance(...)` | `bedtools closest -d` distance, NULL across chromosomes |
//!
//! Every function returns NULL when an argument is NULL and reports bad
//! arguments with an error naming the function and the argument.

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

mod args;
mod ascii;
#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod extremes_tests;
pub mod gc_content;
pub mod kmer_counts;
pub mod kmers;
mod memory_source;
pub mod overlaps;
pub mod parse_region;
pub mod region;
pub mod revcomp;
pub mod sequence;
mod sequence_source;
#[cfg(test)]
mod test_util;
pub mod tokenize;

pub use memory_source::MemorySequenceSource;
pub use sequence_source::SequenceSource;

/// All genomic scalar functions; `seq` backs `sequence()` and the
/// whole-chromosome lengths of `parse_region()` (without it `sequence()`
/// reports that no source is attached).
pub fn all_functions(seq: Option<Arc<dyn SequenceSource>>) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(region::RegionFunc::default()),
        ScalarUDF::from(parse_region::ParseRegionFunc::new(seq.clone())),
        ScalarUDF::from(sequence::SequenceFunc::new(seq)),
        ScalarUDF::from(gc_content::GcContentFunc::default()),
        ScalarUDF::from(revcomp::RevcompFunc::default()),
        ScalarUDF::from(kmers::KmersFunc::default()),
        ScalarUDF::from(kmer_counts::KmerCountsFunc::default()),
        ScalarUDF::from(tokenize::TokenizeFunc::default()),
        ScalarUDF::from(overlaps::OverlapsFunc::default()),
        ScalarUDF::from(overlaps::IntervalDistanceFunc::default()),
    ]
}

/// Registers every genomic scalar function in `ctx` (see [`all_functions`]).
pub fn register_functions(ctx: &SessionContext, seq: Option<Arc<dyn SequenceSource>>) {
    for f in all_functions(seq) {
        ctx.register_udf(f);
    }
}
