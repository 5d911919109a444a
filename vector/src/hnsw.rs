//! Approximate search with usearch's HNSW graph.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::flat::Neighbour;
use crate::{Metric, Result, VectorError};

/// HNSW construction and search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Links per node (`M` in the HNSW paper and FAISS).
    pub connectivity: usize,
    /// Candidate list size while adding (`efConstruction`).
    pub expansion_add: usize,
    /// Candidate list size while searching (`efSearch`); a search for more than this
    /// many neighbours uses `k` instead (usearch's rule).
    pub expansion_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self { connectivity: 16, expansion_add: 128, expansion_search: 64 }
    }
}

impl HnswParams {
    /// Checks the parameters.
    pub fn check(&self) -> Result<()> {
        if self.connectivity < 2 || self.connectivity > 256 || self.expansion_add == 0 || self.expansion_search == 0 {
            return Err(VectorError::Argument {
                what: "hnsw",
                message: format!(
                    "connectivity must be 2 to 256 and the expansions at least 1 (got connectivity {}, ef_construction {}, ef_search {})",
                    self.connectivity, self.expansion_add, self.expansion_search
                ),
            });
        }
        Ok(())
    }
}

fn usearch_err(e: impl std::fmt::Display) -> VectorError {
    VectorError::Usearch(e.to_string())
}

/// An HNSW graph (it stores the vectors too); keys are row numbers.
pub struct Hnsw {
    index: usearch::Index,
    metric: Metric,
    expansion_search: usize,
}

impl std::fmt::Debug for Hnsw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hnsw({} vectors of {} dims, {:?})", self.index.size(), self.index.dimensions(), self.metric)
    }
}

/// The usearch metric for ours: cosine on normalised vectors is the inner product.
fn usearch_metric(metric: Metric) -> usearch::MetricKind {
    match metric {
        Metric::Cosine | Metric::Dot => usearch::MetricKind::IP,
        Metric::L2 => usearch::MetricKind::L2sq,
    }
}

impl Hnsw {
    /// Builds a graph over `vectors` (`n × dim`, row by row, prepared as
    /// [`crate::prepare_query`] prepares queries), adding rows from `pool`'s threads.
    pub fn build(vectors: &[f32], dim: usize, metric: Metric, p: HnswParams, pool: &rayon::ThreadPool) -> Result<Self> {
        p.check()?;
        if dim == 0 || vectors.len() % dim != 0 {
            return Err(VectorError::Argument { what: "vectors", message: format!("{} values are not rows of {dim}", vectors.len()) });
        }
        let options = usearch::IndexOptions {
            dimensions: dim,
            metric: usearch_metric(metric),
            quantization: usearch::ScalarKind::F32,
            connectivity: p.connectivity,
            expansion_add: p.expansion_add,
            expansion_search: p.expansion_search,
            multi: false,
        };
        let index = usearch::Index::new(&options).map_err(usearch_err)?;
        let n = vectors.len() / dim;
        index.reserve_capacity_and_threads(n, pool.current_num_threads()).map_err(usearch_err)?;
        pool.install(|| (0..n).into_par_iter().try_for_each(|i| index.add(i as u64, &vectors[i * dim..(i + 1) * dim]).map_err(usearch_err)))?;
        Ok(Self { index, metric, expansion_search: p.expansion_search })
    }

    /// Opens a graph saved by [`Hnsw::save`] (read into memory).
    pub fn open(path: &Path, metric: Metric, expansion_search: usize) -> Result<Self> {
        let text = path.to_str().ok_or_else(|| VectorError::Argument { what: "path", message: format!("{} is not UTF-8", path.display()) })?;
        let index = usearch::Index::restore(text).map_err(usearch_err)?;
        if index.metric_kind() != usearch_metric(metric) {
            return Err(VectorError::Usearch(format!("{} was built with another metric than {}", path.display(), metric.name())));
        }
        index.change_expansion_search(expansion_search);
        Ok(Self { index, metric, expansion_search })
    }

