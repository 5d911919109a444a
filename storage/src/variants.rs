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
        let pos: u64 = match f[1].parse() {
            Ok(p) if p > 0 => p,
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
        let end = pos - 1 + reference.len() as u64;
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

