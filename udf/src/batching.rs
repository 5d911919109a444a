//! Running a model over one Arrow batch of sequences: validate, deduplicate,
//! answer from the cache, group the rest by length and run micro-batches
//! bounded by the registry's token budget.
//!
//! Sequences of one micro-batch all have the same length, so no padding is
//! ever added: every output depends only on its own sequence and equals a
//! single-sequence model call on the same tokens.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use candle_core::Tensor;
use omicsdb_model::zoo::GenomicModel;
use omicsdb_storage::models::ModelMeta;

use crate::cache::{ResultCache, sequence_hash};
use crate::error::{Result, UdfError};
use crate::interrupt::{StatementInterrupt, run_blocking};
use crate::registry::ModelRegistry;

/// One kind of per-sequence model output (an embedding, a log-likelihood).
pub trait Task {
    /// The per-sequence result.
    type Out: Clone;
    /// The SQL function name, for error messages.
    fn function(&self) -> &'static str;
    /// Cache tag naming the output (the dtype is appended by the caller).
    fn tag(&self) -> &'static str;
    /// Splits one input into the sequence the model reads and a side input the task
    /// reads too (e.g. observed track values): an input is deduplicated and cached
    /// whole, so the side input is part of its identity. Default: all sequence.
    fn split<'a>(&self, input: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        (input, &[])
    }
    /// Runs the model on `ids: [rows, len]` (all rows real tokens of one length, no
    /// padding; the family's special tokens included) with each row's side input
    /// ([`Task::split`]) and returns one result per row.
    fn run(
        &self,
        model: &dyn GenomicModel,
        ids: &Tensor,
        side: &[&[u8]],
    ) -> Result<Vec<Self::Out>, omicsdb_model::ModelError>;
    /// Bytes to cache for a result.
    fn encode(&self, out: &Self::Out) -> Vec<u8>;
    /// A cached result, `None` if the bytes do not fit (then it is recomputed).
    fn decode(&self, bytes: &[u8]) -> Option<Self::Out>;
}

/// A distinct sequence of the batch.
struct Unique<'a> {
    seq: &'a [u8],
    /// First row it appears in (for error messages).
    row: usize,
}

/// Computes `task` for every row of `seqs` (NULL rows stay `None`).
///
/// Errors name the first offending row: an empty sequence, one longer than the
/// model's `max_seq_len` (in bases), a byte that is not a nucleotide, or one the
/// family's tokenizer rejects (e.g. shorter than DNABERT's k). The work
/// runs where it does not stall the async runtime ([`run_blocking`]) and stops
/// with [`UdfError::Interrupted`] before the next micro-batch once `interrupt`
/// fires.
pub fn evaluate<T: Task>(
    registry: &ModelRegistry,
    task: &T,
    meta: &ModelMeta,
    seqs: &[Option<&[u8]>],
    interrupt: &StatementInterrupt,
) -> Result<Vec<Option<T::Out>>> {
    run_blocking(|| evaluate_here(registry, task, meta, seqs, interrupt))
}

