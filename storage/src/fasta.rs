//! FASTA → sequence store, streaming one record at a time through noodles.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use noodles::fasta;

use crate::error::{Result, StorageError};
use crate::input::Input;
use crate::meta::ChromMeta;
use crate::seqstore::ChromWriter;

/// Reads every record of the FASTA in `input` (named `path` in errors) into
/// the sequence store directory `dir`; calls `tick` after each chunk so the
/// caller can report progress (e.g. from [`Input::counter`]). Returns the
/// chromosomes in file order.
pub fn ingest_fasta(path: &Path, mut input: Input, dir: &Path, mut tick: impl FnMut()) -> Result<Vec<ChromMeta>> {
    let io_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::InvalidData || e.kind() == std::io::ErrorKind::InvalidInput {
            StorageError::format(path, None, format!("unreadable input: {e}"))
        } else {
            StorageError::io(path, e)
        }
    };
    let first = first_non_blank(&mut input.reader).map_err(io_err)?;
    match first {
        None => return Err(StorageError::format(path, None, "the file is empty: no FASTA records")),
        Some(b'>') => {}
        Some(b) => {
            return Err(StorageError::format(
                path,
                Some(1),
                format!("not FASTA: expected a '>' header line, found '{}'", printable(b)),
            ));
        }
    }
    let mut reader = fasta::io::Reader::new(input.reader);
    let mut chroms: Vec<ChromMeta> = Vec::new();
    let mut seen = HashSet::new();
    let mut definition = fasta::record::Definition::default();
    loop {
        let n = reader.read_definition(&mut definition).map_err(|e| {
            let record_no = chroms.len() + 1;
            if e.to_string().contains("missing name") {
                StorageError::format(path, None, format!("record {record_no} has an empty sequence name"))
            } else {
                StorageError::format(path, None, format!("bad header of record {record_no}: {e}"))
            }
        })?;
        if n == 0 {
            break;
        }
        let name = String::from_utf8_lossy(definition.name()).into_owned();
        let record_no = chroms.len() + 1;
        if name.trim().is_empty() {
            return Err(StorageError::format(path, None, format!("record {record_no} has an empty sequence name")));
        }
        if !seen.insert(name.clone()) {
            return Err(StorageError::format(path, None, format!("duplicate sequence name '{name}' (record {record_no})")));
        }
        let mut writer = ChromWriter::create(dir, chroms.len())?;
        {
            let mut seq = reader.sequence_reader();
            loop {
                let buf = seq.fill_buf().map_err(io_err)?;
                if buf.is_empty() {
                    break;
                }
                let len = buf.len();
                if let Err(bad) = writer.push(buf)? {
                    return Err(StorageError::format(
                        path,
                        None,
                        format!(
                            "sequence '{name}' has '{}' at position {} (1-based), which is not an IUPAC nucleotide code",
                            printable(bad.byte),
                            bad.position + 1
                        ),
                    ));
                }
                seq.consume(len);
                tick();
            }
        }
        if writer.is_empty() {
            return Err(StorageError::format(path, None, format!("sequence '{name}' has length 0")));
        }
        let written = writer.finish()?;
        chroms.push(ChromMeta {
            name,
            length: written.length,
            n_count: written.n_count,
            masked_count: written.masked_count,
        });
    }
    Ok(chroms)
}

fn first_non_blank(reader: &mut dyn BufRead) -> std::io::Result<Option<u8>> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() { (b as char).to_string() } else { format!("\\x{b:02x}") }
}
