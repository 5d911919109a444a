//! Byte tables for encoding and decoding bases.

/// Marks a byte that is not an IUPAC nucleotide letter.
pub(crate) const INVALID: u8 = 0xFF;
/// Marks a valid non-ACGT letter (N, R, Y, ...): stored as an exception run.
pub(crate) const OTHER: u8 = 4;
/// Set on lowercase (soft-masked) letters.
pub(crate) const LOWER: u8 = 0x80;

/// For each byte: 0..=3 for A/C/G/T, [`OTHER`] for other IUPAC codes (both
/// `| LOWER` when lowercase), or [`INVALID`].
pub(crate) static ENCODE: [u8; 256] = build_encode();

const fn build_encode() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let acgt = *b"ACGT";
    let mut i = 0;
    while i < 4 {
        t[acgt[i] as usize] = i as u8;
        t[(acgt[i] + 32) as usize] = i as u8 | LOWER;
        i += 1;
    }
    let other = *b"NURYSWKMBDHV";
    let mut j = 0;
    while j < other.len() {
        t[other[j] as usize] = OTHER;
        t[(other[j] + 32) as usize] = OTHER | LOWER;
        j += 1;
    }
    t
}

/// Uppercase letters of the four 2-bit codes.
pub(crate) const DECODE: [u8; 4] = *b"ACGT";

/// For each packed byte: its 4 bases as uppercase letters.
pub(crate) static LETTERS_OF_BYTE: [[u8; 4]; 256] = build_letters();

const fn build_letters() -> [[u8; 4]; 256] {
    let mut t = [[0u8; 4]; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 4 {
            t[b][k] = DECODE[(b >> (2 * k)) & 3];
            k += 1;
        }
        b += 1;
    }
    t
}

/// For each packed byte: how many of its 4 bases are G or C.
pub(crate) static GC_IN_BYTE: [u8; 256] = build_gc();

const fn build_gc() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let mut n = 0;
        let mut k = 0;
        while k < 4 {
            let code = (b >> (2 * k)) & 3;
            if code == 1 || code == 2 {
                n += 1;
            }
            k += 1;
        }
        t[b] = n;
        b += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_iupac_letter_is_valid_and_others_are_not() {
        for &b in b"ACGTacgt" {
            assert!(ENCODE[b as usize] & !LOWER < 4, "{}", b as char);
        }
        for &b in b"NnRrYyKkMmSsWwBbDdHhVvUu" {
            assert_eq!(ENCODE[b as usize] & !LOWER, OTHER, "{}", b as char);
        }
        for &b in b"EFIJLOPQXZ*-.0 >\t" {
            assert_eq!(ENCODE[b as usize], INVALID, "{}", b as char);
        }
        assert_eq!(ENCODE[b'a' as usize], LOWER);
    }

    #[test]
    fn gc_table_counts_c_and_g() {
        // bases (LSB first): C, G, A, T
        let byte = 1 | (2 << 2) | (3 << 6);
        assert_eq!(GC_IN_BYTE[byte], 2);
        assert_eq!(GC_IN_BYTE[0], 0);
        assert_eq!(GC_IN_BYTE[0b0101_0101], 4);
    }
}