    /// Saves the graph to `path` (usearch's format).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = path.to_str().ok_or_else(|| VectorError::Argument { what: "path", message: format!("{} is not UTF-8", path.display()) })?;
        self.index.save(text).map_err(usearch_err)
    }

    /// Vectors in the graph.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// True when the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.index.size() == 0
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.index.dimensions()
    }

    /// Bytes the graph takes when saved.
    pub fn serialized_len(&self) -> usize {
        self.index.serialized_length()
    }

    /// The search candidate list size (`efSearch`).
    pub fn expansion_search(&self) -> usize {
        self.expansion_search
    }

    /// Sets the search candidate list size (`efSearch`).
    pub fn set_expansion_search(&mut self, ef: usize) {
        self.expansion_search = ef.max(1);
        self.index.change_expansion_search(self.expansion_search);
    }

    /// The stored vector of `key`.
    pub fn vector(&self, key: u64) -> Result<Vec<f32>> {
        let mut v = vec![0f32; self.index.dimensions()];
        let found = self.index.get(key, &mut v).map_err(usearch_err)?;
        if found == 0 {
            return Err(VectorError::Argument { what: "key", message: format!("no vector with key {key}") });
        }
        Ok(v)
    }

    /// The `k` nearest keys to `query`, nearest first; with `allowed`, only keys for
    /// which it is true (checked during the graph walk, usearch's filtered search).
    pub fn search(&self, query: &[f32], k: usize, allowed: Option<&(dyn Fn(u64) -> bool + Sync)>) -> Result<Vec<Neighbour>> {
        if query.len() != self.index.dimensions() {
            return Err(VectorError::Argument {
                what: "query",
                message: format!("{} dimensions; the index holds {}", query.len(), self.index.dimensions()),
            });
        }
        // usearch searches with max(expansion_search, k) candidates.
        let matches = match allowed {
            None => self.index.search(query, k),
            Some(f) => self.index.filtered_search(query, k, f),
        };
        let matches = matches.map_err(usearch_err)?;
        let l2 = self.metric == Metric::L2;
        Ok(matches
            .keys
            .iter()
            .zip(&matches.distances)
            .map(|(&key, &d)| Neighbour { key, distance: if l2 { d.max(0.0).sqrt() } else { d } })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::vectors;
    use crate::{Flat, normalize, prepare_query};

    #[test]
    fn hnsw_finds_what_exact_search_finds_with_and_without_a_filter_and_survives_a_save() {
        let (n, d, k) = (4000, 16, 10);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let mut v = vectors(n, d, 11);
        v.chunks_exact_mut(d).for_each(normalize);
        let hnsw = Hnsw::build(&v, d, Metric::Cosine, HnswParams { expansion_search: 128, ..Default::default() }, &pool).unwrap();
        assert_eq!((hnsw.len(), hnsw.dim()), (n, d));
        let flat = Flat::new(d, Metric::Cosine, v.clone());
        let queries: Vec<f32> = vectors(50, d, 5).chunks_exact(d).flat_map(|q| prepare_query(Metric::Cosine, q.to_vec())).collect();
        let exact = flat.search(&queries, k, None, &pool);
        let even = |key: u64| key % 2 == 0;
        let allowed: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
        let exact_even = flat.search(&queries, k, Some(&allowed), &pool);
        let (mut hit, mut hit_even) = (0, 0);
        for (qi, q) in queries.chunks_exact(d).enumerate() {
            let got = hnsw.search(q, k, None).unwrap();
            assert_eq!(got.len(), k);
            hit += got.iter().filter(|g| exact[qi].iter().any(|e| e.key == g.key)).count();
            let got = hnsw.search(q, k, Some(&even)).unwrap();
            assert_eq!(got.len(), k);
            assert!(got.iter().all(|g| g.key % 2 == 0));
            hit_even += got.iter().filter(|g| exact_even[qi].iter().any(|e| e.key == g.key)).count();
            let first = &got[0];
            let want = exact_even[qi].iter().find(|e| e.key == first.key).map(|e| e.distance);
            if let Some(w) = want {
                assert!((w - first.distance).abs() < 1e-4, "{w} vs {}", first.distance);
            }
        }
        assert!(hit as f64 / (50 * k) as f64 >= 0.95, "recall {hit}");
        assert!(hit_even as f64 / (50 * k) as f64 >= 0.95, "filtered recall {hit_even}");

        let dir = std::env::temp_dir().join(format!("omicsdb-vector-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g.usearch");
        hnsw.save(&path).unwrap();
        let back = Hnsw::open(&path, Metric::Cosine, 128).unwrap();
        let q = &queries[..d];
        assert_eq!(back.search(q, k, None).unwrap(), hnsw.search(q, k, None).unwrap());
        assert_eq!(back.vector(7).unwrap(), v[7 * d..8 * d].to_vec());
        assert!(Hnsw::open(&path, Metric::L2, 64).is_err());
        std::fs::write(dir.join("bad.usearch"), b"not an index").unwrap();
        assert!(Hnsw::open(&dir.join("bad.usearch"), Metric::Cosine, 64).is_err());
        assert!(hnsw.search(&[0.0; 3], 1, None).unwrap_err().to_string().contains("3 dimensions"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
