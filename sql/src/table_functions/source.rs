//! Opening local text files (plain, gzip or bgzip) that the session may read,
//! and reading table-function arguments.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use flate2::read::MultiGzDecoder;

use super::access::FileAccess;
use crate::error::SqlError;

/// Opens `path` for line reading, decompressing gzip and BGZF (detected from
/// the magic bytes, not the extension), if the session's [`FileAccess`]
/// policy lets `function` read it.
pub fn open_allowed(
    session: &dyn Session,
    function: &'static str,
    path: &str,
) -> Result<Box<dyn BufRead + Send>, SqlError> {
    let real = FileAccess::of(session).resolve(function, path)?;
    open_resolved(path, &real)
}

/// Opens the resolved `real` path; errors name `path` as the query gave it.
fn open_resolved(path: &str, real: &Path) -> Result<Box<dyn BufRead + Send>, SqlError> {
    let io = |source| SqlError::Io { path: path.to_string(), source };
    let mut file = BufReader::with_capacity(1 << 16, File::open(real).map_err(io)?);
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
