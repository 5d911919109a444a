//! The DNABERT k-mer tokenizer: overlapping k-mers looked up in `vocab.txt`.
//!
//! As the DNABERT pipeline does (`seq2kmer` then a `BertTokenizer` without lower-casing),
//! a sequence of `L` bases becomes the `L - k + 1` overlapping k-mers starting at every
//! base, framed as `[CLS] kmer_0 .. kmer_{L-k} [SEP]`. A k-mer that is not in the
//! vocabulary (one with an `N` or a soft-masked lowercase base) is `[UNK]`, exactly as the
//! reference word-piece lookup gives for a vocabulary of whole k-mers.

use std::collections::HashMap;
use std::path::Path;

use crate::ModelError;

/// Special tokens of the BERT vocabulary.
const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// A k-mer vocabulary (DNABERT-3 .. DNABERT-6).
#[derive(Debug, Clone)]
pub struct KmerTokenizer {
    k: usize,
    ids: HashMap<Vec<u8>, u32>,
    lower_case: bool,
    /// Id of `[PAD]`.
    pub pad_id: u32,
    /// Id of `[UNK]`.
    pub unk_id: u32,
    /// Id of `[CLS]`.
    pub cls_id: u32,
    /// Id of `[SEP]`.
    pub sep_id: u32,
    /// Id of `[MASK]`.
    pub mask_id: u32,
}

impl KmerTokenizer {
    /// Builds the tokenizer from the lines of `vocab.txt` (the id of a token is its line
    /// number from 0). `k` is the length every non-special token shares.
    pub fn from_vocab(text: &str, file: &Path) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Config { file: file.to_path_buf(), message };
        let mut ids = HashMap::new();
        let mut special = [None; 5];
        let mut k = None;
        for (id, token) in text.lines().enumerate() {
            let token = token.trim_end_matches('\r');
            let id = u32::try_from(id).map_err(|_| err("too many tokens".into()))?;
            if let Some(s) = SPECIALS.iter().position(|s| *s == token) {
                special[s] = Some(id);
                continue;
            }
            if token.is_empty() || token.starts_with('[') {
                continue; // other reserved tokens ([unused..]) are never produced
            }
            match k {
                None => k = Some(token.len()),
                Some(k) if k != token.len() => {
                    return Err(err(format!(
                        "line {}: token '{token}' has {} letters where the k-mers before it have {k}",
                        id + 1,
                        token.len()
                    )));
                }
                _ => {}
            }
            ids.insert(token.as_bytes().to_vec(), id);
        }
        let k = k.ok_or_else(|| err("no k-mer tokens".into()))?;
        let get = |i: usize| special[i].ok_or_else(|| err(format!("no {} token", SPECIALS[i])));
        Ok(Self { k, ids, lower_case: false, pad_id: get(0)?, unk_id: get(1)?, cls_id: get(2)?, sep_id: get(3)?, mask_id: get(4)? })
    }

    /// Reads `vocab.txt` of a checkpoint directory, and `do_lower_case` from its
    /// `tokenizer_config.json` when there (default false, as DNABERT's).
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let file = dir.join("vocab.txt");
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io { path: file.clone(), source })?;
        let mut tok = Self::from_vocab(&text, &file)?;
        let cfg = dir.join("tokenizer_config.json");
        if let Ok(text) = std::fs::read_to_string(&cfg) {
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ModelError::Config { file: cfg.clone(), message: e.to_string() })?;
            tok.lower_case = value.get("do_lower_case").and_then(|v| v.as_bool()).unwrap_or(false);
        }
        Ok(tok)
    }

    /// The k of the k-mers.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of tokens (with `[CLS]` and `[SEP]`) of a sequence of `bases` bases.
    pub fn token_len(&self, bases: usize) -> usize {
        bases + 3 - self.k
    }

    /// Most bases that fit `max_tokens` positions.
    pub fn max_bases(&self, max_tokens: usize) -> usize {
        (max_tokens + self.k).saturating_sub(3)
    }

    /// `[CLS] k-mers [SEP]` of a sequence of at least `k` bases.
    pub fn tokenize(&self, seq: &[u8]) -> Result<Vec<u32>, ModelError> {
        if let Some((position, &byte)) = seq.iter().enumerate().find(|(_, b)| !crate::tokenizer::is_nucleotide(**b)) {
            return Err(ModelError::InvalidBase { position, byte });
        }
        if seq.len() < self.k {
            return Err(ModelError::EmptyInput {
                what: format!("a sequence of {} bases has no {}-mer (DNABERT-{} needs at least {} bases)", seq.len(), self.k, self.k, self.k),
            });
        }
        let mut ids = Vec::with_capacity(self.token_len(seq.len()));
        ids.push(self.cls_id);
        let mut kmer = vec![0u8; self.k];
        for window in seq.windows(self.k) {
            kmer.copy_from_slice(window);
            if self.lower_case {
                kmer.make_ascii_lowercase();
            }
            ids.push(self.ids.get(&kmer).copied().unwrap_or(self.unk_id));
        }
        ids.push(self.sep_id);
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(k: usize) -> String {
        let mut lines: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        let mut kmers = vec![String::new()];
        for _ in 0..k {
            kmers = kmers.iter().flat_map(|p| "ACGT".chars().map(move |c| format!("{p}{c}"))).collect();
        }
        lines.extend(kmers);
        lines.join("\n")
    }

    #[test]
    fn overlapping_kmers_framed_by_cls_and_sep() {
        let tok = KmerTokenizer::from_vocab(&vocab(3), Path::new("vocab.txt")).unwrap();
        assert_eq!(tok.k(), 3);
        // AAA = 5, AAC = 6, ACG = 5 + 1*4 + 2 = 11, CGT = 5 + 16 + 2*4 + 3 = 32
        assert_eq!(tok.tokenize(b"AAACGT").unwrap(), vec![2, 5, 6, 11, 32, 3]);
        let ids = tok.tokenize(b"ACGT").unwrap();
        assert_eq!(ids, vec![2, 11, 32, 3]);
        assert_eq!(tok.token_len(4), 4);
        assert_eq!(tok.max_bases(512), 512);
    }

    #[test]
    fn n_and_soft_masked_kmers_are_unk_and_other_bytes_are_errors() {
        let tok = KmerTokenizer::from_vocab(&vocab(3), Path::new("vocab.txt")).unwrap();
        assert_eq!(tok.tokenize(b"ACNT").unwrap(), vec![2, 1, 1, 3]);
        assert_eq!(tok.tokenize(b"acgT").unwrap(), vec![2, 1, 1, 3]);
        assert!(matches!(tok.tokenize(b"AC-T"), Err(ModelError::InvalidBase { position: 2, byte: b'-' })));
        assert!(matches!(tok.tokenize(b"AC"), Err(ModelError::EmptyInput { .. })));
    }

    #[test]
    fn mixed_kmer_lengths_are_rejected() {
        let text = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nAAA\nAAAA\n";
        let e = KmerTokenizer::from_vocab(text, Path::new("v.txt")).unwrap_err().to_string();
        assert!(e.contains("line 7"), "{e}");
    }
}
