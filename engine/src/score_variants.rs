//! `omicsdb score-variants`: score every variant of a VCF with an omics model and
//! write the records back with the scores (VCF, plain or bgzip) or as a Parquet table.
//!
//! * **Streaming, bounded memory**: the VCF (plain, gzip or bgzip) is read in chunks of
//!   [`Request::chunk`] records; each chunk's reference and alternate windows go through
//!   one batched, cached evaluation ([`omicsdb_udf::variant::VariantScorer`], the same
//!   code as `score_variant`), and its records are written before the next chunk is read.
//! * **Scores**: per scored track (tissue × assay) four values, `ref`, `alt`, `delta`,
//!   `log2_ratio`, as `score_variant` defines them. In a VCF they are INFO fields
//!   `<TISSUE>_<FIELD>_<STAT>` (e.g. `liver_atac_seq_delta`), `Number=A` (one value per
//!   ALT allele, `.` for an allele not scored), declared in the header; in Parquet one
//!   row per scored (record, ALT allele) with columns `chrom, pos, id, ref, alt` and
//!   `<tissue>_<field>_<stat>` (Float32).
//! * **What is not scored**, counted in the [`Report`] and passed through a VCF output
//!   unscored (left out of a Parquet output): ALT alleles without a sequence (symbolic
//!   `<DEL>`, breakends, `*`, `.`), records on a chromosome the assembly does not have
//!   (after the alias rule: `20` = `chr20`, `MT` = `chrM`), records whose REF runs past
//!   the chromosome's end, and, with [`Request::skip_ref_mismatch`], records whose REF
//!   differs from the genome (by default that is an error naming the file, line and
//!   variant). A multi-allelic record is split per ALT allele. A malformed line (too
//!   few columns, a POS that is not a positive integer, REF or ALT that are not bases)
//!   is an error naming the file and line.
//! * **Never half-written**: the output is written to `<out>.partial` and renamed over
//!   `<out>` only when complete (after an fsync); an error or a kill leaves `<out>` as
//!   it was.
//! * **Resumable and idempotent**: model results are cached in the database as they are
//!   computed, so re-running a killed job recomputes only what it had not reached. The
//!   output carries the request's stamp (model name, version and weights sha256,
//!   tissues, input path, size and modification time: a VCF header line
//!   `##omicsdb_score_variants=...`, a Parquet key-value entry); re-running a request
//!   whose output is complete does nothing ([`Report::nothing_to_do`]). An existing
//!   output from another request is an error unless [`Request::force`].

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use omicsdb_storage::StorageError;
use omicsdb_storage::input::open_input;
use omicsdb_udf::StatementInterrupt;
use omicsdb_udf::variant::allele::{AltKind, classify_alt};
use omicsdb_udf::variant::{Prepared, TrackScore, VariantProblem, VariantScorer};

use crate::{Database, Error, Result};

/// The header line / Parquet metadata key of the request stamp.
pub const STAMP_KEY: &str = "omicsdb_score_variants";
/// The statistics of one track's score, in output order.
pub const STATS: [&str; 4] = ["ref", "alt", "delta", "log2_ratio"];

/// What `score-variants` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// VCF; bgzip-compressed when the output name ends in `.gz` or `.bgz`.
    Vcf,
    /// A Parquet table (`.parquet`).
    Parquet,
}

impl OutFormat {
    /// The format an output path names: `.parquet` → Parquet, `.vcf`, `.vcf.gz`,
    /// `.vcf.bgz` → VCF; `None` otherwise.
    pub fn of(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".parquet") {
            Some(Self::Parquet)
        } else if name.ends_with(".vcf") || name.ends_with(".vcf.gz") || name.ends_with(".vcf.bgz") {
            Some(Self::Vcf)
        } else {
            None
        }
    }
}

