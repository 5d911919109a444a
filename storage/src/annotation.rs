//! Gene annotation (GTF or GFF3, plain or gzip) → tables `genes`,
//! `transcripts` and `exons` with 0-based half-open coordinates, stored as
//! Parquet and registered in the catalog under `table/<name>`.
//!
//! The files are parsed by hand (nine tab-separated columns; GTF attributes
//! `key "value";`, GFF3 attributes `key=value;` with %-escapes) rather than
//! through noodles, to keep the GTF and GFF3 paths one simple reader. A
//! GFF3 `##FASTA` section ends the features.
//!
//! - GTF: `gene`, `transcript` and `exon` lines; gene and transcript spans are
//!   derived from exons when a file has no `gene`/`transcript` lines. Biotype
//!   is `gene_type` (GENCODE) or `gene_biotype` (Ensembl).
//! - GFF3: genes are features of type `gene`, `ncRNA_gene` or `pseudogene`;
//!   transcripts are features whose `Parent` is a gene; exons are `exon`
//!   features, one row per parent transcript. Biotype is `biotype` or
//!   `gene_biotype`, else the feature type.
//!
//! Chromosome names follow the alias rule of [`crate::tracks::chroms`];
//! records on unknown chromosomes or past the end are skipped and counted.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::catalog::CatalogBatch;
use crate::error::{Result, StorageError};
use crate::input::open_input;
use crate::layout::now_unix;
use crate::meta::{ColumnMeta, TableMeta, table_key};
use crate::parquet_io::write_parquet;
use crate::store::Store;
use crate::tracks::chroms::{ChromResolver, Skipped};
use crate::windows::ROW_GROUP_ROWS;

/// Options of `omicsdb ingest annotation`.
#[derive(Debug, Clone)]
pub struct AnnotationIngest {
    /// Assembly the coordinates refer to (must exist).
    pub assembly: String,
    /// GTF or GFF3 file (plain or gzip).
    pub path: PathBuf,
    /// Records on unknown chromosomes or past the end are an error.
    pub strict: bool,
    /// Replace existing `genes`/`transcripts`/`exons` tables.
    pub replace: bool,
}

/// What an annotation ingest did.
#[derive(Debug, Clone)]
pub struct AnnotationReport {
    /// `gtf` or `gff3`.
    pub format: &'static str,
    /// The committed tables: genes, transcripts, exons.
    pub tables: Vec<TableMeta>,
    /// Records that did not fit the assembly.
    pub skipped: Skipped,
}

/// One annotation feature, 0-based half-open, on an assembly chromosome.
#[derive(Debug, Clone, Default, PartialEq)]
struct Feature {
    chrom: usize,
    start: u64,
    end: u64,
    strand: String,
    id: String,
    gene_id: String,
    name: Option<String>,
    biotype: Option<String>,
    exon_number: Option<i64>,
}

#[derive(Debug, Default)]
struct Parsed {
    genes: Vec<Feature>,
    transcripts: Vec<Feature>,
    exons: Vec<Feature>,
}

/// `omicsdb ingest annotation`: reads a GTF/GFF3 file into the `genes`,
/// `transcripts` and `exons` tables in one catalog commit.
pub fn ingest_annotation(store: &Store, opts: &AnnotationIngest) -> Result<AnnotationReport> {
    let assembly = store.assembly(&opts.assembly)?;
    let resolver = ChromResolver::new(&assembly);
    let _guard = store.write_guard();
    for t in ["genes", "transcripts", "exons"] {
        check_table_free(store, t, opts.replace)?;
    }
    let gtf = is_gtf(&opts.path)?;
    let mut skipped = Skipped::default();
    let parsed = parse(&opts.path, gtf, &resolver, opts.strict, &mut skipped)?;
    let chrom_names: Vec<&str> = (0..resolver.len()).map(|i| resolver.name(i)).collect();
    let source = opts.path.display().to_string();
    let mut batch = CatalogBatch::new();
    let mut tables = Vec::new();
    for (name, rows) in [("genes", parsed.genes), ("transcripts", parsed.transcripts), ("exons", parsed.exons)] {
        let (columns, arrays) = feature_columns(name, rows, &chrom_names);
        let meta = write_table(store, name, &assembly.name, &source, columns, arrays)?;
        batch.put(table_key(name), &meta)?;
        tables.push(meta);
    }
    store.commit(batch)?;
    Ok(AnnotationReport { format: if gtf { "gtf" } else { "gff3" }, tables, skipped })
}

