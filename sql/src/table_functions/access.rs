//! Which files the table functions may read: [`FileAccess`], a list of
//! directories kept in the session's configuration.
//!
//! `read_bed`, `read_fasta` and `closest` take a path from the SQL text. In a
//! server, or any embedding that runs SQL it did not write, that would read
//! any file the process can (`read_bed('/home/x/.ssh/id_rsa')` shows the
//! first tab-separated fields of each line in its error messages). So every
//! path is resolved — made absolute against the current directory, `..` and
//! symlinks followed — and must then lie under one of the allowed
//! directories, themselves resolved when the policy is made. A context
//! without a policy allows nothing: the embedder says where files may come
//! from (`omicsdb sql` allows the current directory and the database;
//! `omicsdb serve` only its `--allow-dir` directories).
//!
//! The policy is a [`SessionConfig`] extension, not a configuration option:
//! SQL cannot change it (`SET` reaches options only), and every session made
//! from a context's state (the server gives each connection its own) carries
//! the same policy.
//!
//! ```
//! use datafusion::prelude::SessionContext;
//! use omicsdb_sql::table_functions::access::FileAccess;
//!
//! let ctx = SessionContext::new();
//! let dir = std::env::temp_dir();
//! FileAccess::under([&dir]).unwrap().install(&ctx);
//! assert_eq!(FileAccess::of_context(&ctx).dirs(), [dir.canonicalize().unwrap()]);
//! ```

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::SqlError;

/// The directories under which the file table functions may read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAccess {
    /// Canonical (absolute, symlink-free) directories.
    dirs: Vec<PathBuf>,
}

impl FileAccess {
    /// A policy that allows no file at all (what a context without a policy
    /// gets).
    pub fn none() -> FileAccess {
        FileAccess::default()
    }

    /// Files under `dirs` (and their subdirectories). Each directory is
    /// resolved now; one that does not exist or is not a directory is an
    /// error naming it.
    pub fn under<I, P>(dirs: I) -> Result<FileAccess, SqlError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut resolved = Vec::new();
        for dir in dirs {
            let dir = dir.as_ref();
            let io = |source| SqlError::Io { path: dir.display().to_string(), source };
            let real = dir.canonicalize().map_err(io)?;
            if !real.is_dir() {
                return Err(io(std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory")));
            }
            if !resolved.contains(&real) {
                resolved.push(real);
            }
        }
        Ok(FileAccess { dirs: resolved })
    }

    /// The allowed directories, resolved.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Whether the resolved path `real` lies under an allowed directory.
    fn allows(&self, real: &Path) -> bool {
        self.dirs.iter().any(|dir| real.starts_with(dir))
    }

    /// The resolved path of `path` (relative paths start at the current
    /// directory) when it lies under an allowed directory: the path to open.
    /// A path outside is [`SqlError::AccessDenied`], whether or not the file
    /// exists (so the error does not tell which files exist elsewhere); a
    /// missing file under an allowed directory is the usual I/O error.
    pub fn resolve(&self, function: &'static str, path: &str) -> Result<PathBuf, SqlError> {
        let denied = || SqlError::AccessDenied { function, path: path.to_owned(), allowed: AllowedDirs(self.dirs.clone()) };
        match Path::new(path).canonicalize() {
            Ok(real) if self.allows(&real) => Ok(real),
            Ok(_) => Err(denied()),
            Err(source) => match resolve_existing_prefix(Path::new(path)) {
                Some(real) if self.allows(&real) => Err(SqlError::Io { path: path.to_owned(), source }),
                _ => Err(denied()),
            },
        }
    }

    /// Makes this the policy of `ctx` and of every session made from its
    /// state from now on.
    pub fn install(self, ctx: &SessionContext) {
        ctx.state_ref().write().config_mut().set_extension(Arc::new(self));
    }

    /// `config` with this policy.
    pub fn with_config(self, config: SessionConfig) -> SessionConfig {
        config.with_extension(Arc::new(self))
    }

    /// The policy of `session`; [`FileAccess::none`] when none is installed.
    pub fn of(session: &dyn Session) -> Arc<FileAccess> {
        session.config().get_extension::<FileAccess>().unwrap_or_default()
    }

    /// The policy of `ctx`; [`FileAccess::none`] when none is installed.
    pub fn of_context(ctx: &SessionContext) -> Arc<FileAccess> {
        ctx.state_ref().read().config().get_extension::<FileAccess>().unwrap_or_default()
    }
}

/// The allowed directories as an error message shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedDirs(pub Vec<PathBuf>);

impl fmt::Display for AllowedDirs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(
                "no directory is allowed (omicsdb sql --allow-dir DIR, omicsdb serve --allow-dir DIR, \
                 or FileAccess::install in an embedding)",
            );
        }
        f.write_str("allowed directories: ")?;
        for (i, dir) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", dir.display())?;
        }
        Ok(())
    }
}