/// A `score-variants` request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The omics model (`NAME` or `NAME@VERSION`; `None`: the default omics model).
    pub model: Option<String>,
    /// Tissues to score (empty: all of the model's).
    pub tissues: Vec<String>,
    /// The input VCF.
    pub input: PathBuf,
    /// The output (`.vcf`, `.vcf.gz`, `.vcf.bgz` or `.parquet`).
    pub out: PathBuf,
    /// Records per chunk (bounds memory; one batched model evaluation each).
    pub chunk: usize,
    /// Count and skip records whose REF differs from the genome instead of failing.
    pub skip_ref_mismatch: bool,
    /// Replace an output written by another request.
    pub force: bool,
}

impl Request {
    /// A request with the defaults (all tissues, 4096-record chunks).
    pub fn new(model: Option<String>, input: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Self { model, tissues: Vec::new(), input: input.into(), out: out.into(), chunk: 4096, skip_ref_mismatch: false, force: false }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The output was already complete for this request; nothing was done.
    pub nothing_to_do: bool,
    /// VCF data records read.
    pub records: u64,
    /// ALT alleles scored.
    pub scored: u64,
    /// ALT alleles without a sequence (symbolic, breakend, `*`, `.`).
    pub symbolic: u64,
    /// Records on chromosomes the assembly lacks, by name.
    pub unknown_chroms: std::collections::BTreeMap<String, u64>,
    /// Records whose REF runs past the chromosome end.
    pub past_end: u64,
    /// Records whose REF differs from the genome (skipped with `skip_ref_mismatch`).
    pub ref_mismatches: u64,
    /// Distinct model windows answered from the database's result cache (a resumed
    /// run's finished work).
    pub cache_hits: u64,
    /// Wall-clock seconds.
    pub seconds: u64,
    /// The output written.
    pub out: PathBuf,
}

impl Report {
    /// Records or alleles not scored, in words (`None` when every allele was scored).
    pub fn skipped_message(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.symbolic > 0 {
            parts.push(format!("{} symbolic/breakend/missing ALT alleles", self.symbolic));
        }
        if !self.unknown_chroms.is_empty() {
            let n: u64 = self.unknown_chroms.values().sum();
            let names: Vec<String> = self.unknown_chroms.iter().map(|(c, k)| format!("{c} ({k})")).collect();
            parts.push(format!("{n} records on chromosomes not in the assembly: {}", names.join(", ")));
        }
        if self.past_end > 0 {
            parts.push(format!("{} records past a chromosome end", self.past_end));
        }
        if self.ref_mismatches > 0 {
            parts.push(format!("{} records whose REF differs from the genome", self.ref_mismatches));
        }
        (!parts.is_empty()).then(|| format!("not scored: {}", parts.join("; ")))
    }
}

/// Progress of a run: input bytes read of the file's size, and records so far.
pub trait Progress {
    /// Called after each chunk.
    fn chunk(&self, bytes_read: u64, file_bytes: u64, records: u64);
}

impl<F: Fn(u64, u64, u64)> Progress for F {
    fn chunk(&self, bytes_read: u64, file_bytes: u64, records: u64) {
        self(bytes_read, file_bytes, records)
    }
}

/// One data line, split.
struct Record {
    line_no: u64,
    /// The line's tab-separated fields.
    fields: Vec<String>,
    /// Per ALT allele, its windows (`None`: not scored).
    windows: Vec<Option<(Vec<u8>, Vec<u8>)>>,
}

/// The VCF INFO / Parquet column name of one track statistic.
fn score_name(tissue: &str, field: &str, stat: &str) -> String {
    let raw = format!("{tissue}_{field}_{stat}");
    let mut out: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        out.insert(0, '_');
    }
    out
}

fn format_err(path: &Path, line: u64, message: impl Into<String>) -> Error {
    Error::Storage(StorageError::format(path, Some(line), message))
}

/// The request's stamp (module docs).
fn stamp(scorer: &VariantScorer, req: &Request) -> Result<String> {
    let input = std::fs::canonicalize(&req.input).map_err(|e| StorageError::io(&req.input, e))?;
    let meta = std::fs::metadata(&input).map_err(|e| StorageError::io(&input, e))?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let tissues: Vec<&str> = {
        let mut t: Vec<&str> = scorer.tracks().iter().map(|t| t.tissue.as_str()).collect();
        t.dedup();
        t
    };
    Ok(format!(
        "<model={},sha256={},tissues={},input=\"{}\",input_bytes={},input_mtime={mtime}>",
        scorer.meta().label(),
        scorer.meta().sha256,
        tissues.join("|"),
        input.display(),
        meta.len()
    ))
}

