//! The model result cache: one sled tree in the database's catalog, keyed by
//! (what was computed, model weights sha256, sequence sha256).
//!
//! Key layout: `<task tag> 0x00 <model sha256, 64 hex bytes> 0x00 <sha256 of the
//! sequence bytes, 32 bytes>`. The task tag names the output and the dtype the
//! model ran in (e.g. `embed-mean/f32`, `loglik/f32`), so a bf16 result never
//! answers an f32 query. Values are little-endian f32 (embeddings) or f64
//! (log-likelihoods).

use omicsdb_storage::Store;
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Name of the sled tree holding cached results.
pub const CACHE_TREE: &str = "model_results";

/// Cached model outputs (see the module docs for the key layout).
#[derive(Debug, Clone)]
pub struct ResultCache {
    tree: sled::Tree,
}

/// The sha256 of a sequence's bytes.
pub fn sequence_hash(seq: &[u8]) -> [u8; 32] {
    Sha256::digest(seq).into()
}

impl ResultCache {
    /// Opens the cache tree of a database.
    pub fn open(store: &Store) -> Result<Self> {
        Ok(Self {
            tree: store.catalog().tree(CACHE_TREE)?,
        })
    }

    /// The cache key of one result.
    pub fn key(tag: &str, model_sha256: &str, seq_hash: &[u8; 32]) -> Vec<u8> {
        let mut key = Vec::with_capacity(tag.len() + model_sha256.len() + 34);
        key.extend_from_slice(tag.as_bytes());
        key.push(0);
        key.extend_from_slice(model_sha256.as_bytes());
        key.push(0);
        key.extend_from_slice(seq_hash);
        key
    }

    /// The stored value of `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>> {
        Ok(self.tree.get(key)?)
    }

    /// Stores many values at once.
    pub fn put_all(&self, entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in entries {
            batch.insert(k, v);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Number of cached results.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Removes every cached result.
    pub fn clear(&self) -> Result<()> {
        self.tree.clear()?;
        Ok(())
    }
}

/// Encodes f32 values little-endian.
pub fn encode_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Decodes little-endian f32 values; `None` when the byte count is not `4 * n`.
pub fn decode_f32(bytes: &[u8], n: usize) -> Option<Vec<f32>> {
    (bytes.len() == 4 * n).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_task_model_and_sequence() {
        let h = sequence_hash(b"ACGT");
        let a = ResultCache::key("embed-mean/f32", "ab", &h);
        assert_ne!(a, ResultCache::key("embed-last/f32", "ab", &h));
        assert_ne!(a, ResultCache::key("embed-mean/f32", "ac", &h));
        assert_ne!(
            a,
            ResultCache::key("embed-mean/f32", "ab", &sequence_hash(b"ACGA"))
        );
        assert_eq!(
            a,
            ResultCache::key("embed-mean/f32", "ab", &sequence_hash(b"ACGT"))
        );
    }

    #[test]
    fn f32_round_trip() {
        let v = [1.5f32, -0.0, f32::MAX, 3.25e-7];
        assert_eq!(decode_f32(&encode_f32(&v), 4).unwrap(), v);
        assert!(decode_f32(&encode_f32(&v), 3).is_none());
    }
}
