//! Reading line-based track files (bedGraph, BED, peaks, wig): header lines,
//! line numbers, and field parsing with errors that name the file and line.

use std::io::BufRead;
use std::path::Path;

use crate::error::{Result, StorageError};
use crate::input::open_input;

/// Iterates over the data lines of a text file (plain or gzip), skipping
/// blank lines, `#` comments and `track`/`browser` header lines.
pub struct Lines<'a> {
    path: &'a Path,
    reader: Box<dyn BufRead + Send>,
    buf: String,
    /// 1-based number of the current line.
    pub line_no: u64,
}

impl<'a> Lines<'a> {
    /// Opens `path`.
    pub fn open(path: &'a Path) -> Result<Self> {
        let input = open_input(path)?;
        Ok(Self { path, reader: input.reader, buf: String::new(), line_no: 0 })
    }

    /// The next data line (its 1-based number and text without the line
    /// end), or `None` at the end.
    /// Header lines (`track`, `browser`, `#...`) are skipped unless
    /// `keep_headers`, in which case `track`/`browser` lines are returned.
    pub fn next_line(&mut self, keep_headers: bool) -> Result<Option<(u64, &str)>> {
        loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                StorageError::format(self.path, Some(self.line_no + 1), format!("unreadable (truncated or corrupt compressed file?): {e}"))
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let t = self.buf.trim_end_matches(['\n', '\r']);
            let header = (t.starts_with("track") || t.starts_with("browser")) && !t.contains('\t');
            if t.trim().is_empty() || t.starts_with('#') || (header && !keep_headers) {
                continue;
            }
            break;
        }
        Ok(Some((self.line_no, self.buf.trim_end_matches(['\n', '\r']))))
    }

}

/// A format error at `line` of `path`.
pub fn err(path: &Path, line: u64, message: impl Into<String>) -> StorageError {
    StorageError::format(path, Some(line), message)
}

/// Splits a BED-like line on tabs (or, when it has no tab, on whitespace).
pub fn fields(line: &str) -> Vec<&str> {
    if line.contains('\t') { line.split('\t').collect() } else { line.split_whitespace().collect() }
}

/// Parses a 0-based coordinate field; negative or non-integer values are errors.
pub fn coordinate(field: &str, what: &str) -> std::result::Result<u64, String> {
    match field.trim().parse::<i64>() {
        Ok(v) if v < 0 => Err(format!("negative {what} {v}")),
        Ok(v) => Ok(v as u64),
        Err(_) => Err(format!("{what} '{field}' is not an integer")),
    }
}

/// Parses a numeric value field (accepts `nan`/`inf` spellings of Rust's parser).
pub fn value(field: &str, what: &str) -> std::result::Result<f32, String> {
    field.trim().parse::<f32>().map_err(|_| format!("{what} '{field}' is not a number"))
}

/// Parses `chrom start end` from the first three fields and checks `start <= end`.
pub fn bed3<'l>(f: &[&'l str]) -> std::result::Result<(&'l str, u64, u64), String> {
    if f.len() < 3 {
        return Err(format!("expected at least 3 tab-separated columns (chrom, start, end), found {}", f.len()));
    }
    let start = coordinate(f[1], "start")?;
    let end = coordinate(f[2], "end")?;
    if start > end {
        return Err(format!("start {start} is greater than end {end}"));
    }
    Ok((f[0], start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bed3_errors_name_the_field() {
        assert_eq!(bed3(&["chr1", "5", "10"]), Ok(("chr1", 5, 10)));
        assert_eq!(bed3(&["chr1", "-5", "10"]), Err("negative start -5".to_string()));
        assert_eq!(bed3(&["chr1", "20", "10"]), Err("start 20 is greater than end 10".to_string()));
        assert_eq!(bed3(&["chr1", "x", "10"]), Err("start 'x' is not an integer".to_string()));
        assert!(bed3(&["chr1", "5"]).is_err());
        assert_eq!(value("1.5", "value"), Ok(1.5));
        assert_eq!(value("high", "value"), Err("value 'high' is not a number".to_string()));
    }
}
