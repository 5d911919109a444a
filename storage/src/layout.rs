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

/// What a clean-up of unreferenced data directories did.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// Directories removed.
    pub removed: usize,
    /// Entries that could not be removed, each with the reason (the caller
    /// reports them as warnings: the catalog is already consistent).
    pub failures: Vec<String>,
}

/// Removes data directories under `root/data/*/` that are not in `keep`.
/// Entries that are not directories are not ours and are left in place;
/// every entry that could not be removed is listed in [`Cleanup::failures`].
pub fn remove_unreferenced(root: &Path, keep: &HashSet<String>) -> Cleanup {
    let data = data_root(root);
    let mut out = Cleanup::default();
    let Ok(kinds) = std::fs::read_dir(&data) else { return out };
    for kind in kinds.flatten() {
        if !kind.path().is_dir() {
            continue;
        }
        let entries = match std::fs::read_dir(kind.path()) {
            Ok(e) => e,
            Err(e) => {
                out.failures.push(format!("cannot list {}: {e}", kind.path().display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let rel = format!(
                "data/{}/{}",
                kind.file_name().to_string_lossy(),
                entry.file_name().to_string_lossy()
            );
            if keep.contains(&rel) {
                continue;
            }
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.failures.push(format!("{} is not a data directory omicsdb wrote; left in place", entry.path().display()));
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => out.removed += 1,
                Err(e) => out.failures.push(format!("cannot remove unreferenced {}: {e}", entry.path().display())),
            }
        }
    }
    out
}

/// Makes the data directory `rel` (relative to `root`) durable: syncs every
/// directory inside it (the names of the files written there), the directory
/// itself, and its parents up to `root`, so that after a power loss the
/// catalog never names a directory or file the file system forgot. The files
/// themselves are synced by their writers.
pub fn sync_data_dir(root: &Path, rel: &str) -> Result<()> {
    let abs = root.join(rel);
    if !abs.is_dir() {
        return Err(StorageError::io(&abs, std::io::Error::new(std::io::ErrorKind::NotFound, "the data directory a catalog entry names does not exist")));
    }
    fn sync_tree(dir: &Path) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                sync_tree(&entry.path())?;
            }
        }
        sync_dir(dir)
    }
    sync_tree(&abs)?;
    let mut parent = abs.parent();
    while let Some(p) = parent {
        sync_dir(p)?;
        if p == root {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

/// fsyncs one directory (its entries: names of files created, renamed or removed in it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StorageError::io(dir, e))
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
