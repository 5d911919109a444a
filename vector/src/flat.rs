//! Exact nearest-neighbour search: every stored vector is compared with the queries
//! in blocked matrix products (gemm, the kernels candle's CPU matmul uses), blocks
//! spread over a thread pool, each block keeping the best `k` per query.
//!
//! It is omicsdb's `flat` index kind, the fallback for very selective filters, and
//! the reference that HNSW recall is measured against.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::Metric;

/// Database vectors per block: the block's scores for 64 queries fit in L2 cache.
const BLOCK_ROWS: usize = 2048;
/// Queries per matrix product.
const QUERY_ROWS: usize = 64;

/// A neighbour: the vector's key (row) and its distance to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Row of the vector in the index (its key).
    pub key: u64,
    /// Distance under the index's metric.
    pub distance: f32,
}

impl Eq for Neighbour {}
impl PartialOrd for Neighbour {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Neighbour {
    /// By distance, then key (so ties come out in key order).
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.key.cmp(&other.key))
    }
}

/// The best `k` neighbours seen so far (a max-heap on distance).
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Neighbour>,
}

impl TopK {
    /// An empty selection of at most `k`.
    pub fn new(k: usize) -> Self {
        Self { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// Offers a candidate.
    #[inline]
    pub fn push(&mut self, n: Neighbour) {
        if self.heap.len() < self.k {
            self.heap.push(n);
        } else if let Some(worst) = self.heap.peek() {
            if n < *worst {
                self.heap.pop();
                self.heap.push(n);
            }
        }
    }

    /// Merges another selection into this one.
    pub fn merge(&mut self, other: TopK) {
        for n in other.heap {
            self.push(n);
        }
    }

    /// The neighbours, nearest first.
    pub fn into_sorted(self) -> Vec<Neighbour> {
        self.heap.into_sorted_vec()
    }
}

/// Stored vectors for exact search.
#[derive(Debug, Clone)]
pub struct Flat {
    dim: usize,
    metric: Metric,
    vectors: Vec<f32>,
    /// `‖v‖²` per row (L2 only).
    norms: Vec<f32>,
}

impl Flat {
    /// Exact search over `vectors` (`n × dim`, row by row; already normalised for cosine).
    pub fn new(dim: usize, metric: Metric, vectors: Vec<f32>) -> Self {
        let norms = if metric == Metric::L2 { vectors.chunks_exact(dim.max(1)).map(|v| dot(v, v)).collect() } else { Vec::new() };
        Self { dim, metric, vectors, norms }
    }

    /// Vectors stored.
    pub fn len(&self) -> usize {
        self.vectors.len() / self.dim.max(1)
    }

    /// True when no vector is stored.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The vector of row `key`.
    pub fn vector(&self, key: u64) -> Option<&[f32]> {
        let i = usize::try_from(key).ok()?;
        self.vectors.get(i * self.dim..(i + 1) * self.dim)
    }

    /// The `k` nearest rows to each query (`queries`: `m × dim`, prepared with
    /// [`prepare_query`]), restricted to rows where `allowed` is true when given,
    /// using the threads of `pool` (blocks of rows side by side).
    pub fn search(&self, queries: &[f32], k: usize, allowed: Option<&[bool]>, pool: &rayon::ThreadPool) -> Vec<Vec<Neighbour>> {
        let d = self.dim;
        let m = queries.len() / d.max(1);
        let n = self.len();
        if m == 0 || k == 0 || n == 0 {
            return vec![Vec::new(); m];
        }
        let q_norms: Vec<f32> = queries.chunks_exact(d).map(|q| dot(q, q)).collect();
        let blocks: Vec<usize> = (0..n).step_by(BLOCK_ROWS).collect();
        let fresh = || (0..m).map(|_| TopK::new(k)).collect::<Vec<TopK>>();
        // Each thread folds its blocks into one selection per query; the threads'
        // selections are merged at the end.
        let out: Vec<TopK> = pool.install(|| {
            blocks
                .par_iter()
                .fold(
                    || (fresh(), Vec::new()),
                    |(mut best, mut scores): (Vec<TopK>, Vec<f32>), &first| {
                        let rows = BLOCK_ROWS.min(n - first);
                        scores.resize(QUERY_ROWS * BLOCK_ROWS, 0.0);
                        let block = &self.vectors[first * d..(first + rows) * d];
                        for q0 in (0..m).step_by(QUERY_ROWS) {
                            let qs = QUERY_ROWS.min(m - q0);
                            matmul_t(&queries[q0 * d..(q0 + qs) * d], block, qs, rows, d, &mut scores[..qs * rows]);
                            for qi in 0..qs {
                                let top = &mut best[q0 + qi];
                                let row = &scores[qi * rows..(qi + 1) * rows];
                                for (j, &s) in row.iter().enumerate() {
                                    let key = first + j;
                                    if allowed.is_some_and(|a| !a.get(key).copied().unwrap_or(false)) {
                                        continue;
                                    }
                                    let distance = match self.metric {
                                        Metric::Cosine | Metric::Dot => 1.0 - s,
                                        Metric::L2 => (q_norms[q0 + qi] + self.norms[key] - 2.0 * s).max(0.0),
                                    };
                                    top.push(Neighbour { key: key as u64, distance });
                                }
                            }
                        }
                        (best, scores)
                    },
                )
                .map(|(best, _)| best)
                .reduce(fresh, |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.merge(y);
                    }
                    a
                })
        });
        out.into_iter()
            .map(|t| {
                let mut v = t.into_sorted();
                if self.metric == Metric::L2 {
                    v.iter_mut().for_each(|n| n.distance = n.distance.sqrt());
                }
                v
            })
            .collect()
    }
}

