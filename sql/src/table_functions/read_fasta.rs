//! `read_fasta('path')`: the records of a FASTA file as a table.

use std::sync::Arc;

use arrow::array::{Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use noodles::fasta;

use super::source;
use crate::error::SqlError;

const NAME: &str = "read_fasta";

/// Bytes of sequence per record batch, kept well below Utf8's 2 GiB limit.
const BATCH_BYTES: usize = 256 << 20;

/// `read_fasta('path')`: one row per record with `name` (up to the first
/// whitespace), `description` (the rest of the header, NULL if none),
/// `length` (bases) and `seq` (as in the file, line breaks removed). Plain,
/// gzip and bgzip files are read; the file is loaded when the query is
/// planned, so use it for files that fit in memory. Only files under a
/// directory the session's [`FileAccess`](super::access::FileAccess) allows
/// are read.
#[derive(Debug, Default)]
pub struct ReadFastaFunc;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, true),
        Field::new("length", DataType::Int64, false),
        Field::new("seq", DataType::Utf8, false),
    ]))
}

struct Batch {
    name: StringBuilder,
    description: StringBuilder,
    length: Int64Builder,
    seq: StringBuilder,
    bytes: usize,
}

impl Batch {
    fn new() -> Self {
        Self {
            name: StringBuilder::new(),
            description: StringBuilder::new(),
            length: Int64Builder::new(),
            seq: StringBuilder::new(),
            bytes: 0,
        }
    }

    fn finish(mut self, path: &str) -> Result<RecordBatch, SqlError> {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(self.name.finish()),
                Arc::new(self.description.finish()),
                Arc::new(self.length.finish()),
                Arc::new(self.seq.finish()),
            ],
        )
        .map_err(|e| SqlError::Malformed { path: path.into(), line: 0, message: e.to_string() })
    }
}

/// Reads every record of a FASTA stream into record batches.
pub fn read_fasta(
    path: &str,
    reader: impl std::io::BufRead,
) -> Result<Vec<RecordBatch>, SqlError> {
    let mut reader = fasta::io::Reader::new(reader);
    let mut seq = Vec::new();
    let mut batches = Vec::new();
    let mut batch = Batch::new();
    let mut record = 0u64;
    loop {
        let malformed = |record: u64, message: String| SqlError::Malformed {
            path: path.to_string(),
            line: record,
            message: format!("record {record}: {message}"),
        };
        // Read the raw definition line so that names keep their bytes exactly.
        let mut def = fasta::record::Definition::default();
        let n = reader
            .read_definition(&mut def)
            .map_err(|e| malformed(record + 1, format!("bad header: {e}")))?;
        if n == 0 {
            break;
        }
        record += 1;
        seq.clear();
        reader
            .read_sequence(&mut seq)
            .map_err(|e| malformed(record, format!("bad sequence: {e}")))?;
        let name = std::str::from_utf8(def.name())
            .map_err(|_| malformed(record, "name is not UTF-8".into()))?;
        let text = std::str::from_utf8(&seq)
            .map_err(|_| malformed(record, format!("sequence of '{name}' is not UTF-8")))?;
        if batch.bytes + seq.len() > BATCH_BYTES && batch.bytes > 0 {
            batches.push(std::mem::replace(&mut batch, Batch::new()).finish(path)?);
        }
        batch.name.append_value(name);
        match def.description() {
            Some(d) => batch.description.append_value(
                std::str::from_utf8(d)
                    .map_err(|_| malformed(record, "description is not UTF-8".into()))?,
            ),
            None => batch.description.append_null(),
        }
        batch.length.append_value(seq.len() as i64);
        batch.seq.append_value(text);
        batch.bytes += seq.len();
    }
    batches.push(batch.finish(path)?);
    Ok(batches)
}

impl TableFunctionImpl for ReadFastaFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 1 {
            return Err(SqlError::Argument {
                function: NAME,
                message: format!("expects 1 argument (path), got {}", exprs.len()),
            }
            .into());
        }
        let path = source::string_arg(NAME, exprs, 0, "path")?;
        let batches = read_fasta(&path, source::open_allowed(args.session(), NAME, &path)?)?;
        let table = datafusion::datasource::MemTable::try_new(schema(), vec![batches])?;
        Ok(Arc::new(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    #[test]
    fn reads_records() {
        let text = ">chr1 first one\nACGT\nacg\n>chr2\nNN\n>empty\n";
        let b = read_fasta("t.fa", text.as_bytes()).unwrap();
        assert_eq!(b.len(), 1);
        let b = &b[0];
        assert_eq!(b.num_rows(), 3);
        assert_eq!(b.column(0).as_string::<i32>().value(0), "chr1");
        assert_eq!(b.column(1).as_string::<i32>().value(0), "first one");
        assert!(b.column(1).is_null(1));
        assert_eq!(b.column(2).as_primitive::<Int64Type>().values().to_vec(), [7, 2, 0]);
        assert_eq!(b.column(3).as_string::<i32>().value(0), "ACGTacg");
    }

    #[test]
    fn garbage_is_an_error() {
        let e = read_fasta("t.fa", "not fasta\n".as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("t.fa:1: record 1: bad header"), "{e}");
    }
}
