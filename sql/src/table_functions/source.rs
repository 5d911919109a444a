//! Opening local text files (plain, gzip or bgzip) and reading table-function
//! arguments.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use flate2::read::MultiGzDecoder;

use crate::error::SqlError;

/// Opens `path` for line reading, decompressing gzip and BGZF (detected from
/// the magic bytes, not the extension).
pub fn open_text(path: &str) -> Result<Box<dyn BufRead + Send>, SqlError> {
    let io = |source| SqlError::Io { path: path.to_string(), source };
    let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    let magic = file.fill_buf().map_err(io)?;
    if magic.len() >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
        // BGZF is a series of gzip members, so the multi-member decoder reads both.
        let gz: Box<dyn Read + Send> = Box::new(MultiGzDecoder::new(file));
        Ok(Box::new(BufReader::with_capacity(1 << 16, gz)))
    } else {
        Ok(Box::new(file))
    }
}

/// The string literal at `args[index]`, or an error naming the argument.
pub fn string_arg(
    function: &'static str,
    args: &[Expr],
    index: usize,
    name: &str,
) -> Result<String, SqlError> {
    match args.get(index) {
        Some(Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
            _,
        )) => Ok(s.clone()),
        Some(other) => Err(SqlError::Argument {
            function,
            message: format!("argument `{name}` must be a string literal, got {other}"),
        }),
        None => Err(SqlError::Argument {
            function,
            message: format!("missing argument `{name}`"),
        }),
    }
}
