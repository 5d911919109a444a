//! Commits and clean-up under damage: a commit never names a directory that
//! is not on disk, an unreadable catalog entry stops the clean-up instead of
//! losing the data it references, and a clean-up failure after a commit is a
//! warning, not a failed command.

use crate::catalog::CatalogBatch;
use crate::store::Store;
use crate::test_util::TempDir;
use crate::StorageError;

#[test]
fn a_commit_naming_a_missing_data_directory_is_refused_and_changes_nothing() {
    let dir = TempDir::new("missing-dir");
    let store = Store::open(dir.join("db")).unwrap();
    let mut batch = CatalogBatch::new();
    batch.put("test/ghost", &serde_json::json!({"dir": "data/test/ghost-1"})).unwrap();
    let err = store.commit(batch).unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err}");
    assert!(err.to_string().contains("data/test/ghost-1"), "{err}");
    let got: Option<serde_json::Value> = store.catalog().get("test/ghost").unwrap();
    assert!(got.is_none(), "nothing was committed");
}

#[test]
fn a_commit_syncs_the_new_directory_and_keeps_it() {
    let dir = TempDir::new("sync-dir");
    let store = Store::open(dir.join("db")).unwrap();
    let (abs, rel) = store.new_data_dir("test", "kept").unwrap();
    std::fs::create_dir_all(abs.join("nested")).unwrap();
    std::fs::write(abs.join("nested/part.bin"), b"x").unwrap();
    let mut batch = CatalogBatch::new();
    batch.put("test/kept", &serde_json::json!({"dir": rel})).unwrap();
    store.commit(batch).unwrap();
    assert!(abs.join("nested/part.bin").exists());
    assert!(store.take_warnings().is_empty());
}

#[test]
fn an_unreadable_catalog_entry_stops_the_clean_up_and_warns() {
    let dir = TempDir::new("unreadable");
    let db = dir.join("db");
    let rel = {
        let store = Store::open(&db).unwrap();
        let (abs, rel) = store.new_data_dir("test", "precious").unwrap();
        std::fs::write(abs.join("data.bin"), b"keep me").unwrap();
        let mut batch = CatalogBatch::new();
        batch.put("test/precious", &serde_json::json!({"dir": rel})).unwrap();
        store.commit(batch).unwrap();
        // The entry is damaged: its directory is no longer recognisable.
        store.catalog().put_raw("test/precious", format!("{{\"dir\": \"{rel}\"").as_bytes()).unwrap();
        rel
    };
    let store = Store::open(&db).expect("a damaged entry does not make the database unopenable");
    assert!(db.join(&rel).join("data.bin").exists(), "the directory of an unreadable entry is kept");
    let warnings = store.take_warnings();
    assert!(warnings.iter().any(|w| w.contains("test/precious") && w.contains("no data directory was removed")), "{warnings:?}");
    // Reading the entry itself is an error naming it, not a silent skip.
    let err = store.catalog().get::<serde_json::Value>("test/precious").unwrap_err();
    assert!(err.to_string().contains("test/precious"), "{err}");
}

#[test]
fn a_clean_up_failure_after_a_commit_is_a_warning_not_an_error() {
    let dir = TempDir::new("cleanup");
    let store = Store::open(dir.join("db")).unwrap();
    // Something in the data area the clean-up cannot remove.
    std::fs::create_dir_all(dir.join("db/data/test")).unwrap();
    std::fs::write(dir.join("db/data/test/stray"), b"not a directory").unwrap();
    let (_, rel) = store.new_data_dir("test", "new").unwrap();
    let mut batch = CatalogBatch::new();
    batch.put("test/new", &serde_json::json!({"dir": rel})).unwrap();
    store.commit(batch).expect("the commit succeeded; the clean-up is not the command");
    let got: Option<serde_json::Value> = store.catalog().get("test/new").unwrap();
    assert!(got.is_some());
    let warnings = store.take_warnings();
    assert!(warnings.iter().any(|w| w.contains("stray")), "{warnings:?}");
    assert!(store.take_warnings().is_empty(), "warnings are taken once");
}
