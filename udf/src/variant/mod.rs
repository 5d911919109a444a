//! Variant effects: `score_variant` (omics models), `variant_loglik` (language
//! models), `ism` (in-silico saturation mutagenesis), and [`VariantSites`], which turns
//! `(chrom, pos, ref, alt)` into the reference and alternate model windows for them
//! and for the `omicsdb score-variants` batch job.
//!
//! Every variant is checked before it is scored:
//!
//! * `chrom` is the assembly's name or an alias of it (`20`, `chr20`, `MT`/`chrM`: the
//!   rule tracks and VCF ingest use), and the REF allele must lie on it;
//! * REF and ALT are bases (`ACGTN`, either case); an ALT with no sequence (symbolic
//!   `<DEL>`, breakends, `*`, `.`) scores NULL; a multi-allelic ALT (`A,T`) is an error
//!   saying how to split it;
//! * REF must match the genome (case-insensitive, `N` matching anything): a mismatch is
//!   an error naming the variant, or, with the session setting
//!   `SET omicsdb.variant_ref_mismatch = 'null'`, a NULL result counted in
//!   [`crate::CallStats::ref_mismatches`].
//!
//! The windows are cut as [`allele`] documents (centred on the allele; indels re-filled
//! from the genome to the model's input length).

pub mod allele;
pub mod ism;
pub mod loglik;
pub mod score;

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use omicsdb_storage::tracks::chroms::ChromResolver;
use omicsdb_storage::{Genome, Store};

use crate::error::UdfError;
use allele::{AltKind, allele_window, check_bases, classify_alt, ref_matches};

pub use ism::IsmFunc;
pub use loglik::VariantLoglikFunc;
pub use score::{ScoreVariantFunc, ScoredTrack, TrackScore, VariantScorer};

/// What to do with a REF allele that differs from the genome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRefMismatch {
    /// An error naming the variant (the default).
    #[default]
    Error,
    /// A NULL result, counted.
    Null,
}

impl OnRefMismatch {
    /// The session's choice (`omicsdb.variant_ref_mismatch`), an error for a value
    /// other than `error` or `null`.
    pub fn of(function: &'static str, config: &ConfigOptions) -> Result<Self, UdfError> {
        let value = config
            .extensions
            .get::<omicsdb_sql::options::OmicsdbOptions>()
            .map_or_else(|| "error".to_string(), |o| o.variant_ref_mismatch.clone());
        match value.to_ascii_lowercase().as_str() {
            "error" => Ok(Self::Error),
            "null" => Ok(Self::Null),
            other => Err(UdfError::Argument {
                function,
                argument: "ref",
                message: format!("omicsdb.variant_ref_mismatch is '{other}'; it must be 'error' or 'null'"),
            }),
        }
    }
}

/// Why a variant cannot be scored as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantProblem {
    /// The chromosome is not in the assembly under any alias.
    #[error("chromosome '{chrom}' is not in assembly '{assembly}'")]
    UnknownChrom {
        /// As given.
        chrom: String,
        /// The model's assembly.
        assembly: String,
    },
    /// `pos` is below 1.
    #[error("pos {0} is not a 1-based position (VCF POS starts at 1)")]
    BadPos(i64),
    /// The REF allele runs past the chromosome's end.
    #[error("REF runs past the end of {chrom} ({len} bp)")]
    PastEnd {
        /// Assembly name.
        chrom: String,
        /// Its length.
        len: u64,
    },
    /// REF is not a run of bases.
    #[error("REF '{allele}' {why}")]
    BadRef {
        /// As given.
        allele: String,
        /// What is wrong.
        why: String,
    },
    /// ALT is not a run of bases.
    #[error("ALT '{allele}' {why}")]
    BadAlt {
        /// As given.
        allele: String,
        /// What is wrong.
        why: String,
    },
    /// Several alleles in one ALT.
    #[error(
        "ALT '{alt}' holds {count} alleles; score one ALT per row, e.g. \
         SELECT ... FROM (SELECT chrom, pos, ref, unnest(string_to_array(alt, ',')) AS alt FROM variants)"
    )]
    MultiAllelic {
        /// As given.
        alt: String,
        /// How many.
        count: usize,
    },
    /// REF differs from the genome.
    #[error(
        "REF {vcf_ref} differs from the genome ({genome}); check the assembly, or \
         SET omicsdb.variant_ref_mismatch = 'null' to score such variants as NULL"
    )]
    RefMismatch {
        /// As given.
        vcf_ref: String,
        /// The genome's bases.
        genome: String,
    },
}

