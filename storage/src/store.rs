//! The database directory: lock, catalog, and the commands that change it.
//! Every command writes its data files first, then commits one catalog batch.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fs2::FileExt;

use crate::catalog::{Catalog, CatalogBatch};
use crate::error::{Result, StorageError};
use crate::fasta::ingest_fasta;
use crate::input::open_input;
use crate::layout::{self, check_identifier, new_data_dir_name, now_unix};
use crate::meta::{
    AssemblyMeta, TrackMeta, WindowSetMeta, assembly_key, track_key, window_set_key,
};
use crate::progress;
use crate::seqstore::Genome;
use crate::windows::{ROW_GROUP_ROWS, check_width_stride, write_window_set};

/// Name of the default window set.
pub const DEFAULT_WINDOW_SET: &str = "windows";

/// An open omicsdb database directory (exclusive to this process).
pub struct Store {
    root: PathBuf,
    catalog: Catalog,
    _lock: File,
    genomes: Mutex<HashMap<String, Arc<Genome>>>,
    /// Serialises commands that change the catalog within this process.
    write: Mutex<()>,
    /// Problems that did not fail a command (see [`Store::take_warnings`]).
    warnings: Mutex<Vec<String>>,
}

/// Warnings kept at most (older ones are dropped) until taken.
const MAX_WARNINGS: usize = 100;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

