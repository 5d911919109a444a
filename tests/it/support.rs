//! Shared helpers for the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's `data/` folder (bundled real data and fixtures).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// Ingests the bundled lambda phage genome as assembly `lambda` in 256 bp windows.
pub fn ingest_lambda(db: &omicsdb::Database) {
    db.ingest_genome(&omicsdb::GenomeIngest {
        assembly: "lambda".into(),
        path: data_dir().join("genome/lambda_virus.fa.gz"),
        width: 256,
        stride: 256,
        window_set: None,
        replace: false,
    })
    .unwrap();
}

/// The `omicsdb` binary: `$OMICSDB_BIN` when set (e.g. a copy taken right
/// after building, when several checkouts share one target directory and
/// its `omicsdb`), else the one built alongside this test binary.
pub fn omicsdb_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("OMICSDB_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/it-HASH -> target/debug/omicsdb
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("omicsdb");
    assert!(bin.exists(), "{} not built; run `cargo test --workspace`", bin.display());
    bin
}

/// Runs `omicsdb --db DB ARGS...` and returns its output.
pub fn omicsdb(db: &Path, args: &[&str]) -> Output {
    Command::new(omicsdb_bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run omicsdb")
}

/// Runs omicsdb and asserts success; returns stdout.
pub fn omicsdb_ok(db: &Path, args: &[&str]) -> String {
    let out = omicsdb(db, args);
    assert!(
        out.status.success(),
        "omicsdb {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether an external tool is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

/// A tokio runtime for async engine calls in sync tests.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// The project's Python virtualenv's python (made by scripts/setup.sh at
/// `$OMICSDB_VENV`, default `~/.cache/omicsdb-venv`).
pub fn venv_python() -> std::path::PathBuf {
    let venv = match std::env::var_os("OMICSDB_VENV") {
        Some(v) => std::path::PathBuf::from(v),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is not set");
            std::path::PathBuf::from(home).join(".cache/omicsdb-venv")
        }
    };
    venv.join("bin/python")
}