/// A variant resolved against the assembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The assembly's chromosome name.
    pub chrom: String,
    /// 0-based start of the REF allele.
    pub p0: u64,
    /// REF length.
    pub ref_len: usize,
    /// The ALT allele, uppercased.
    pub alt: Vec<u8>,
}

/// A variant ready to score, or why it gives NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// The reference and alternate windows.
    Windows {
        /// The resolved variant.
        site: Site,
        /// The reference window.
        reference: Vec<u8>,
        /// The alternate window (same length).
        alt: Vec<u8>,
    },
    /// An ALT without a sequence (symbolic, breakend, `*`, `.`).
    Symbolic,
}

/// `"chrom:pos REF>ALT"`, how errors name a variant.
pub fn label(chrom: &str, pos: i64, reference: &str, alt: &str) -> String {
    format!("{chrom}:{pos} {reference}>{alt}")
}

/// Turns variants into model windows of one length over one assembly.
#[derive(Debug, Clone)]
pub struct VariantSites {
    genome: Arc<Genome>,
    resolver: ChromResolver,
    assembly: String,
    len: usize,
}

impl VariantSites {
    /// Windows of `len` bases over `assembly` of `store`.
    pub fn new(store: &Store, assembly: &str, len: usize) -> Result<Self, UdfError> {
        let meta = store.assembly(assembly)?;
        Ok(Self { genome: store.genome(assembly)?, resolver: ChromResolver::new(&meta), assembly: assembly.to_string(), len })
    }

    /// The window length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for zero-length windows (never for a model's).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The genome.
    pub fn genome(&self) -> &Genome {
        &self.genome
    }

    /// Resolves `chrom` (alias rule) to the assembly's name and length.
    pub fn chrom(&self, chrom: &str) -> Result<(String, u64), VariantProblem> {
        let i = self
            .resolver
            .resolve(chrom)
            .ok_or_else(|| VariantProblem::UnknownChrom { chrom: chrom.to_string(), assembly: self.assembly.clone() })?;
        Ok((self.resolver.name(i).to_string(), self.resolver.length(i)))
    }

    /// Checks one variant (module docs) and cuts its two windows. The outer error is
    /// the genome failing to read; the inner one what is wrong with the variant.
    pub fn prepare(
        &self,
        chrom: &str,
        pos: i64,
        reference: &str,
        alt: &str,
    ) -> Result<Result<Prepared, VariantProblem>, UdfError> {
        let problem = |p| Ok(Err(p));
        let (name, chrom_len) = match self.chrom(chrom) {
            Ok(c) => c,
            Err(p) => return problem(p),
        };
        if pos < 1 {
            return problem(VariantProblem::BadPos(pos));
        }
        if let Err(why) = check_bases(reference) {
            return problem(VariantProblem::BadRef { allele: reference.to_string(), why });
        }
        let p0 = (pos - 1) as u64;
        if p0.saturating_add(reference.len() as u64) > chrom_len {
            return problem(VariantProblem::PastEnd { chrom: name, len: chrom_len });
        }
        match classify_alt(alt) {
            AltKind::Symbolic => return Ok(Ok(Prepared::Symbolic)),
            AltKind::Multi(count) => return problem(VariantProblem::MultiAllelic { alt: alt.to_string(), count }),
            AltKind::Sequence => {}
        }
        if let Err(why) = check_bases(alt) {
            return problem(VariantProblem::BadAlt { allele: alt.to_string(), why });
        }
        let ref_len = reference.len();
        let genome_ref = self.genome.sequence(&name, p0, p0 + ref_len as u64, false)?;
        if !ref_matches(reference.as_bytes(), &genome_ref) {
            return problem(VariantProblem::RefMismatch {
                vcf_ref: reference.to_string(),
                genome: String::from_utf8_lossy(&genome_ref).into_owned(),
            });
        }
        let fetch = |s: u64, e: u64| self.genome.sequence(&name, s, e, false);
        let ref_window = allele_window(chrom_len, p0, ref_len, &genome_ref, self.len, fetch)?;
        let alt_allele = alt.as_bytes().to_ascii_uppercase();
        let alt_window = allele_window(chrom_len, p0, ref_len, &alt_allele, self.len, fetch)?;
        Ok(Ok(Prepared::Windows {
            site: Site { chrom: name, p0, ref_len, alt: alt_allele },
            reference: ref_window,
            alt: alt_window,
        }))
    }
}

/// Reads the `(chrom, pos, ref, alt)` argument columns of a variant function.
pub(crate) struct VariantColumns<'a> {
    chrom: Vec<Option<&'a [u8]>>,
    pos: arrow::array::Int64Array,
    reference: Vec<Option<&'a [u8]>>,
    alt: Vec<Option<&'a [u8]>>,
}

