//! omicsdb end-to-end tests: one binary, one module per capability.

mod support;
mod genome;

mod slt;
mod bedtools_eq;
mod intervals;
mod udf;
mod pgwire;
mod tracks;
mod materialize;
mod omics;
mod pruning;
mod train_defaults;
mod zoo;
mod variants;
mod embedding_index;
