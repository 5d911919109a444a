//! One materialization per model at a time: an exclusive lock on
//! `DIR/locks/materialize-<model>.lock`, held for the whole run and released
//! when the [`TargetLock`] is dropped or the process dies (kill -9 included:
//! the operating system drops the lock with the file descriptor).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

use super::error::{MaterializeError, Result};

/// A held materialization lock.
#[derive(Debug)]
pub struct TargetLock {
    file: File,
    path: PathBuf,
}

impl TargetLock {
    /// Takes the lock of `model` in database `root`, or fails at once with
    /// [`MaterializeError::Locked`] naming the holder.
    pub fn acquire(root: &Path, model: &str) -> Result<Self> {
        let dir = root.join("locks");
        std::fs::create_dir_all(&dir).map_err(|e| MaterializeError::io(&dir, e))?;
        let path = dir.join(format!("materialize-{model}.lock"));
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| MaterializeError::io(&path, e))?;
        if file.try_lock_exclusive().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(MaterializeError::Locked {
                model: model.to_string(),
                path,
                holder: (!holder.is_empty()).then(|| holder.to_string()),
            });
        }
        let stamp = format!("pid {}", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(stamp.as_bytes()));
        written.map_err(|e| MaterializeError::io(&path, e))?;
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TargetLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_the_same_model_fails_until_the_first_is_dropped() {
        let dir = tempfile_dir("lock");
        let first = TargetLock::acquire(&dir, "micro").unwrap();
        let err = TargetLock::acquire(&dir, "micro").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, MaterializeError::Locked { .. }), "{msg}");
        assert!(msg.contains("model micro") && msg.contains(&format!("pid {}", std::process::id())), "{msg}");
        // Another model is another target.
        let other = TargetLock::acquire(&dir, "other").unwrap();
        drop(first);
        TargetLock::acquire(&dir, "micro").unwrap();
        drop(other);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempfile_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("omicsdb-mat-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
