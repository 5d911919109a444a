//! The model result cache: sled trees in the database's catalog, keyed by
//! (what was computed, model weights sha256, sequence sha256), held to a byte
//! budget by evicting the oldest results first.
//!
//! Key layout: `<task tag> 0x00 <model sha256, 64 hex bytes> 0x00 <sha256 of the
//! sequence bytes, 32 bytes>`. The task tag names the output and the dtype the
//! model ran in (e.g. `embed-mean/f32`, `loglik/f32`), so a bf16 result never
//! answers an f32 query. A value is the entry's insertion number (8 bytes,
//! big-endian) followed by the result: little-endian f32 (embeddings) or f64
//! (log-likelihoods).
//!
//! Eviction: a second tree maps insertion numbers to keys, so its first entry
//! is the oldest result; a third holds the running byte total (keys plus
//! values, the bytes the cache asks sled to keep; sled's own overhead comes on
//! top) and the last insertion number. When a write takes the total past the
//! budget, the oldest results are removed until it is at most 90% of the
//! budget (first in, first out: a hit does not renew an entry, so reads never
//! write).

use std::sync::atomic::{AtomicU64, Ordering};

use omicsdb_storage::Store;
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Name of the sled tree holding cached results.
pub const CACHE_TREE: &str = "model_results_v2";

/// The tree of insertion number → key (the eviction order).
pub const CACHE_ORDER_TREE: &str = "model_results_order";

/// The tree of the byte total and the last insertion number.
pub const CACHE_META_TREE: &str = "model_results_meta";

/// The tree of an earlier layout (values without insertion numbers), dropped on open.
const OLD_CACHE_TREE: &str = "model_results";

/// Default byte budget of the cache (1 GiB).
pub const DEFAULT_CACHE_BUDGET: u64 = 1 << 30;

const BYTES_KEY: &[u8] = b"bytes";
const SEQ_KEY: &[u8] = b"seq";
const STAMP: usize = 8;

/// Cached model outputs (see the module docs for the layout and eviction).
#[derive(Debug)]
pub struct ResultCache {
    tree: sled::Tree,
    order: sled::Tree,
    meta: sled::Tree,
    budget: AtomicU64,
}

/// The sha256 of a sequence's bytes.
pub fn sequence_hash(seq: &[u8]) -> [u8; 32] {
    Sha256::digest(seq).into()
}

