//! VCF (plain, gzip or bgzip) → table `variants` (chrom, pos, id, ref, alt,
//! qual, filter), with every REF allele checked against the stored genome.
//!
//! Only the first seven columns are read (by hand: they are fixed by the VCF
//! specification, and genotype columns are not stored). `pos` stays 1-based
//! as in the VCF; `chrom` is the assembly's name for the chromosome (alias
//! rule of [`crate::tracks::chroms`]). A REF that differs from the genome
//! (case-insensitive; `N` in either matches anything) is counted and the
//! first ones are reported; with `strict` it is an error.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, StringBuilder};
use arrow::datatypes::DataType;

use crate::catalog::CatalogBatch;
use crate::annotation::{check_table_free, col, write_table};
use crate::error::Result;
use crate::meta::{TableMeta, table_key};
use crate::store::Store;
use crate::tracks::chroms::{ChromResolver, Skipped};
use crate::tracks::text::{Lines, err};

/// Options of `omicsdb ingest variants`.
#[derive(Debug, Clone)]
pub struct VariantIngest {
    /// Assembly the VCF is called against (must exist).
    pub assembly: String,
    /// VCF path (`.vcf`, `.vcf.gz`, `.vcf.bgz`).
    pub path: PathBuf,
    /// Unknown chromosomes, positions past the end and REF mismatches are errors.
    pub strict: bool,
    /// Replace an existing `variants` table.
    pub replace: bool,
}

/// One REF allele that differs from the genome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefMismatch {
    /// Chromosome as in the VCF.
    pub chrom: String,
    /// 1-based position.
    pub pos: u64,
    /// REF in the VCF.
    pub vcf_ref: String,
    /// The genome's bases at the same place.
    pub genome: String,
}

/// What a variant ingest did.
#[derive(Debug, Clone)]
pub struct VariantReport {
    /// The committed table.
    pub table: TableMeta,
    /// Records whose REF was checked against the genome.
    pub checked: u64,
    /// How many REF alleles differ from the genome.
    pub mismatches: u64,
    /// The first (at most 10) of them.
    pub first_mismatches: Vec<RefMismatch>,
    /// Records that did not fit the assembly.
    pub skipped: Skipped,
}

/// `omicsdb ingest variants`: reads a VCF into the `variants` table in one
/// catalog commit, checking REF alleles against the stored genome.
pub fn ingest_variants(store: &Store, opts: &VariantIngest) -> Result<VariantReport> {
    let assembly = store.assembly(&opts.assembly)?;
    let genome = store.genome(&opts.assembly)?;
    let resolver = ChromResolver::new(&assembly);
    let _guard = store.write_guard();
    check_table_free(store, "variants", opts.replace)?;
    let path = opts.path.as_path();
    let mut lines = Lines::open(path)?;
    let (mut chrom_b, mut pos_b, mut id_b, mut ref_b, mut alt_b, mut qual_b, mut filter_b) = (
        StringBuilder::new(),
        Int64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        Float64Builder::new(),
        StringBuilder::new(),
    );
    let mut rows: Vec<(usize, u64, [String; 5], Option<f64>)> = Vec::new();
    let mut skipped = Skipped::default();
    let (mut checked, mut mismatches, mut first) = (0u64, 0u64, Vec::new());
    while let Some((no, line)) = lines.next_line(false)? {
        let f: Vec<&str> = line.splitn(9, '\t').collect();
        if f.len() < 8 {
            return Err(err(path, no, format!("expected at least 8 tab-separated VCF columns, found {}", f.len())));
        }
        let pos: u64 = match f[1].parse::<u64>() {
            Ok(p) if p > 0 && p <= i64::MAX as u64 => p,
            Ok(p) if p > 0 => {
                return Err(err(path, no, format!("POS '{}' is too large (at most {}, the table's Int64)", f[1], i64::MAX)));
            }
            Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
                return Err(err(path, no, format!("POS '{}' is too large (at most {}, the table's Int64)", f[1], i64::MAX)));
            }
            _ => return Err(err(path, no, format!("POS '{}' is not a positive integer", f[1]))),
        };
        let Some(c) = resolver.resolve(f[0]) else {
            if opts.strict {
                return Err(err(path, no, format!("chromosome '{}' is not in the assembly (--strict)", f[0])));
            }
            *skipped.unknown.entry(f[0].to_string()).or_default() += 1;
            continue;
        };
        let reference = f[3];
        // `pos <= i64::MAX`, so this only overflows for a REF longer than
        // any file; an overflow is past every chromosome's end anyway.
        let end = (pos - 1).checked_add(reference.len() as u64).unwrap_or(u64::MAX);
        if end > resolver.length(c) {
            if opts.strict {
                return Err(err(path, no, format!("{}:{pos} is past the end of {} (--strict)", f[0], resolver.name(c))));
            }
            skipped.past_end += 1;
            continue;
        }
        if reference.is_empty() || reference == "." {
            return Err(err(path, no, "empty REF"));
        }
        let bases = genome.sequence(resolver.name(c), pos - 1, end, false)?;
        checked += 1;
        let same = reference.bytes().zip(&bases).all(|(a, b)| {
            let a = a.to_ascii_uppercase();
            a == *b || a == b'N' || *b == b'N'
        });
        if !same {
            mismatches += 1;
            if opts.strict {
                return Err(err(path, no, format!("REF {reference} at {}:{pos} differs from the genome ({}) (--strict)", f[0], String::from_utf8_lossy(&bases))));
            }
            if first.len() < 10 {
                first.push(RefMismatch { chrom: f[0].to_string(), pos, vcf_ref: reference.to_string(), genome: String::from_utf8_lossy(&bases).into_owned() });
            }
        }
        let qual = match f[5] {
            "." => None,
            q => Some(q.parse::<f64>().map_err(|_| err(path, no, format!("QUAL '{q}' is not a number")))?),
        };
        rows.push((c, pos, [f[2].to_string(), reference.to_string(), f[4].to_string(), f[6].to_string(), String::new()], qual));
    }
    rows.sort_by_key(|r| (r.0, r.1));
    let dot = |s: &str| if s == "." { None } else { Some(s.to_string()) };
    for (c, pos, [id, reference, alt, filter, _], qual) in &rows {
        chrom_b.append_value(resolver.name(*c));
        pos_b.append_value(*pos as i64);
        id_b.append_option(dot(id));
        ref_b.append_value(reference);
        alt_b.append_option(dot(alt));
        qual_b.append_option(*qual);
        filter_b.append_option(dot(filter));
    }
    let (s, i, fl) = (DataType::Utf8, DataType::Int64, DataType::Float64);
    let columns = vec![
        col("chrom", &s, "chromosome (assembly name)"),
        col("pos", &i, "1-based position of the first REF base, as in the VCF"),
        col("id", &s, "variant identifier, e.g. rsID; NULL for '.'"),
        col("ref", &s, "reference allele"),
        col("alt", &s, "alternate alleles, comma-separated; NULL for '.'"),
        col("qual", &fl, "phred-scaled quality; NULL for '.'"),
        col("filter", &s, "PASS or the failed filters; NULL for '.'"),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(chrom_b.finish()),
        Arc::new(pos_b.finish()),
        Arc::new(id_b.finish()),
        Arc::new(ref_b.finish()),
        Arc::new(alt_b.finish()),
        Arc::new(qual_b.finish()),
        Arc::new(filter_b.finish()),
    ];
    let table = write_table(store, "variants", &assembly.name, &opts.path.display().to_string(), columns, arrays)?;
    let mut batch = CatalogBatch::new();
    batch.put(table_key("variants"), &table)?;
    store.commit(batch)?;
    Ok(VariantReport { table, checked, mismatches, first_mismatches: first, skipped })
}