/// The stamp of an existing complete output, if it has one.
fn existing_stamp(out: &Path, format: OutFormat) -> Option<String> {
    match format {
        OutFormat::Vcf => {
            let input = open_input(out).ok()?;
            for line in input.reader.lines() {
                let line = line.ok()?;
                if let Some(v) = line.strip_prefix(&format!("##{STAMP_KEY}=")) {
                    return Some(v.to_string());
                }
                if !line.starts_with("##") {
                    return None;
                }
            }
            None
        }
        OutFormat::Parquet => {
            let file = std::fs::File::open(out).ok()?;
            let reader = parquet::file::reader::SerializedFileReader::new(file).ok()?;
            use parquet::file::reader::FileReader;
            let kv = reader.metadata().file_metadata().key_value_metadata()?.clone();
            kv.into_iter().find(|e| e.key == STAMP_KEY).and_then(|e| e.value)
        }
    }
}

/// Where the output goes while it is written.
enum Sink {
    Vcf(Box<dyn Write>),
    Parquet(Box<ParquetSink>),
}

struct ParquetSink {
    writer: parquet::arrow::ArrowWriter<std::fs::File>,
    schema: Arc<Schema>,
}

/// Runs a `score-variants` request (module docs).
pub fn score_variants(db: &Database, req: &Request, progress: &dyn Progress) -> Result<Report> {
    let started = std::time::Instant::now();
    let format = OutFormat::of(&req.out).ok_or_else(|| {
        Error::Other(format!("{}: the output must end in .vcf, .vcf.gz, .vcf.bgz or .parquet", req.out.display()))
    })?;
    let scorer = VariantScorer::new(Arc::clone(db.models()), req.model.as_deref(), &req.tissues)?;
    let stamp = stamp(&scorer, req)?;
    if req.out.exists() {
        match existing_stamp(&req.out, format) {
            Some(s) if s == stamp && !req.force => {
                return Ok(Report { nothing_to_do: true, out: req.out.clone(), ..Report::default() });
            }
            _ if req.force => {}
            _ => {
                return Err(Error::Other(format!(
                    "{} exists and was not written by this request (other model, tissues or input); pass --force to replace it",
                    req.out.display()
                )));
            }
        }
    }
    let partial = PathBuf::from(format!("{}.partial", req.out.display()));
    let hits_before = db.models().stats.cache_hits();
    let result = write_output(&scorer, req, format, &stamp, &partial, progress);
    match result {
        Ok(mut report) => {
            std::fs::rename(&partial, &req.out).map_err(|e| StorageError::io(&req.out, e))?;
            report.seconds = started.elapsed().as_secs();
            report.cache_hits = db.models().stats.cache_hits() - hits_before;
            report.out = req.out.clone();
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write_output(
    scorer: &VariantScorer,
    req: &Request,
    format: OutFormat,
    stamp: &str,
    partial: &Path,
    progress: &dyn Progress,
) -> Result<Report> {
    let input = open_input(&req.input)?;
    let (file_bytes, counter) = (input.file_bytes, input.counter.clone());
    let mut reader = input.reader;
    let file = std::fs::File::create(partial).map_err(|e| StorageError::io(partial, e))?;
    let names: Vec<String> = scorer
        .tracks()
        .iter()
        .flat_map(|t| STATS.iter().map(move |s| score_name(&t.tissue, &t.field, s)))
        .collect();
    let mut sink = match format {
        OutFormat::Vcf => {
            let lower = req.out.to_string_lossy().to_ascii_lowercase();
            let w: Box<dyn Write> = if lower.ends_with(".gz") || lower.ends_with(".bgz") {
                Box::new(noodles::bgzf::io::Writer::new(file))
            } else {
                Box::new(std::io::BufWriter::new(file))
            };
            Sink::Vcf(w)
        }
        OutFormat::Parquet => {
            let mut fields = vec![
                Field::new("chrom", DataType::Utf8, false),
                Field::new("pos", DataType::Int64, false),
                Field::new("id", DataType::Utf8, true),
                Field::new("ref", DataType::Utf8, false),
                Field::new("alt", DataType::Utf8, false),
            ];
            fields.extend(names.iter().map(|n| Field::new(n, DataType::Float32, false)));
            let schema = Arc::new(Schema::new(fields));
            let props = parquet::file::properties::WriterProperties::builder()
                .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(STAMP_KEY.into(), stamp.to_string())]))
                .build();
            let writer = parquet::arrow::ArrowWriter::try_new(file, Arc::clone(&schema), Some(props))
                .map_err(|e| Error::Other(format!("{}: {e}", partial.display())))?;
            Sink::Parquet(Box::new(ParquetSink { writer, schema }))
        }
    };
    let io = |e: std::io::Error| Error::Storage(StorageError::io(partial, e));
    let path = req.input.as_path();
    let mut report = Report::default();
    let mut line = String::new();
    let mut line_no = 0u64;
    let mut saw_header = false;
    let mut chunk: Vec<Record> = Vec::with_capacity(req.chunk.max(1));
    let interrupt = StatementInterrupt::default();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format_err(path, line_no + 1, format!("unreadable (truncated or corrupt compressed file?): {e}")))?;
        let at_end = n == 0;
        if !at_end {
            line_no += 1;
            let text = line.trim_end_matches(['\n', '\r']);
            if text.starts_with("##") {
                if let Sink::Vcf(w) = &mut sink {
                    if !text.starts_with(&format!("##{STAMP_KEY}=")) && !names.iter().any(|n| text.starts_with(&format!("##INFO=<ID={n},"))) {
                        writeln!(w, "{text}").map_err(io)?;
                    }
                }
                continue;
            }
            if text.starts_with("#CHROM") {
                saw_header = true;
                if let Sink::Vcf(w) = &mut sink {
                    for t in scorer.tracks() {
                        for (stat, what) in STATS.iter().zip(["prediction on the reference window", "prediction on the alternate window", "alt minus ref", "log2((alt + c) / (ref + c))"]) {
                            writeln!(
                                w,
                                "##INFO=<ID={},Number=A,Type=Float,Description=\"omicsdb score_variant {}: {what}, track {} (tissue {}) of model {}\">",
                                score_name(&t.tissue, &t.field, stat),
                                stat,
                                t.track,
                                t.tissue,
                                scorer.meta().label()
                            )
                            .map_err(io)?;
                        }
                    }
                    writeln!(w, "##{STAMP_KEY}={stamp}").map_err(io)?;
                    writeln!(w, "{text}").map_err(io)?;
                }
                continue;
            }
            if text.trim().is_empty() {
                continue;
            }
            if !saw_header {
                return Err(format_err(path, line_no, "data line before the #CHROM header line (is this a VCF?)"));
            }
            report.records += 1;
            chunk.push(prepare_record(scorer, req, path, line_no, text, &mut report)?);
        }
        if chunk.len() >= req.chunk.max(1) || (at_end && !chunk.is_empty()) {
            write_chunk(scorer, &mut sink, &chunk, &interrupt, &mut report)?;
            chunk.clear();
            progress.chunk(counter.get(), file_bytes, report.records);
        }
        if at_end {
            break;
        }
    }
    if !saw_header {
        return Err(format_err(path, line_no.max(1), "no #CHROM header line: not a VCF"));
    }
    match sink {
        Sink::Vcf(mut w) => {
            w.flush().map_err(io)?;
            drop(w);
        }
        Sink::Parquet(p) => {
            p.writer.close().map_err(|e| Error::Other(format!("{}: {e}", partial.display())))?;
        }
    }
    std::fs::File::open(partial).and_then(|f| f.sync_all()).map_err(io)?;
    Ok(report)
}

