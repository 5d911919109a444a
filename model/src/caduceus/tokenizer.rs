//! The Caduceus character tokenizer (the reference's `CaduceusTokenizer`): special tokens
//! `[CLS] [SEP] [BOS] [MASK] [PAD] [RESERVED] [UNK]` at ids 0..=6, then `A C G T N` at
//! 7..=11.
//!
//! A sequence is upper-cased and every character looked up; anything else (IUPAC codes,
//! gaps, any byte) is `[UNK]`, exactly as the reference maps it, so tokenizing never
//! fails. No special token is added: the masked-LM pre-training fed the model bases only
//! (the hg38 loader's end-of-sequence token is removed by `mlm_getitem(contains_eos=True)`);
//! the Hugging Face tokenizer's default `[SEP]` is what `add_special_tokens=False` drops.

use std::path::Path;

use crate::ModelError;

/// Id of `[MASK]`.
pub const MASK_ID: u32 = 3;
/// Id of `[UNK]`.
pub const UNK_ID: u32 = 6;
/// Id of the first character (`A`).
const FIRST_CHAR: u32 = 7;
/// The characters, in id order.
const CHARACTERS: &[u8; 5] = b"ACGTN";

/// The tokenizer, with the longest input its checkpoint declares.
#[derive(Debug, Clone)]
pub struct CharTokenizer {
    max_len: usize,
}

/// Most bases one input may have when the checkpoint has no `tokenizer_config.json`:
/// 131,072, the longest sequences Caduceus was pre-trained on (the published checkpoints'
/// `model_max_length`). The model itself has no positional limit.
pub const DEFAULT_MAX_LEN: usize = 131_072;

impl CharTokenizer {
    /// A tokenizer for inputs of at most `max_len` bases.
    pub fn new(max_len: usize) -> Self {
        Self { max_len }
    }

    /// Reads `model_max_length` from `tokenizer_config.json` ([`DEFAULT_MAX_LEN`] without
    /// the file or the key).
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let file = dir.join("tokenizer_config.json");
        if !file.is_file() {
            return Ok(Self::new(DEFAULT_MAX_LEN));
        }
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io { path: file.clone(), source })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ModelError::Config { file: file.clone(), message: e.to_string() })?;
        let max_len = match value.get("model_max_length") {
            None => DEFAULT_MAX_LEN,
            Some(v) => v.as_u64().filter(|&n| n > 0).ok_or_else(|| ModelError::Config {
                file: file.clone(),
                message: format!("model_max_length {v} is not a positive integer"),
            })? as usize,
        };
        Ok(Self::new(max_len))
    }

    /// Most bases one input may have.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The id of one character.
    pub fn id(byte: u8) -> u32 {
        let upper = byte.to_ascii_uppercase();
        CHARACTERS.iter().position(|&c| c == upper).map_or(UNK_ID, |i| FIRST_CHAR + i as u32)
    }

    /// Token ids of a sequence (one per byte).
    pub fn tokenize(&self, seq: &[u8]) -> Vec<u32> {
        seq.iter().map(|&b| Self::id(b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_reference_vocabulary() {
        let tok = CharTokenizer::new(10);
        assert_eq!(tok.tokenize(b"ACGTN"), [7, 8, 9, 10, 11]);
        assert_eq!(tok.tokenize(b"acgtn"), [7, 8, 9, 10, 11]);
        assert_eq!(tok.tokenize(b"R-x\xff"), [UNK_ID; 4]);
    }
}
