//! Alleles and the model windows that carry them.
//!
//! A variant is `(chrom, pos, ref, alt)` as in a VCF: `pos` is the 1-based position
//! of the first REF base, so the reference allele spans `[pos − 1, pos − 1 + len(ref))`
//! (0-based, half-open). A model window of `len` bases is cut from the *haplotype*:
//! the genome left of the allele, the allele, the genome right of the reference
//! allele. It is centred on the allele: with `a = len(allele)` the window starts
//! `len/2 − a/2` bases (integer halves) before the allele's first base. So
//!
//! * the reference window is exactly `predict_omics`'s window for the region of the
//!   REF allele (centre `pos − 1 + len(ref)/2`), and an SNV's alt window is the
//!   reference window with one base changed;
//! * for an indel the alt window is re-centred on the alt allele and re-filled from
//!   the genome on both sides, so it keeps the model's input length: a deletion
//!   pulls in more flank, an insertion pushes flank out. An allele longer than the
//!   window is cut to its central `len` bases.
//!
//! Past either chromosome end the window is `N`, as `predict_omics` pads.

/// What an ALT field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltKind {
    /// A sequence of bases (`A`, `ACG`, `N`).
    Sequence,
    /// No sequence to score: a symbolic allele (`<DEL>`, `<INS:ME>`), a breakend
    /// (`G]17:198982]`, `.A`), the upstream-deletion `*`, or a missing `.`.
    Symbolic,
    /// Several comma-separated alleles (a multi-allelic record), with their count.
    Multi(usize),
}

/// Classifies an ALT value (see [`AltKind`]).
pub fn classify_alt(alt: &str) -> AltKind {
    if alt.contains(',') {
        return AltKind::Multi(alt.split(',').count());
    }
    let symbolic = alt.is_empty()
        || alt == "."
        || alt == "*"
        || alt.starts_with('<')
        || alt.contains('[')
        || alt.contains(']')
        || alt.starts_with('.')
        || alt.ends_with('.');
    if symbolic { AltKind::Symbolic } else { AltKind::Sequence }
}

/// `Err` naming the first character of `allele` that is not a base (`ACGTN`,
/// either case).
pub fn check_bases(allele: &str) -> Result<(), String> {
    match allele.char_indices().find(|(_, c)| !matches!(c.to_ascii_uppercase(), 'A' | 'C' | 'G' | 'T' | 'N')) {
        None if allele.is_empty() => Err("is empty".into()),
        None => Ok(()),
        Some((i, c)) => Err(format!("has '{}' at position {} (only A, C, G, T, N)", c.escape_default(), i + 1)),
    }
}

/// True when the genome's bases `genome` carry the allele `vcf_ref`: same length,
/// equal case-insensitively, `N` in either matching anything (the ingest's rule).
pub fn ref_matches(vcf_ref: &[u8], genome: &[u8]) -> bool {
    vcf_ref.len() == genome.len()
        && vcf_ref.iter().zip(genome).all(|(a, b)| {
            let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
            a == b || a == b'N' || b == b'N'
        })
}

/// The genome over `[start, end)` (which may run past either end of a chromosome of
/// `chrom_len` bp), `N` outside it; fetched with `fetch(start, end)` inside it.
fn span<E>(chrom_len: u64, start: i64, end: i64, fetch: &mut impl FnMut(u64, u64) -> Result<Vec<u8>, E>) -> Result<Vec<u8>, E> {
    let len = (end - start).max(0) as usize;
    let (fs, fe) = (start.max(0), end.min(chrom_len as i64));
    let mut out = Vec::with_capacity(len);
    out.extend(std::iter::repeat_n(b'N', (fs - start).clamp(0, len as i64) as usize));
    if fe > fs {
        out.extend(fetch(fs as u64, fe as u64)?);
    }
    out.resize(len, b'N');
    Ok(out)
}