impl VariantReport {
    /// The warning to print about mismatches and skipped records, if any.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.mismatches > 0 {
            let shown: Vec<String> =
                self.first_mismatches.iter().map(|m| format!("{}:{} REF {} genome {}", m.chrom, m.pos, m.vcf_ref, m.genome)).collect();
            parts.push(format!("{} of {} REF alleles differ from the genome: {}", self.mismatches, self.checked, shown.join(", ")));
        }
        parts.extend(self.skipped.message());
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GenomeIngest;
    use crate::test_util::{TempDir, write_file};

    const HEADER: &str = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";

    /// A store with assembly `toy` (chr1 = ACGTACGTAC) and `vcf` written
    /// beside it; the ingest result.
    fn ingest(tag: &str, vcf: &str, strict: bool) -> Result<VariantReport> {
        let dir = TempDir::new(tag);
        let fasta = write_file(&dir, "toy.fa", b">chr1\nACGTACGTAC\n");
        let store = Store::open(dir.join("db")).expect("open");
        store
            .ingest_genome(&GenomeIngest { assembly: "toy".into(), path: fasta, width: 4, stride: 4, window_set: None, replace: false })
            .expect("genome");
        let path = write_file(&dir, "calls.vcf", format!("{HEADER}{vcf}").as_bytes());
        ingest_variants(&store, &VariantIngest { assembly: "toy".into(), path, strict, replace: false })
    }

    #[test]
    fn reads_positions_and_checks_ref() {
        let r = ingest("vcf-ok", "chr1\t2\trs1\tC\tT\t50\tPASS\t.\nchr1\t9\t.\tAC\tA\t.\t.\t.\n", true).unwrap();
        assert_eq!((r.table.rows, r.checked, r.mismatches), (2, 2, 0));
    }

    /// POS beyond what the table's Int64 `pos` holds, with REFs long enough
    /// that `POS - 1 + len(REF)` passes u64::MAX, is an error at the line,
    /// in both modes (it used to overflow).
    #[test]
    fn huge_pos_is_an_error_naming_file_and_line() {
        for pos in ["18446744073709551615", "9223372036854775808", "99999999999999999999"] {
            for reference in ["A", "AC", "ACGT"] {
                for strict in [false, true] {
                    let vcf = format!("chr1\t2\t.\tC\tT\t.\tPASS\t.\nchr1\t{pos}\t.\t{reference}\tA\t.\tPASS\t.\n");
                    let e = ingest("vcf-huge", &vcf, strict).unwrap_err().to_string();
                    assert!(e.contains("calls.vcf, line 4") && e.contains(&format!("POS '{pos}'")) && e.contains("too large"), "{pos} {reference}: {e}");
                }
            }
        }
        // The largest Int64 position is past the end of chr1: skipped, or an error with --strict.
        let vcf = "chr1\t9223372036854775807\t.\tACGT\tA\t.\tPASS\t.\n";
        assert_eq!(ingest("vcf-max", vcf, false).unwrap().skipped.past_end, 1);
        let e = ingest("vcf-max", vcf, true).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("past the end of chr1"), "{e}");
    }

    #[test]
    fn bad_pos_is_an_error() {
        for pos in ["0", "-1", "1.5", "x", ""] {
            let e = ingest("vcf-bad", &format!("chr1\t{pos}\t.\tA\tC\t.\t.\t.\n"), false).unwrap_err().to_string();
            assert!(e.contains("line 3") && e.contains(&format!("POS '{pos}' is not a positive integer")), "{pos}: {e}");
        }
    }
}