/// Splits and checks one data line, cutting the windows of each ALT allele.
fn prepare_record(
    scorer: &VariantScorer,
    req: &Request,
    path: &Path,
    line_no: u64,
    text: &str,
    report: &mut Report,
) -> Result<Record> {
    let fields: Vec<String> = text.split('\t').map(str::to_string).collect();
    if fields.len() < 8 {
        return Err(format_err(path, line_no, format!("expected at least 8 tab-separated VCF columns, found {}", fields.len())));
    }
    let pos: i64 = match fields[1].parse::<i64>() {
        Ok(p) if p >= 1 => p,
        _ => return Err(format_err(path, line_no, format!("POS '{}' is not a positive integer", fields[1]))),
    };
    let alts: Vec<&str> = fields[4].split(',').collect();
    let mut windows = Vec::with_capacity(alts.len());
    let label = |alt: &str| omicsdb_udf::variant::label(&fields[0], pos, &fields[3], alt);
    for alt in &alts {
        if classify_alt(alt) == AltKind::Symbolic {
            report.symbolic += 1;
            windows.push(None);
            continue;
        }
        match scorer.sites().prepare(&fields[0], pos, &fields[3], alt)? {
            Ok(Prepared::Windows { reference, alt, .. }) => windows.push(Some((reference, alt))),
            Ok(Prepared::Symbolic) => {
                report.symbolic += 1;
                windows.push(None);
            }
            Err(VariantProblem::UnknownChrom { chrom, .. }) => {
                *report.unknown_chroms.entry(chrom).or_default() += 1;
                return Ok(Record { line_no, windows: vec![None; alts.len()], fields });
            }
            Err(VariantProblem::PastEnd { .. }) => {
                report.past_end += 1;
                return Ok(Record { line_no, windows: vec![None; alts.len()], fields });
            }
            Err(VariantProblem::RefMismatch { .. }) if req.skip_ref_mismatch => {
                report.ref_mismatches += 1;
                return Ok(Record { line_no, windows: vec![None; alts.len()], fields });
            }
            Err(problem) => {
                let hint = if matches!(problem, VariantProblem::RefMismatch { .. }) {
                    " (pass --skip-ref-mismatch to count and skip such records)"
                } else {
                    ""
                };
                return Err(format_err(path, line_no, format!("variant {}: {problem}{hint}", label(alt))));
            }
        }
    }
    Ok(Record { line_no, fields, windows })
}