impl<'a> VariantColumns<'a> {
    /// The first four arguments, materialized as `arrays`.
    pub(crate) fn new(function: &'static str, arrays: &'a [arrow::array::ArrayRef]) -> datafusion::common::Result<Self> {
        use arrow::array::Array;
        let pos = arrow::compute::cast(&arrays[1], &arrow::datatypes::DataType::Int64)?;
        let pos = pos
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .cloned()
            .unwrap_or_else(|| arrow::array::Int64Array::new_null(arrays[1].len()));
        Ok(Self {
            chrom: crate::args::string_rows(function, "chrom", &arrays[0])?,
            pos,
            reference: crate::args::string_rows(function, "ref", &arrays[2])?,
            alt: crate::args::string_rows(function, "alt", &arrays[3])?,
        })
    }

    /// Row `i` as strings, `None` when any of them is NULL.
    pub(crate) fn row(&self, i: usize) -> Option<(String, i64, String, String)> {
        use arrow::array::Array;
        let text = |v: &Vec<Option<&[u8]>>| v[i].map(|b| String::from_utf8_lossy(b).into_owned());
        if !self.pos.is_valid(i) {
            return None;
        }
        Some((text(&self.chrom)?, self.pos.value(i), text(&self.reference)?, text(&self.alt)?))
    }
}

/// The windows of every row, `None` for a row that scores NULL (a NULL argument, a
/// symbolic ALT, a REF mismatch under `omicsdb.variant_ref_mismatch = 'null'`).
/// Each row is cut from the first of `sites` whose assembly has its chromosome.
pub(crate) fn prepare_rows(
    function: &'static str,
    sites: &[VariantSites],
    columns: &VariantColumns<'_>,
    rows: usize,
    on_mismatch: OnRefMismatch,
    stats: &crate::CallStats,
) -> Result<Vec<Option<(Vec<u8>, Vec<u8>)>>, UdfError> {
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some((chrom, pos, reference, alt)) = columns.row(i) else {
            out.push(None);
            continue;
        };
        let prepared = match sites.iter().find(|s| s.chrom(&chrom).is_ok()) {
            Some(site) => site.prepare(&chrom, pos, &reference, &alt)?,
            None => Err(VariantProblem::UnknownChrom {
                chrom: chrom.clone(),
                assembly: sites.iter().map(|s| s.assembly.as_str()).collect::<Vec<_>>().join(", "),
            }),
        };
        match prepared {
            Ok(Prepared::Windows { reference, alt, .. }) => out.push(Some((reference, alt))),
            Ok(Prepared::Symbolic) => out.push(None),
            Err(VariantProblem::RefMismatch { .. }) if on_mismatch == OnRefMismatch::Null => {
                stats.ref_mismatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                out.push(None);
            }
            Err(problem) => {
                return Err(UdfError::Variant { function, variant: label(&chrom, pos, &reference, &alt), problem });
            }
        }
    }
    Ok(out)
}

/// The model inputs of row windows: each row's reference then alternate window, `None`
/// twice for a row without windows ([`crate::batching::evaluate`]'s rows).
pub(crate) fn window_inputs(windows: &[Option<(Vec<u8>, Vec<u8>)>]) -> Vec<Option<&[u8]>> {
    windows
        .iter()
        .flat_map(|w| match w {
            Some((r, a)) => [Some(r.as_slice()), Some(a.as_slice())],
            None => [None, None],
        })
        .collect()
}

/// The common argument coercion: `chrom` a string, `pos` an integer (Int64), `ref`
/// and `alt` strings, the rest (`names[4..]`) constant strings.
pub(crate) fn coerce_variant_args(
    function: &str,
    names: &[&str],
    required: usize,
    arg_types: &[arrow::datatypes::DataType],
) -> datafusion::common::Result<Vec<arrow::datatypes::DataType>> {
    use arrow::datatypes::DataType;
    if arg_types.len() < required || arg_types.len() > names.len() {
        return datafusion::common::plan_err!(
            "{function} expects {required} to {} arguments ({}), got {}",
            names.len(),
            names.join(", "),
            arg_types.len()
        );
    }
    if !(arg_types[1].is_integer() || arg_types[1] == DataType::Null) {
        return datafusion::common::plan_err!(
            "{function}: argument `pos` must be an integer (the VCF's 1-based POS), got {}",
            arg_types[1]
        );
    }
    let mut strings: Vec<DataType> = arg_types.to_vec();
    strings[1] = DataType::Utf8;
    let mut out = crate::args::coerce(function, names, required, &strings)?;
    out[1] = DataType::Int64;
    Ok(out)
}
