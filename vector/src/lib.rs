//! Vector search over embeddings, the layer under omicsdb's embedding indexes:
//!
//! - [`flat`]: exact search by blocked matrix products (gemm) on a thread pool;
//! - [`hnsw`]: approximate search with [usearch](https://github.com/unum-cloud/usearch)'s
//!   HNSW graph (a maintained library: the graph is not written here), with filtered
//!   search, multi-threaded construction and a file format of its own.
//!
//! Both take vectors row by row (`n × dim` f32) with row numbers as keys, and report
//! distances (smaller is closer) under one [`Metric`].
//!
//! ```
//! use omicsdb_vector::{Flat, Metric, prepare_query};
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
//! let flat = Flat::new(2, Metric::L2, vec![0.0, 0.0, 3.0, 4.0]);
//! let hits = flat.search(&prepare_query(Metric::L2, vec![3.0, 3.0]), 1, None, &pool);
//! assert_eq!(hits[0][0].key, 1);
//! assert!((hits[0][0].distance - 1.0).abs() < 1e-6);
//! ```

pub mod flat;
pub mod hnsw;

#[cfg(test)]
mod test_util {
    /// A seeded vector set (xorshift), so the test needs no RNG crate.
    pub(crate) fn vectors(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * d)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }
}

use serde::{Deserialize, Serialize};

pub use flat::{Flat, Neighbour, TopK, dot, normalize, prepare_query};
pub use hnsw::{Hnsw, HnswParams};

/// What went wrong in vector search.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// A bad parameter.
    #[error("{what}: {message}")]
    Argument {
        /// The parameter.
        what: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// usearch failed (a file that is not an index, memory, ...).
    #[error("usearch: {0}")]
    Usearch(String),
}

/// Results of this crate.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

/// Distance between embeddings. Every metric reports a distance (smaller is closer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `1 − cos(q, v)`: vectors and queries are normalised ([`normalize`]), then
    /// compared by inner product.
    Cosine,
    /// Euclidean distance `‖q − v‖`.
    L2,
    /// `1 − q·v` (the inner product as a distance, usearch's convention).
    Dot,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [Metric::Cosine, Metric::L2, Metric::Dot];

    /// The name used on the command line and in catalog tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::Dot => "dot",
        }
    }

    /// Parses a metric name (case-insensitive).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|m| m.name() == t).ok_or_else(|| VectorError::Argument {
            what: "metric",
            message: format!("'{text}' is not a metric; use cosine, l2 or dot"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_parse_or_say_what_is_allowed() {
        assert_eq!(Metric::parse("Cosine").unwrap(), Metric::Cosine);
        assert_eq!(Metric::parse(" l2 ").unwrap(), Metric::L2);
        let msg = Metric::parse("manhattan").unwrap_err().to_string();
        assert!(msg.contains("'manhattan'") && msg.contains("cosine, l2 or dot"), "{msg}");
    }
}