/// Scores one chunk and writes its records.
fn write_chunk(
    scorer: &VariantScorer,
    sink: &mut Sink,
    chunk: &[Record],
    interrupt: &StatementInterrupt,
    report: &mut Report,
) -> Result<()> {
    let windows: Vec<Option<(Vec<u8>, Vec<u8>)>> = chunk.iter().flat_map(|r| r.windows.iter().cloned()).collect();
    let scores = score_parallel(scorer, &windows, interrupt)?;
    // scores[track][allele], alleles in chunk order.
    let mut at = 0usize;
    match sink {
        Sink::Vcf(w) => {
            for r in chunk {
                let n = r.windows.len();
                let mut info: Vec<String> = Vec::new();
                let any = (at..at + n).any(|i| scores.first().is_some_and(|s| s[i].is_some()));
                if any {
                    for (t, track) in scorer.tracks().iter().enumerate() {
                        for (k, stat) in STATS.iter().enumerate() {
                            let values: Vec<String> = (at..at + n)
                                .map(|i| scores[t][i].map_or_else(|| ".".to_string(), |s| format_stat(&s, k)))
                                .collect();
                            info.push(format!("{}={}", score_name(&track.tissue, &track.field, stat), values.join(",")));
                        }
                    }
                }
                report.scored += (at..at + n).filter(|&i| scores.first().is_some_and(|s| s[i].is_some())).count() as u64;
                at += n;
                let mut fields = r.fields.clone();
                if !info.is_empty() {
                    let old = fields[7].as_str();
                    fields[7] = if old == "." || old.is_empty() { info.join(";") } else { format!("{old};{}", info.join(";")) };
                }
                writeln!(w, "{}", fields.join("\t")).map_err(|e| Error::Other(format!("writing the output (line {}): {e}", r.line_no)))?;
            }
        }
        Sink::Parquet(p) => {
            let (mut chrom, mut pos, mut id, mut rf, mut alt) =
                (StringBuilder::new(), Int64Builder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
            let mut values: Vec<Float32Builder> = (0..scorer.tracks().len() * STATS.len()).map(|_| Float32Builder::new()).collect();
            for r in chunk {
                let alts: Vec<&str> = r.fields[4].split(',').collect();
                for (j, a) in alts.iter().enumerate() {
                    let i = at + j;
                    if scores.first().is_none_or(|s| s[i].is_none()) {
                        continue;
                    }
                    report.scored += 1;
                    chrom.append_value(&r.fields[0]);
                    pos.append_value(r.fields[1].parse::<i64>().unwrap_or_default());
                    id.append_option((r.fields[2] != ".").then_some(r.fields[2].as_str()));
                    rf.append_value(&r.fields[3]);
                    alt.append_value(a);
                    for (t, s) in scores.iter().enumerate() {
                        let s = s[i].unwrap_or(TrackScore { reference: f32::NAN, alt: f32::NAN, delta: f32::NAN, log2_ratio: f32::NAN });
                        for (k, v) in [s.reference, s.alt, s.delta, s.log2_ratio].into_iter().enumerate() {
                            values[t * STATS.len() + k].append_value(v);
                        }
                    }
                }
                at += r.windows.len();
            }
            let mut columns: Vec<ArrayRef> =
                vec![Arc::new(chrom.finish()), Arc::new(pos.finish()), Arc::new(id.finish()), Arc::new(rf.finish()), Arc::new(alt.finish())];
            columns.extend(values.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            let batch = RecordBatch::try_new(Arc::clone(&p.schema), columns)?;
            p.writer.write(&batch).map_err(|e| Error::Other(format!("writing the Parquet output: {e}")))?;
        }
    }
    Ok(())
}

/// [`VariantScorer::score`] of `windows`, split into one part per core scored
/// concurrently (as DataFusion runs a query's partitions: a model call on small
/// micro-batches does not keep every core busy), joined back in order.
fn score_parallel(
    scorer: &VariantScorer,
    windows: &[Option<(Vec<u8>, Vec<u8>)>],
    interrupt: &StatementInterrupt,
) -> Result<Vec<Vec<Option<TrackScore>>>> {
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, windows.len().max(1));
    let size = windows.len().div_ceil(parts).max(1);
    let results: Vec<Result<Vec<Vec<Option<TrackScore>>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = windows.chunks(size).map(|part| s.spawn(move || scorer.score(part, interrupt))).collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r.map_err(Error::from),
                Err(_) => Err(Error::Other("a variant scoring thread panicked".into())),
            })
            .collect()
    });
    let mut out: Vec<Vec<Option<TrackScore>>> = vec![Vec::with_capacity(windows.len()); scorer.tracks().len()];
    for part in results {
        for (track, scores) in out.iter_mut().zip(part?) {
            track.extend(scores);
        }
    }
    Ok(out)
}

/// Statistic `k` of [`STATS`] as VCF text (the shortest text that reads back as the same f32).
fn format_stat(s: &TrackScore, k: usize) -> String {
    let v = [s.reference, s.alt, s.delta, s.log2_ratio][k];
    if v.is_finite() { format!("{v}") } else { ".".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_names_are_valid_vcf_ids() {
        assert_eq!(score_name("liver", "atac_seq", "delta"), "liver_atac_seq_delta");
        assert_eq!(score_name("K-562 cells", "chip_seq_ctcf", "ref"), "K_562_cells_chip_seq_ctcf_ref");
        assert_eq!(score_name("9tissue", "x", "alt"), "_9tissue_x_alt");
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(OutFormat::of(Path::new("a/b.vcf.gz")), Some(OutFormat::Vcf));
        assert_eq!(OutFormat::of(Path::new("b.VCF")), Some(OutFormat::Vcf));
        assert_eq!(OutFormat::of(Path::new("b.parquet")), Some(OutFormat::Parquet));
        assert_eq!(OutFormat::of(Path::new("b.txt")), None);
    }
}