/// The `len`-base window of the haplotype carrying `allele` in place of the genome's
/// `[p0, p0 + ref_len)`, centred on the allele (module docs), uppercased, with every
/// byte other than `ACGT` made `N`.
pub fn allele_window<E>(
    chrom_len: u64,
    p0: u64,
    ref_len: usize,
    allele: &[u8],
    len: usize,
    mut fetch: impl FnMut(u64, u64) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let a = allele.len() as i64;
    let (p0, ref_len) = (p0 as i64, ref_len as i64);
    // Haplotype coordinates: 0 is the allele's first base.
    let h0 = a / 2 - (len / 2) as i64;
    let h1 = h0 + len as i64;
    let mut out = Vec::with_capacity(len);
    if h0 < 0 {
        out.extend(span(chrom_len, p0 + h0, p0 + h1.min(0), &mut fetch)?);
    }
    let (a0, a1) = (h0.max(0), h1.min(a));
    if a1 > a0 {
        out.extend_from_slice(&allele[a0 as usize..a1 as usize]);
    }
    if h1 > a {
        let right = p0 + ref_len;
        out.extend(span(chrom_len, right + (h0.max(a) - a), right + (h1 - a), &mut fetch)?);
    }
    for b in &mut out {
        *b = match b.to_ascii_uppercase() {
            c @ (b'A' | b'C' | b'G' | b'T') => c,
            _ => b'N',
        };
    }
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROM: &[u8] = b"AAAACCCCGGGGTTTT"; // 16 bp

    fn window(p0: u64, ref_len: usize, allele: &[u8], len: usize) -> String {
        let fetch = |s: u64, e: u64| Ok::<_, ()>(CHROM[s as usize..e as usize].to_vec());
        String::from_utf8(allele_window(CHROM.len() as u64, p0, ref_len, allele, len, fetch).unwrap()).unwrap()
    }

    #[test]
    fn the_reference_window_is_predict_omics_window_of_the_ref_allele() {
        use omicsdb_model::omics::spec::context_sequence;
        for (p0, ref_len, len) in [(5u64, 1usize, 6usize), (0, 1, 5), (15, 1, 8), (6, 3, 7), (2, 4, 4), (9, 2, 16)] {
            let allele = &CHROM[p0 as usize..p0 as usize + ref_len];
            let fetch = |s: u64, e: u64| Ok::<_, ()>(CHROM[s as usize..e as usize].to_vec());
            let expected = context_sequence(p0 + ref_len as u64 / 2, len, CHROM.len() as u64, fetch).unwrap();
            assert_eq!(window(p0, ref_len, allele, len).as_bytes(), expected, "p0 {p0} ref_len {ref_len} len {len}");
        }
    }

    #[test]
    fn an_snv_changes_one_base_in_place() {
        assert_eq!(window(5, 1, b"C", 6), "AACCCC");
        assert_eq!(window(5, 1, b"t", 6), "AACTCC");
    }

    #[test]
    fn indels_are_recentred_and_refilled_to_the_input_length() {
        // Deletion of CCGG (p0 6, REF CCGG, ALT C): flank pulled in from the right.
        // Haplotype: AAAACC + C + GGTTTT, the window centred on the 1-base allele.
        assert_eq!(window(6, 4, b"C", 6), "ACCCGG");
        // Insertion of TTT after A at p0 3: A -> ATTT.
        let ins = window(3, 1, b"ATTT", 8);
        assert_eq!(ins, "AAATTTCC");
        // An allele longer than the window keeps its central bases.
        assert_eq!(window(3, 1, b"ACGTACGTAC", 4), "TACG");
    }

    #[test]
    fn windows_are_n_past_the_chromosome_ends() {
        assert_eq!(window(0, 1, b"A", 4), "NNAA");
        assert_eq!(window(15, 1, b"G", 4), "TTGN");
    }

    #[test]
    fn alts_are_classified() {
        for s in ["A", "acgt", "N"] {
            assert_eq!(classify_alt(s), AltKind::Sequence, "{s}");
        }
        for s in ["<DEL>", "<INS:ME:ALU>", "*", ".", "", "G]17:198982]", "]13:123456]T", ".A", "A."] {
            assert_eq!(classify_alt(s), AltKind::Symbolic, "{s}");
        }
        assert_eq!(classify_alt("A,T"), AltKind::Multi(2));
        assert!(check_bases("ACGTn").is_ok());
        assert!(check_bases("AXG").unwrap_err().contains("'X' at position 2"));
        assert!(check_bases("").is_err());
        assert!(ref_matches(b"acn", b"ACG") && !ref_matches(b"AC", b"AG") && !ref_matches(b"A", b"AC"));
    }
}
