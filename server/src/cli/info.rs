//! `omicsdb info`

use anyhow::Result;
use omicsdb::Database;

use super::{human_bytes, thousands};

/// Prints assemblies, window sets and tracks.
pub fn run(db: &Database) -> Result<()> {
    let store = db.store();
    println!("database {}", store.root().display());
    let assemblies = store.assemblies()?;
    println!("assemblies: {}", assemblies.len());
    for a in &assemblies {
        println!(
            "  {}: {} chromosomes, {} bp (from {})",
            a.name,
            a.chroms.len(),
            thousands(a.total_length()),
            a.source
        );
    }
    let sets = store.window_sets()?;
    println!("window sets: {}", sets.len());
    for w in &sets {
        println!(
            "  {}: assembly {}, width {}, stride {}, {} windows, {}",
            w.name,
            w.assembly,
            w.width,
            w.stride,
            thousands(w.rows()),
            human_bytes(w.bytes())
        );
    }
    let tracks = store.tracks()?;
    println!("tracks: {}", tracks.len());
    for t in &tracks {
        println!(
            "  {}: {} {} in {} ({}), {} records",
            t.name,
            t.assay,
            t.target.as_deref().unwrap_or("-"),
            t.tissue,
            t.assembly,
            thousands(t.records)
        );
    }
    Ok(())
}