/// `out[i][j] = a[i] · b[j]` for `a`: `m × d`, `b`: `n × d` (both row by row).
fn matmul_t(a: &[f32], b: &[f32], m: usize, n: usize, d: usize, out: &mut [f32]) {
    debug_assert!(a.len() >= m * d && b.len() >= n * d && out.len() >= m * n);
    // SAFETY: the slices hold m×d, n×d and m×n values (checked above in debug builds and
    // by construction in `search`); gemm reads `a` and `b` with the given strides and
    // writes each of the m×n outputs once.
    unsafe {
        gemm::gemm(
            m, n, d,
            out.as_mut_ptr(), 1, n as isize, false,
            a.as_ptr(), 1, d as isize,
            b.as_ptr(), d as isize, 1,
            0.0, 1.0, false, false, false, gemm::Parallelism::None,
        )
    }
}

/// `a · b`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// A query as the index compares it: normalised for cosine, as given otherwise.
pub fn prepare_query(metric: Metric, mut q: Vec<f32>) -> Vec<f32> {
    if metric == Metric::Cosine {
        normalize(&mut q);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::vectors;

    fn pool(n: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
    }

    /// The answer by sorting every distance, for comparison.
    fn brute(v: &[f32], q: &[f32], d: usize, metric: Metric, k: usize) -> Vec<u64> {
        let mut all: Vec<(f32, u64)> = v
            .chunks_exact(d)
            .enumerate()
            .map(|(i, x)| {
                let dist = match metric {
                    Metric::L2 => x.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt(),
                    _ => 1.0 - dot(x, q),
                };
                (dist, i as u64)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|x| x.1).collect()
    }

    #[test]
    fn blocked_search_equals_sorting_every_distance_on_any_thread_count() {
        let (n, d, k) = (5000, 24, 7);
        for metric in Metric::ALL {
            let mut v = vectors(n, d, 7);
            if metric == Metric::Cosine {
                v.chunks_exact_mut(d).for_each(normalize);
            }
            let flat = Flat::new(d, metric, v.clone());
            let queries: Vec<f32> = vectors(70, d, 99).chunks_exact(d).flat_map(|q| prepare_query(metric, q.to_vec())).collect();
            let one = flat.search(&queries, k, None, &pool(1));
            let four = flat.search(&queries, k, None, &pool(4));
            assert_eq!(one, four, "{metric:?}");
            for (qi, q) in queries.chunks_exact(d).enumerate() {
                let got: Vec<u64> = one[qi].iter().map(|n| n.key).collect();
                assert_eq!(got, brute(&v, q, d, metric, k), "{metric:?} query {qi}");
            }
            if metric == Metric::L2 {
                let q = &queries[..d];
                let want = v[..d].iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
                let got = flat.search(q, n, None, &pool(2))[0].iter().find(|x| x.key == 0).unwrap().distance;
                assert!((got - want).abs() < 1e-3, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn a_filter_keeps_only_allowed_rows_and_k_beyond_the_rows_returns_them_all() {
        let d = 8;
        let flat = Flat::new(d, Metric::Dot, vectors(300, d, 3));
        let allowed: Vec<bool> = (0..300).map(|i| i % 10 == 3).collect();
        let got = flat.search(&vectors(1, d, 5), 1000, Some(&allowed), &pool(2));
        assert_eq!(got[0].len(), 30);
        assert!(got[0].iter().all(|n| n.key % 10 == 3));
        assert!(got[0].windows(2).all(|w| w[0].distance <= w[1].distance));
    }
}