/// Options of `omicsdb ingest genome`.
#[derive(Debug, Clone)]
pub struct GenomeIngest {
    /// Assembly name (an identifier).
    pub assembly: String,
    /// FASTA path (plain, gzip or bgzip).
    pub path: PathBuf,
    /// Width of the default window set.
    pub width: u64,
    /// Stride of the default window set.
    pub stride: u64,
    /// Name of the window set to create (default `windows`).
    pub window_set: Option<String>,
    /// Replace an existing assembly of the same name.
    pub replace: bool,
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct GenomeReport {
    /// The stored assembly.
    pub assembly: AssemblyMeta,
    /// Window sets written (the new default and, on replace, the recomputed ones).
    pub window_sets: Vec<WindowSetMeta>,
    /// Tracks dropped because their assembly was replaced.
    pub dropped_tracks: Vec<String>,
}

impl Store {
    /// Opens the database in `dir`, creating it if absent. Fails with
    /// [`StorageError::Locked`] if another process has it open.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|e| StorageError::io(&root, e))?;
        let lock_path = root.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StorageError::io(&lock_path, e))?;
        if lock.try_lock_exclusive().is_err() {
            return Err(StorageError::Locked { path: root });
        }
        let catalog = Catalog::open(&root.join("catalog"))?;
        let store = Self {
            root,
            catalog,
            _lock: lock,
            genomes: Mutex::new(HashMap::new()),
            write: Mutex::new(()),
            warnings: Mutex::new(Vec::new()),
        };
        store.remove_unreferenced();
        Ok(store)
    }

    /// The database directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Absolute path of a path stored relative to the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Takes the in-process write lock; hold it across "write files, commit".
    pub fn write_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a fresh data directory for `kind`/`name`; returns (absolute, relative).
    pub fn new_data_dir(&self, kind: &str, name: &str) -> Result<(PathBuf, String)> {
        let rel = new_data_dir_name(kind, name);
        let abs = self.root.join(&rel);
        std::fs::create_dir_all(&abs).map_err(|e| StorageError::io(&abs, e))?;
        Ok((abs, rel))
    }

    /// Commits `batch`: first makes every data directory its entries name
    /// durable (fsync of the directories, up to the database root), then
    /// applies and flushes the batch, then removes data directories no entry
    /// references. A clean-up failure does not fail the commit (the catalog
    /// is already consistent); it becomes a warning ([`Store::take_warnings`]).
    pub fn commit(&self, batch: CatalogBatch) -> Result<()> {
        let mut dirs: Vec<String> = batch.referenced_dirs().into_iter().collect();
        dirs.sort();
        for rel in &dirs {
            layout::sync_data_dir(&self.root, rel)?;
        }
        self.catalog.commit(batch)?;
        self.remove_unreferenced();
        Ok(())
    }

    /// Removes unreferenced data directories; problems become warnings. When
    /// an entry of the catalog is unreadable nothing is removed, since the
    /// directories it references are unknown.
    fn remove_unreferenced(&self) -> usize {
        let values = match self.catalog.all_values() {
            Ok(v) => v,
            Err(e) => {
                self.warn(format!("{e}; no data directory was removed (repair or remove the entry)"));
                return 0;
            }
        };
        let keep = layout::referenced_dirs(&values);
        let cleanup = layout::remove_unreferenced(&self.root, &keep);
        for f in cleanup.failures {
            self.warn(format!("clean-up: {f}"));
        }
        cleanup.removed
    }

    /// Records a warning for [`Store::take_warnings`].
    pub fn warn(&self, message: String) {
        let mut w = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        if w.len() >= MAX_WARNINGS {
            w.remove(0);
        }
        w.push(message);
    }

    /// Takes the warnings recorded since the last call: problems that did not
    /// fail a command, such as a data directory clean-up that failed after a
    /// successful commit, or an unreadable catalog entry found at open. The
    /// CLI prints them as `warning: ...` on stderr.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// All assemblies, by name.
    pub fn assemblies(&self) -> Result<Vec<AssemblyMeta>> {
        self.catalog.list("assembly/")
    }

    /// One assembly.
    pub fn assembly(&self, name: &str) -> Result<AssemblyMeta> {
        self.catalog.get(&assembly_key(name))?.ok_or_else(|| StorageError::NotFound {
            kind: "assembly",
            name: name.to_string(),
            known: self.assemblies().unwrap_or_default().into_iter().map(|a| a.name).collect(),
        })
    }

    /// All window sets, by name.
    pub fn window_sets(&self) -> Result<Vec<WindowSetMeta>> {
        self.catalog.list("window_set/")
    }

    /// One window set.
    pub fn window_set(&self, name: &str) -> Result<WindowSetMeta> {
        self.catalog.get(&window_set_key(name))?.ok_or_else(|| StorageError::NotFound {
            kind: "window set",
            name: name.to_string(),
            known: self.window_sets().unwrap_or_default().into_iter().map(|w| w.name).collect(),
        })
    }

    /// All tracks, by name.
    pub fn tracks(&self) -> Result<Vec<TrackMeta>> {
        self.catalog.list("track/")
    }

    /// One track.
    pub fn track(&self, name: &str) -> Result<TrackMeta> {
        self.catalog.get(&track_key(name))?.ok_or_else(|| StorageError::NotFound {
            kind: "track",
            name: name.to_string(),
            known: self.tracks().unwrap_or_default().into_iter().map(|t| t.name).collect(),
        })
    }

    /// Random access to an assembly's sequence (cached per committed version).
    pub fn genome(&self, assembly: &str) -> Result<Arc<Genome>> {
        let meta = self.assembly(assembly)?;
        let mut cache = self.genomes.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{}\0{}", meta.name, meta.dir);
        if let Some(g) = cache.get(&key) {
            return Ok(Arc::clone(g));
        }
        let g = Arc::new(Genome::open(&self.root, &meta));
        cache.retain(|k, _| !k.starts_with(&format!("{}\0", meta.name)));
        cache.insert(key, Arc::clone(&g));
        Ok(g)
    }

    /// `omicsdb ingest genome`: FASTA → sequence store → default window set,
    /// committed atomically.
    pub fn ingest_genome(&self, opts: &GenomeIngest) -> Result<GenomeReport> {
        check_identifier("assembly name", &opts.assembly)?;
        check_width_stride(opts.width, opts.stride)?;
        let _guard = self.write_guard();
        let existing: Option<AssemblyMeta> = self.catalog.get(&assembly_key(&opts.assembly))?;
        if existing.is_some() && !opts.replace {
            return Err(StorageError::AlreadyExists {
                kind: "assembly",
                name: opts.assembly.clone(),
                hint: " (use --replace to replace it)".into(),
            });
        }
        let set_name = self.default_set_name(&opts.assembly, opts.window_set.as_deref())?;
        let input = open_input(&opts.path)?;
        let (seq_abs, seq_rel) = self.new_data_dir("seq", &opts.assembly)?;
        let bar = progress::bytes_bar(input.file_bytes, "reading");
        let counter = input.counter.clone();
        let chroms = ingest_fasta(&opts.path, input, &seq_abs, || bar.set_position(counter.get()))?;
        bar.finish_and_clear();
        let assembly = AssemblyMeta {
            name: opts.assembly.clone(),
            source: opts.path.display().to_string(),
            chroms,
            dir: seq_rel,
            created_at: now_unix(),
        };
        let genome = Genome::open(&self.root, &assembly);
        let mut batch = CatalogBatch::new();
        let mut sets = vec![(set_name.clone(), opts.width, opts.stride)];
        let mut dropped_tracks = Vec::new();
        if existing.is_some() {
            for ws in self.window_sets()?.into_iter().filter(|w| w.assembly == opts.assembly) {
                if ws.name != set_name {
                    sets.push((ws.name.clone(), ws.width, ws.stride));
                }
            }
            for t in self.tracks()?.into_iter().filter(|t| t.assembly == opts.assembly) {
                batch.remove(track_key(&t.name));
                dropped_tracks.push(t.name);
            }
        }
        let mut window_sets = Vec::new();
        for (name, width, stride) in sets {
            let ws = self.build_window_set(&genome, &assembly.name, &name, width, stride)?;
            batch.put(window_set_key(&name), &ws)?;
            window_sets.push(ws);
        }
        batch.put(assembly_key(&assembly.name), &assembly)?;
        self.commit(batch)?;
        Ok(GenomeReport { assembly, window_sets, dropped_tracks })
    }

    /// The window-set name to use for an assembly's default set: the one asked
    /// for, else `windows` when free (or already this assembly's), else
    /// `windows_<assembly>`.
    fn default_set_name(&self, assembly: &str, asked: Option<&str>) -> Result<String> {
        if let Some(name) = asked {
            check_identifier("window set name", name)?;
            if let Some(ws) = self.catalog.get::<WindowSetMeta>(&window_set_key(name))? {
                if ws.assembly != assembly {
                    return Err(StorageError::AlreadyExists {
                        kind: "window set",
                        name: name.into(),
                        hint: format!(" (on assembly '{}')", ws.assembly),
                    });
                }
            }
            return Ok(name.to_string());
        }
        match self.catalog.get::<WindowSetMeta>(&window_set_key(DEFAULT_WINDOW_SET))? {
            Some(ws) if ws.assembly != assembly => Ok(format!("{DEFAULT_WINDOW_SET}_{assembly}")),
            _ => Ok(DEFAULT_WINDOW_SET.to_string()),
        }
    }

    fn build_window_set(&self, genome: &Genome, assembly: &str, name: &str, width: u64, stride: u64) -> Result<WindowSetMeta> {
        let (abs, rel) = self.new_data_dir("windows", name)?;
        let total: u64 = genome.chroms().map(|(_, l)| l).sum();
        let bar = progress::count_bar(total, name, "bp");
        let files = write_window_set(genome, &abs, &rel, width, stride, &|bp| bar.inc(bp))?;
        bar.finish_and_clear();
        Ok(WindowSetMeta {
            name: name.to_string(),
            assembly: assembly.to_string(),
            width,
            stride,
            row_group_rows: ROW_GROUP_ROWS,
            dir: rel,
            files,
            created_at: now_unix(),
        })
    }

    /// `omicsdb windows create`: a new window set over a stored assembly.
    /// Existing tracks of the assembly are aggregated onto it in the same commit.
    pub fn create_window_set(&self, assembly: &str, name: &str, width: u64, stride: u64, replace: bool) -> Result<WindowSetMeta> {
        check_identifier("window set name", name)?;
        check_width_stride(width, stride)?;
        let _guard = self.write_guard();
        if let Some(ws) = self.catalog.get::<WindowSetMeta>(&window_set_key(name))? {
            if !replace || ws.assembly != assembly {
                return Err(StorageError::AlreadyExists {
                    kind: "window set",
                    name: name.into(),
                    hint: if ws.assembly == assembly { " (use --replace)".into() } else { format!(" (on assembly '{}')", ws.assembly) },
                });
            }
        }
        let genome = self.genome(assembly)?;
        let ws = self.build_window_set(&genome, assembly, name, width, stride)?;
        let mut batch = CatalogBatch::new();
        batch.put(window_set_key(name), &ws)?;
        for mut track in self.tracks()?.into_iter().filter(|t| t.assembly == assembly) {
            let files = crate::tracks::aggregate_stored_track(self, &track, &ws)?;
            track.files.insert(ws.name.clone(), files);
            batch.put(track_key(&track.name), &track)?;
        }
        self.commit(batch)?;
        Ok(ws)
    }

    /// Drops a window set (and the tracks' files on it).
    pub fn drop_window_set(&self, name: &str) -> Result<()> {
        let _guard = self.write_guard();
        self.window_set(name)?;
        let mut batch = CatalogBatch::new();
        batch.remove(window_set_key(name));
        for mut track in self.tracks()? {
            if track.files.remove(name).is_some() {
                batch.put(track_key(&track.name), &track)?;
            }
        }
        self.commit(batch)
    }
}