/// For a path that does not resolve (a missing file): its deepest existing
/// ancestor resolved, with the rest of the path appended as written
/// (`..` in the rest dropping a component). `None` when nothing resolves.
fn resolve_existing_prefix(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut base = absolute.as_path();
    let mut rest = Vec::new();
    let real = loop {
        if let Ok(real) = base.canonicalize() {
            break real;
        }
        rest.push(base.file_name()?.to_owned());
        base = base.parent()?;
    };
    let mut out = real;
    for part in rest.iter().rev() {
        match Path::new(part).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) | None => {}
            Some(_) => out.push(part),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory tree: `<tmp>/allowed/{a.bed,sub/b.bed}` and
    /// `<tmp>/outside/secret.bed`; removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let root = std::env::temp_dir().join(format!("omicsdb-access-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("allowed/sub")).unwrap();
            std::fs::create_dir_all(root.join("outside")).unwrap();
            for f in ["allowed/a.bed", "allowed/sub/b.bed", "outside/secret.bed"] {
                std::fs::write(root.join(f), "chr1\t1\t2\n").unwrap();
            }
            Tree(root.canonicalize().unwrap())
        }

        fn path(&self, rel: &str) -> String {
            self.0.join(rel).to_str().unwrap().to_owned()
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn denied(result: Result<PathBuf, SqlError>) -> String {
        match result {
            Err(e @ SqlError::AccessDenied { .. }) => e.to_string(),
            other => panic!("expected AccessDenied, got {other:?}"),
        }
    }

    #[test]
    fn files_under_the_allowed_directory_resolve() {
        let t = Tree::new("inside");
        let access = FileAccess::under([t.0.join("allowed")]).unwrap();
        assert_eq!(access.resolve("read_bed", &t.path("allowed/a.bed")).unwrap(), t.0.join("allowed/a.bed"));
        assert_eq!(access.resolve("read_bed", &t.path("allowed/sub/../sub/b.bed")).unwrap(), t.0.join("allowed/sub/b.bed"));
        // A symlink inside that points inside is fine.
        std::os::unix::fs::symlink(t.0.join("allowed/sub/b.bed"), t.0.join("allowed/link.bed")).unwrap();
        assert_eq!(access.resolve("read_bed", &t.path("allowed/link.bed")).unwrap(), t.0.join("allowed/sub/b.bed"));
    }

    #[test]
    fn dot_dot_symlinks_and_prefix_siblings_are_refused() {
        let t = Tree::new("outside");
        let access = FileAccess::under([t.0.join("allowed")]).unwrap();
        std::os::unix::fs::symlink(t.0.join("outside/secret.bed"), t.0.join("allowed/link.bed")).unwrap();
        std::os::unix::fs::symlink(t.0.join("outside"), t.0.join("allowed/dir_link")).unwrap();
        std::fs::create_dir_all(t.0.join("allowed2")).unwrap();
        std::fs::write(t.0.join("allowed2/x.bed"), "").unwrap();
        for path in [
            t.path("outside/secret.bed"),
            t.path("allowed/../outside/secret.bed"),
            t.path("allowed/link.bed"),
            t.path("allowed/dir_link/secret.bed"),
            t.path("allowed2/x.bed"),
            "/etc/passwd".to_owned(),
        ] {
            let message = denied(access.resolve("read_bed", &path));
            assert!(message.contains(&path) && message.contains(&t.path("allowed")), "{message}");
            assert!(message.starts_with("read_bed: permission denied"), "{message}");
        }
    }

    #[test]
    fn missing_files_are_io_errors_inside_and_denied_outside() {
        let t = Tree::new("missing");
        let access = FileAccess::under([t.0.join("allowed")]).unwrap();
        std::os::unix::fs::symlink(t.0.join("outside"), t.0.join("allowed/dir_link")).unwrap();
        match access.resolve("read_bed", &t.path("allowed/nope.bed")) {
            Err(SqlError::Io { path, source }) => {
                assert_eq!(path, t.path("allowed/nope.bed"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
        for path in [t.path("outside/nope.bed"), t.path("allowed/dir_link/nope.bed"), t.path("allowed/../outside/nope.bed")] {
            denied(access.resolve("read_bed", &path));
        }
    }

    #[test]
    fn no_policy_allows_nothing_and_says_how_to_allow() {
        let t = Tree::new("none");
        let message = denied(FileAccess::none().resolve("read_fasta", &t.path("allowed/a.bed")));
        assert!(message.contains("--allow-dir"), "{message}");
        let ctx = SessionContext::new();
        assert_eq!(*FileAccess::of_context(&ctx), FileAccess::none());
        FileAccess::under([t.0.join("allowed")]).unwrap().install(&ctx);
        assert_eq!(FileAccess::of_context(&ctx).dirs(), [t.0.join("allowed")]);
        // Sessions made from the context's state carry the policy.
        let session = SessionContext::new_with_state(ctx.state());
        assert_eq!(FileAccess::of_context(&session).dirs(), [t.0.join("allowed")]);
    }

    #[test]
    fn allowed_directories_must_exist() {
        let t = Tree::new("dirs");
        assert!(FileAccess::under([t.0.join("nope")]).is_err());
        assert!(FileAccess::under([t.0.join("allowed/a.bed")]).is_err());
    }
}