/// Adds `delta` (saturating at 0 and `u64::MAX`) to the u64 under `key`,
/// atomically; returns the new value.
fn add(tree: &sled::Tree, key: &[u8], delta: i128) -> Result<u64> {
    let new = tree.update_and_fetch(key, |old| {
        let old = old.and_then(read_u64).unwrap_or(0);
        let new = (i128::from(old) + delta).clamp(0, i128::from(u64::MAX)) as u64;
        Some(new.to_be_bytes().to_vec())
    })?;
    Ok(new.as_deref().and_then(read_u64).unwrap_or(0))
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

impl ResultCache {
    /// Opens the cache trees of a database, with the default budget
    /// ([`DEFAULT_CACHE_BUDGET`]).
    pub fn open(store: &Store) -> Result<Self> {
        let catalog = store.catalog();
        catalog.drop_tree(OLD_CACHE_TREE)?;
        Ok(Self {
            tree: catalog.tree(CACHE_TREE)?,
            order: catalog.tree(CACHE_ORDER_TREE)?,
            meta: catalog.tree(CACHE_META_TREE)?,
            budget: AtomicU64::new(DEFAULT_CACHE_BUDGET),
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

    /// The byte budget (see the module docs).
    pub fn budget(&self) -> u64 {
        self.budget.load(Ordering::Relaxed)
    }

    /// Sets the byte budget; the next write evicts down to it. 0 keeps nothing.
    pub fn set_budget(&self, bytes: u64) {
        self.budget.store(bytes, Ordering::Relaxed);
    }

    /// Bytes the cached results take (keys plus values).
    pub fn bytes(&self) -> Result<u64> {
        Ok(self.meta.get(BYTES_KEY)?.as_deref().and_then(read_u64).unwrap_or(0))
    }

    /// The stored result of `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>> {
        Ok(self.tree.get(key)?.filter(|v| v.len() >= STAMP).map(|v| v.subslice(STAMP, v.len() - STAMP)))
    }

    /// Stores many results, then evicts the oldest while the cache is over
    /// its budget. A result larger than the whole budget is not stored.
    pub fn put_all(&self, entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Result<()> {
        let budget = self.budget();
        for (key, payload) in entries {
            let size = (key.len() + STAMP + payload.len()) as u64;
            if size > budget {
                continue;
            }
            let stamp = add(&self.meta, SEQ_KEY, 1)?.to_be_bytes();
            let mut value = Vec::with_capacity(STAMP + payload.len());
            value.extend_from_slice(&stamp);
            value.extend_from_slice(&payload);
            self.order.insert(stamp, key.as_slice())?;
            let mut delta = size as i128;
            if let Some(old) = self.tree.insert(key.as_slice(), value)? {
                if old.len() >= STAMP {
                    self.order.remove(&old[..STAMP])?;
                }
                delta -= (key.len() + old.len()) as i128;
            }
            add(&self.meta, BYTES_KEY, delta)?;
        }
        self.evict(budget)
    }

    /// Removes the oldest results until the cache is at most 90% of `budget`
    /// (when it is over `budget`).
    fn evict(&self, budget: u64) -> Result<()> {
        if self.bytes()? <= budget {
            return Ok(());
        }
        let target = budget - budget / 10;
        while self.bytes()? > target {
            // pop_min is atomic: concurrent writers never evict the same entry twice.
            let Some((stamp, key)) = self.order.pop_min()? else {
                // Nothing left to evict: the total drifted (e.g. a crash between
                // two writes); it is exact again from here.
                self.meta.insert(BYTES_KEY, &0u64.to_be_bytes())?;
                return Ok(());
            };
            let Some(value) = self.tree.get(&key)? else { continue };
            // A newer write of the same key has its own stamp: keep it.
            if value.get(..STAMP) != Some(&stamp[..]) {
                continue;
            }
            if self.tree.compare_and_swap(&key, Some(&value), None as Option<&[u8]>)?.is_ok() {
                add(&self.meta, BYTES_KEY, -((key.len() + value.len()) as i128))?;
            }
        }
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
        self.order.clear()?;
        self.meta.insert(BYTES_KEY, &0u64.to_be_bytes())?;
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

    fn cache_in(dir: &std::path::Path) -> (Store, ResultCache) {
        let store = Store::open(dir).unwrap();
        let cache = ResultCache::open(&store).unwrap();
        (store, cache)
    }

    fn entry(i: u32) -> (Vec<u8>, Vec<u8>) {
        let key = ResultCache::key("embed-mean/f32", "ab", &sequence_hash(&i.to_le_bytes()));
        (key, encode_f32(&[i as f32; 64]))
    }

    #[test]
    fn the_cache_stays_within_its_budget_evicting_the_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let (_store, cache) = cache_in(&tmp.path().join("db"));
        let size = {
            let (k, v) = entry(0);
            (k.len() + STAMP + v.len()) as u64
        };
        cache.set_budget(50 * size);
        for i in 0..200u32 {
            cache.put_all([entry(i)]).unwrap();
            let bytes = cache.bytes().unwrap();
            assert!(bytes <= 50 * size, "after {i} writes the cache holds {bytes} bytes, over its budget");
        }
        // The newest are kept, the oldest went first.
        assert!(cache.get(&entry(199).0).unwrap().is_some());
        assert!(cache.get(&entry(0).0).unwrap().is_none());
        assert!(cache.len() >= 45 && cache.len() <= 50, "{}", cache.len());
        // The byte count is exact: the sum over what is stored.
        let stored: u64 = cache.tree.iter().map(|kv| kv.map(|(k, v)| (k.len() + v.len()) as u64).unwrap()).sum();
        assert_eq!(cache.bytes().unwrap(), stored);
        // A value reads back without its stamp.
        assert_eq!(decode_f32(&cache.get(&entry(199).0).unwrap().unwrap(), 64).unwrap(), vec![199.0; 64]);
    }

    #[test]
    fn rewrites_count_once_and_the_total_survives_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let before = {
            let (_store, cache) = cache_in(&dir);
            for _ in 0..10 {
                cache.put_all([entry(1), entry(2)]).unwrap();
            }
            assert_eq!(cache.len(), 2);
            assert_eq!(cache.order.len(), 2, "a rewrite replaces its eviction entry");
            cache.bytes().unwrap()
        };
        let (_store, cache) = cache_in(&dir);
        assert_eq!(cache.bytes().unwrap(), before);
        // A smaller budget applies at the next write; 0 keeps nothing.
        cache.set_budget(0);
        cache.put_all([entry(3)]).unwrap();
        assert!(cache.is_empty());
        assert_eq!(cache.bytes().unwrap(), 0);
    }

    #[test]
    fn f32_round_trip() {
        let v = [1.5f32, -0.0, f32::MAX, 3.25e-7];
        assert_eq!(decode_f32(&encode_f32(&v), 4).unwrap(), v);
        assert!(decode_f32(&encode_f32(&v), 3).is_none());
    }
}