/// [`evaluate`] on the calling thread.
fn evaluate_here<T: Task>(
    registry: &ModelRegistry,
    task: &T,
    meta: &ModelMeta,
    seqs: &[Option<&[u8]>],
    interrupt: &StatementInterrupt,
) -> Result<Vec<Option<T::Out>>> {
    let function = task.function();
    let limit = meta.max_seq_len().unwrap_or(usize::MAX);
    let mut uniques: Vec<Unique> = Vec::new();
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let mut row_unique: Vec<Option<usize>> = Vec::with_capacity(seqs.len());
    for (row, seq) in seqs.iter().enumerate() {
        let Some(seq) = *seq else {
            row_unique.push(None);
            continue;
        };
        let next = uniques.len();
        let u = *index.entry(seq).or_insert_with(|| {
            uniques.push(Unique { seq, row });
            next
        });
        if u == next {
            check_sequence(function, meta, limit, row, task.split(seq).0)?;
        }
        row_unique.push(Some(u));
    }

    let tag = format!("{}/{}", task.tag(), dtype_name(registry.dtype()));
    let use_cache = registry.cache_enabled();
    let mut results: Vec<Option<T::Out>> = vec![None; uniques.len()];
    let mut keys: Vec<Vec<u8>> = Vec::new();
    if use_cache {
        let cache = registry.cache();
        for (i, u) in uniques.iter().enumerate() {
            let key = ResultCache::key(&tag, &meta.sha256, &sequence_hash(u.seq));
            if let Some(bytes) = cache.get(&key)? {
                results[i] = task.decode(&bytes);
            }
            keys.push(key);
        }
        let hits = results.iter().filter(|r| r.is_some()).count();
        registry
            .stats
            .cache_hits
            .fetch_add(hits as u64, Ordering::Relaxed);
    }

    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, u) in uniques.iter().enumerate() {
        if results[i].is_none() {
            by_len.entry(task.split(u.seq).0.len()).or_default().push(i);
        }
    }
    if !by_len.is_empty() {
        let loaded = registry.load(meta)?;
        let budget = registry.batch_tokens();
        for (len, members) in by_len {
            let rows_per_call = (budget / len).max(1);
            for chunk in members.chunks(rows_per_call) {
                if let Some(source) = interrupt.stopped() {
                    return Err(UdfError::Interrupted { function, source });
                }
                let mut ids = Vec::with_capacity(chunk.len() * len);
                let mut side = Vec::with_capacity(chunk.len());
                // Sequences of one length have tokenized inputs of one length in every family.
                let mut tokens_per_row = 0;
                for &i in chunk {
                    let (seq, extra) = task.split(uniques[i].seq);
                    side.push(extra);
                    let tokens = loaded.model.tokenize(seq).map_err(|e| UdfError::BadSequence {
                        function,
                        row: uniques[i].row,
                        len,
                        message: e.to_string(),
                    })?;
                    tokens_per_row = tokens.len();
                    ids.extend_from_slice(&tokens);
                }
                let model_err = |source: omicsdb_model::ModelError| UdfError::Model {
                    model: meta.label(),
                    source,
                };
                let ids = Tensor::from_vec(ids, (chunk.len(), tokens_per_row), registry.device())
                    .map_err(|e| model_err(omicsdb_model::ModelError::from(e)))?;
                let started = std::time::Instant::now();
                let outs = task.run(loaded.model.as_ref(), &ids, &side).map_err(model_err)?;
                let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                registry.stats.model_nanos.fetch_add(nanos, Ordering::Relaxed);
                registry.stats.model_calls.fetch_add(1, Ordering::Relaxed);
                registry
                    .stats
                    .model_tokens
                    .fetch_add((chunk.len() * len) as u64, Ordering::Relaxed);
                if use_cache {
                    let entries = chunk
                        .iter()
                        .zip(&outs)
                        .map(|(&i, o)| (keys[i].clone(), task.encode(o)));
                    registry.cache().put_all(entries)?;
                }
                for (&i, out) in chunk.iter().zip(outs) {
                    results[i] = Some(out);
                }
            }
        }
    }
    Ok(row_unique
        .into_iter()
        .map(|u| u.and_then(|i| results[i].clone()))
        .collect())
}

/// Rejects empty, over-long and untokenizable sequences, naming the row.
fn check_sequence(
    function: &'static str,
    meta: &ModelMeta,
    limit: usize,
    row: usize,
    seq: &[u8],
) -> Result<()> {
    if seq.is_empty() {
        return Err(UdfError::BadSequence {
            function,
            row,
            len: 0,
            message: "empty sequence".into(),
        });
    }
    if seq.len() > limit {
        return Err(UdfError::TooLong {
            function,
            row,
            len: seq.len(),
            limit,
            model: meta.label(),
        });
    }
    if let Some((position, &byte)) = seq
        .iter()
        .enumerate()
        .find(|(_, b)| !omicsdb_model::tokenizer::is_nucleotide(**b))
    {
        let e = omicsdb_model::ModelError::InvalidBase { position, byte };
        return Err(UdfError::BadSequence {
            function,
            row,
            len: seq.len(),
            message: e.to_string(),
        });
    }
    Ok(())
}

fn dtype_name(dtype: candle_core::DType) -> String {
    format!("{dtype:?}").to_lowercase()
}
