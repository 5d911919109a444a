//! The HyenaDNA character tokenizer (`CharacterTokenizer(characters=['A','C','G','T','N'])`).
//!
//! One token per byte, case-sensitive, exactly as the reference: `A C G T N` map to
//! 7..=11; lowercase `a c g t n` map to `[UNK]` = 6 (the reference tokenizer does not
//! upper-case; upper-casing is a pipeline choice left to the caller). No special tokens
//! are added, which is what the HyenaDNA data loaders feed the model.
//!
//! [`tokenize`] rejects any other byte with an error naming its position, so that a
//! protein sequence or a stray character is not silently embedded as `[UNK]`;
//! [`tokenize_lossy`] maps every other byte to `[UNK]` like the reference does.

use crate::ModelError;

/// `[CLS]`: added in front by the standalone tokenizer's default call.
pub const CLS_ID: u32 = 0;
/// `[SEP]`: end of sequence (also EOS); appended by the default call.
pub const SEP_ID: u32 = 1;
/// `[BOS]`: never produced by the tokenizer.
pub const BOS_ID: u32 = 2;
/// `[MASK]`: never produced by the tokenizer.
pub const MASK_ID: u32 = 3;
/// `[PAD]`: padding id; batches are padded on the left (see [`pad_left`]).
pub const PAD_ID: u32 = 4;
/// `[RESERVED]`: never produced by the tokenizer.
pub const RESERVED_ID: u32 = 5;
/// `[UNK]`: lowercase bases and (in [`tokenize_lossy`]) any other byte.
pub const UNK_ID: u32 = 6;
/// Id of `A`.
pub const A_ID: u32 = 7;
/// Id of `C`.
pub const C_ID: u32 = 8;
/// Id of `G`.
pub const G_ID: u32 = 9;
/// Id of `T`.
pub const T_ID: u32 = 10;
/// Id of `N`.
pub const N_ID: u32 = 11;
/// Number of tokenizer ids (`vocab_size` in the configs). The embedding table has
/// this rounded up to `pad_vocab_size_multiple` (16 rows); ids 12..16 are never produced.
pub const VOCAB_SIZE: usize = 12;

/// The token strings by id, for display.
pub const VOCAB: [&str; VOCAB_SIZE] = [
    "[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N",
];

/// Whether a byte is a nucleotide letter every family's tokenizer accepts: `A C G T N`,
/// or lowercase `a c g t n` (soft-masked bases, which the models read as `[UNK]`).
pub fn is_nucleotide(byte: u8) -> bool {
    matches!(byte, b'A' | b'C' | b'G' | b'T' | b'N' | b'a' | b'c' | b'g' | b't' | b'n')
}

/// The id of one byte, or `None` for a byte [`tokenize`] rejects.
pub fn token_id(byte: u8) -> Option<u32> {
    match byte {
        b'A' => Some(A_ID),
        b'C' => Some(C_ID),
        b'G' => Some(G_ID),
        b'T' => Some(T_ID),
        b'N' => Some(N_ID),
        b'a' | b'c' | b'g' | b't' | b'n' => Some(UNK_ID),
        _ => None,
    }
}

/// Tokenizes a nucleotide sequence without special tokens.
///
/// Uppercase `ACGTN` get their own ids, lowercase `acgtn` become `[UNK]` (as in the
/// reference); any other byte is an [`ModelError::InvalidBase`] naming its position.
pub fn tokenize(seq: &[u8]) -> Result<Vec<u32>, ModelError> {
    seq.iter()
        .enumerate()
        .map(|(position, &byte)| token_id(byte).ok_or(ModelError::InvalidBase { position, byte }))
        .collect()
}

/// Tokenizes exactly like the reference: any byte other than `ACGTN` becomes `[UNK]`.
pub fn tokenize_lossy(seq: &[u8]) -> Vec<u32> {
    seq.iter().map(|&b| token_id(b).unwrap_or(UNK_ID)).collect()
}

/// Wraps ids as the standalone tokenizer's default call does: `[CLS] ids [SEP]`.
pub fn with_special_tokens(ids: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len() + 2);
    out.push(CLS_ID);
    out.extend_from_slice(ids);
    out.push(SEP_ID);
    out
}

/// Left-pads rows with `[PAD]` to the longest, as the reference (`padding_side='left'`).
///
/// Returns the row-major ids and the padded length. HyenaDNA has no attention mask:
/// the pads flow through the causal convolutions and change the outputs of the real
/// tokens (by O(1)); run unequal lengths separately when that matters.
pub fn pad_left(rows: &[Vec<u32>]) -> (Vec<u32>, usize) {
    let len = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(rows.len() * len);
    for row in rows {
        out.extend(std::iter::repeat_n(PAD_ID, len - row.len()));
        out.extend_from_slice(row);
    }
    (out, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_base_like_the_reference() {
        assert_eq!(tokenize(b"ACGTN").unwrap(), vec![7, 8, 9, 10, 11]);
        assert_eq!(tokenize(b"ACGTNac").unwrap(), vec![7, 8, 9, 10, 11, 6, 6]);
        assert_eq!(tokenize(b"acgtn").unwrap(), vec![6; 5]);
        assert_eq!(tokenize(b"").unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn rejects_other_bytes_naming_the_position() {
        let err = tokenize(b"ACGRT").unwrap_err();
        assert!(matches!(err, ModelError::InvalidBase { position: 3, byte: b'R' }));
        assert!(err.to_string().contains("position 3"));
        assert_eq!(tokenize_lossy(b"AC R\n"), vec![7, 8, 6, 6, 6]);
    }

    #[test]
    fn special_tokens_and_left_padding() {
        assert_eq!(with_special_tokens(&[7, 8]), vec![0, 7, 8, 1]);
        let (ids, len) = pad_left(&[vec![7, 8, 9], vec![10]]);
        assert_eq!(len, 3);
        assert_eq!(ids, vec![7, 8, 9, 4, 4, 10]);
        assert_eq!(VOCAB[PAD_ID as usize], "[PAD]");
    }
}
