//! Where things live inside a database directory, and removal of data files
//! that no catalog entry references (left by a crash or a replaced object).
//!
//! ```text
//! DIR/LOCK                       process lock
//! DIR/catalog/                   sled catalog
//! DIR/data/<kind>/<name>-<id>/   immutable data directories, one per committed object version
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Result, StorageError};

/// Path of the data area inside a database directory.
pub fn data_root(root: &Path) -> PathBuf {
    root.join("data")
}

/// A fresh, unique, relative data directory name for `kind`/`name`.
pub fn new_data_dir_name(kind: &str, name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("data/{kind}/{name}-{nanos:x}{:x}{n}", std::process::id())
}

/// Collects every `"dir"` string in catalog values: the data directories in use.
pub fn referenced_dirs(values: &[serde_json::Value]) -> HashSet<String> {
    fn walk(v: &serde_json::Value, out: &mut HashSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k == "dir" {
                        if let Some(s) = v.as_str() {
                            out.insert(s.to_string());
                        }
                    }
                    walk(v, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = HashSet::new();
    values.iter().for_each(|v| walk(v, &mut out));
    out
}

/// Removes data directories under `root/data/*/` that are not in `keep`.
/// Returns how many were removed.
pub fn remove_unreferenced(root: &Path, keep: &HashSet<String>) -> Result<usize> {
    let data = data_root(root);
    let mut removed = 0;
    let Ok(kinds) = std::fs::read_dir(&data) else { return Ok(0) };
    for kind in kinds.flatten() {
        let Ok(entries) = std::fs::read_dir(kind.path()) else { continue };
        for entry in entries.flatten() {
            let rel = format!(
                "data/{}/{}",
                kind.file_name().to_string_lossy(),
                entry.file_name().to_string_lossy()
            );
            if !keep.contains(&rel) {
                std::fs::remove_dir_all(entry.path()).map_err(|e| StorageError::io(entry.path(), e))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Seconds since the Unix epoch, for `created_at` fields.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Checks that `name` is an identifier usable as an SQL name: a letter or `_`
/// followed by letters, digits or `_`, at most 63 characters.
pub fn check_identifier(what: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_first || !ok_rest || name.len() > 63 {
        return Err(StorageError::invalid(
            what,
            format!("'{name}' is not an identifier (a letter or _ followed by letters, digits or _, at most 63 characters)"),
        ));
    }
    Ok(())
}