/// Fails with `AlreadyExists` if table `name` exists and `replace` is off.
pub(crate) fn check_table_free(store: &Store, name: &str, replace: bool) -> Result<()> {
    if !replace && store.catalog().get::<TableMeta>(&table_key(name))?.is_some() {
        return Err(StorageError::AlreadyExists { kind: "table", name: name.into(), hint: " (use --replace to replace it)".into() });
    }
    Ok(())
}

/// Writes one table as a single Parquet file in a fresh data directory and
/// returns its catalog entry (not yet committed).
pub(crate) fn write_table(store: &Store, name: &str, assembly: &str, source: &str, columns: Vec<ColumnMeta>, arrays: Vec<ArrayRef>) -> Result<TableMeta> {
    let (abs, rel) = store.new_data_dir("table", name)?;
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|(c, a)| Field::new(&c.name, a.data_type().clone(), a.null_count() > 0 || c.description.contains("NULL")))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let path = abs.join(format!("{name}.parquet"));
    let rows = arrays.first().map_or(0, |a| a.len()) as u64;
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|e| StorageError::Data { path: path.clone(), message: e.to_string() })?;
    write_parquet(&path, schema, &[batch], ROW_GROUP_ROWS as usize)?;
    Ok(TableMeta {
        name: name.into(),
        assembly: assembly.into(),
        source: source.into(),
        dir: rel.clone(),
        files: vec![format!("{rel}/{name}.parquet")],
        rows,
        columns,
        created_at: now_unix(),
    })
}

/// A column description for [`write_table`].
pub(crate) fn col(name: &str, data_type: &DataType, description: &str) -> ColumnMeta {
    ColumnMeta { name: name.into(), data_type: format!("{data_type}"), description: description.into() }
}

fn feature_columns(table: &str, mut rows: Vec<Feature>, chroms: &[&str]) -> (Vec<ColumnMeta>, Vec<ArrayRef>) {
    rows.sort_by(|a, b| (a.chrom, a.start, a.end, &a.id).cmp(&(b.chrom, b.start, b.end, &b.id)));
    let mut id = StringBuilder::new();
    let mut gene_id = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut biotype = StringBuilder::new();
    let mut exon_number = Int64Builder::new();
    let mut chrom = StringBuilder::new();
    let mut start = Int64Builder::new();
    let mut end = Int64Builder::new();
    let mut strand = StringBuilder::new();
    for r in &rows {
        id.append_value(&r.id);
        gene_id.append_value(&r.gene_id);
        name.append_option(r.name.as_deref());
        biotype.append_option(r.biotype.as_deref());
        exon_number.append_option(r.exon_number);
        chrom.append_value(chroms[r.chrom]);
        start.append_value(r.start as i64);
        end.append_value(r.end as i64);
        strand.append_value(&r.strand);
    }
    let s = DataType::Utf8;
    let i = DataType::Int64;
    let tail = |cols: &mut Vec<ColumnMeta>, arrays: &mut Vec<ArrayRef>, chrom: &mut StringBuilder, start: &mut Int64Builder, end: &mut Int64Builder, strand: &mut StringBuilder| {
        cols.push(col("chrom", &s, "chromosome (assembly name)"));
        cols.push(col("start", &i, "0-based start"));
        cols.push(col("end", &i, "0-based exclusive end"));
        cols.push(col("strand", &s, "+, - or ."));
        arrays.push(Arc::new(chrom.finish()));
        arrays.push(Arc::new(start.finish()));
        arrays.push(Arc::new(end.finish()));
        arrays.push(Arc::new(strand.finish()));
    };
    let mut cols = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    match table {
        "genes" => {
            cols.push(col("gene_id", &s, "gene identifier"));
            cols.push(col("gene_name", &s, "gene symbol; NULL when the file has none"));
            cols.push(col("biotype", &s, "gene biotype, e.g. protein_coding; NULL when the file has none"));
            arrays.push(Arc::new(id.finish()));
            arrays.push(Arc::new(name.finish()));
            arrays.push(Arc::new(biotype.finish()));
        }
        "transcripts" => {
            cols.push(col("transcript_id", &s, "transcript identifier"));
            cols.push(col("gene_id", &s, "gene identifier"));
            cols.push(col("transcript_name", &s, "transcript name; NULL when the file has none"));
            cols.push(col("biotype", &s, "transcript biotype; NULL when the file has none"));
            arrays.push(Arc::new(id.finish()));
            arrays.push(Arc::new(gene_id.finish()));
            arrays.push(Arc::new(name.finish()));
            arrays.push(Arc::new(biotype.finish()));
        }
        _ => {
            cols.push(col("transcript_id", &s, "transcript identifier"));
            cols.push(col("gene_id", &s, "gene identifier"));
            cols.push(col("exon_number", &i, "exon number within the transcript; NULL when the file has none"));
            arrays.push(Arc::new(id.finish()));
            arrays.push(Arc::new(gene_id.finish()));
            arrays.push(Arc::new(exon_number.finish()));
        }
    }
    tail(&mut cols, &mut arrays, &mut chrom, &mut start, &mut end, &mut strand);
    (cols, arrays)
}

/// GTF when the extension says so, or the first feature line has GTF attributes.
fn is_gtf(path: &Path) -> Result<bool> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let stem = name.trim_end_matches(".gz");
    if stem.ends_with(".gtf") {
        return Ok(true);
    }
    if stem.ends_with(".gff3") || stem.ends_with(".gff") {
        return Ok(false);
    }
    let mut input = open_input(path)?;
    let mut line = String::new();
    while input.reader.read_line(&mut line).map_err(|e| StorageError::format(path, None, format!("unreadable: {e}")))? > 0 {
        if !line.starts_with('#') && line.split('\t').count() >= 9 {
            let attrs = line.split('\t').nth(8).unwrap_or("");
            return Ok(attrs.contains(" \"") || !attrs.contains('='));
        }
        line.clear();
    }
    Err(StorageError::format(path, None, "no feature lines: not a GTF or GFF3 file"))
}

fn gtf_attrs(s: &str) -> HashMap<&str, String> {
    s.split(';')
        .filter_map(|kv| {
            let kv = kv.trim();
            let (k, v) = kv.split_once(' ')?;
            Some((k, v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn gff_attrs(s: &str) -> HashMap<&str, String> {
    s.split(';').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim(), unescape(v.trim()))).collect()
}

fn unescape(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse(path: &Path, gtf: bool, resolver: &ChromResolver, strict: bool, skipped: &mut Skipped) -> Result<Parsed> {
    let mut input = open_input(path)?;
    let mut line = String::new();
    let mut line_no = 0u64;
    let mut out = Parsed::default();
    // GFF3: features by ID, and exons with their (possibly several) parents.
    let mut gff_features: Vec<(String, Option<String>, Feature, String)> = Vec::new();
    loop {
        line.clear();
        let n = input.reader.read_line(&mut line).map_err(|e| StorageError::format(path, Some(line_no + 1), format!("unreadable: {e}")))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let t = line.trim_end_matches(['\n', '\r']);
        if t.starts_with("##FASTA") {
            break;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = t.split('\t').collect();
        let err = |m: String| StorageError::format(path, Some(line_no), m);
        if f.len() < 9 {
            return Err(err(format!("expected 9 tab-separated columns, found {}", f.len())));
        }
        let start1: u64 = f[3].parse().map_err(|_| err(format!("start '{}' is not a positive integer", f[3])))?;
        let end1: u64 = f[4].parse().map_err(|_| err(format!("end '{}' is not a positive integer", f[4])))?;
        if start1 == 0 || start1 > end1 {
            return Err(err(format!("bad range {}-{} (1-based, start <= end)", start1, end1)));
        }
        let Some(chrom) = resolver.resolve(f[0]) else {
            if strict {
                return Err(err(format!("chromosome '{}' is not in the assembly (--strict)", f[0])));
            }
            *skipped.unknown.entry(f[0].to_string()).or_default() += 1;
            continue;
        };
        if end1 > resolver.length(chrom) {
            if strict {
                return Err(err(format!("feature ends at {end1}, past the end of {} (--strict)", resolver.name(chrom))));
            }
            skipped.past_end += 1;
            continue;
        }
        let base = Feature { chrom, start: start1 - 1, end: end1, strand: f[6].to_string(), ..Feature::default() };
        let kind = f[2];
        if gtf {
            let a = gtf_attrs(f[8]);
            let gene_id = a.get("gene_id").cloned().ok_or_else(|| err("GTF record without gene_id".into()))?;
            match kind {
                "gene" => out.genes.push(Feature {
                    id: gene_id.clone(),
                    gene_id,
                    name: a.get("gene_name").cloned(),
                    biotype: a.get("gene_type").or(a.get("gene_biotype")).cloned(),
                    ..base
                }),
                "transcript" | "exon" => {
                    let transcript_id = a.get("transcript_id").cloned().ok_or_else(|| err(format!("GTF {kind} without transcript_id")))?;
                    let feature = Feature {
                        id: transcript_id,
                        gene_id,
                        name: a.get("transcript_name").cloned(),
                        biotype: a.get("transcript_type").or(a.get("transcript_biotype")).cloned(),
                        exon_number: a.get("exon_number").and_then(|n| n.parse().ok()),
                        ..base
                    };
                    if kind == "exon" { out.exons.push(Feature { name: None, biotype: None, ..feature }) } else { out.transcripts.push(feature) }
                }
                _ => {}
            }
        } else {
            let a = gff_attrs(f[8]);
            let id = a.get("ID").cloned().unwrap_or_default();
            let feature = Feature {
                id,
                name: a.get("Name").cloned(),
                biotype: a.get("biotype").or(a.get("gene_biotype")).or(a.get("transcript_biotype")).cloned().or(Some(kind.to_string())),
                exon_number: a.get("rank").and_then(|n| n.parse().ok()),
                ..base
            };
            gff_features.push((kind.to_string(), a.get("Parent").cloned(), feature, format!("line {line_no}")));
        }
    }
    if gtf {
        derive_missing(&mut out);
    } else {
        resolve_gff(gff_features, &mut out);
    }
    Ok(out)
}

fn resolve_gff(features: Vec<(String, Option<String>, Feature, String)>, out: &mut Parsed) {
    let is_gene = |k: &str| matches!(k, "gene" | "ncRNA_gene" | "pseudogene");
    let gene_ids: std::collections::HashSet<String> =
        features.iter().filter(|(k, _, f, _)| is_gene(k) && !f.id.is_empty()).map(|(_, _, f, _)| f.id.clone()).collect();
    let mut transcript_gene: HashMap<String, String> = HashMap::new();
    for (kind, parent, f, _) in &features {
        if is_gene(kind) {
            out.genes.push(Feature { gene_id: f.id.clone(), ..f.clone() });
        } else if let Some(parent) = parent {
            if let Some(g) = parent.split(',').find(|p| gene_ids.contains(*p)) {
                if !f.id.is_empty() && kind != "exon" && kind != "CDS" {
                    transcript_gene.insert(f.id.clone(), g.to_string());
                    out.transcripts.push(Feature { gene_id: g.to_string(), ..f.clone() });
                }
            }
        }
    }
    for (kind, parent, f, _) in features {
        if kind != "exon" {
            continue;
        }
        for p in parent.iter().flat_map(|p| p.split(',')) {
            if let Some(g) = transcript_gene.get(p) {
                out.exons.push(Feature { id: p.to_string(), gene_id: g.clone(), name: None, biotype: None, ..f.clone() });
            }
        }
    }
}

/// GTFs without `gene`/`transcript` lines: spans from their exons.
fn derive_missing(out: &mut Parsed) {
    fn spans(exons: &[Feature], key: impl Fn(&Feature) -> (String, String)) -> Vec<Feature> {
        let mut by: HashMap<(String, String), Feature> = HashMap::new();
        for e in exons {
            let k = key(e);
            by.entry(k.clone())
                .and_modify(|f| {
                    f.start = f.start.min(e.start);
                    f.end = f.end.max(e.end);
                })
                .or_insert(Feature { id: k.0, gene_id: k.1, exon_number: None, ..e.clone() });
        }
        by.into_values().collect()
    }
    if out.transcripts.is_empty() {
        out.transcripts = spans(&out.exons, |e| (e.id.clone(), e.gene_id.clone()));
    }
    if out.genes.is_empty() {
        out.genes = spans(&out.exons, |e| (e.gene_id.clone(), e.gene_id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        let a = gtf_attrs(r#"gene_id "ENSG1"; gene_name "DDX11L1"; level 2;"#);
        assert_eq!(a["gene_id"], "ENSG1");
        assert_eq!(a["gene_name"], "DDX11L1");
        assert_eq!(a["level"], "2");
        let g = gff_attrs("ID=x;Name=CG%3B1;Parent=a,b");
        assert_eq!(g["Name"], "CG;1");
        assert_eq!(g["Parent"], "a,b");
        assert_eq!(unescape("100%"), "100%");
    }
}
