//! Driving one aggregation: read the source once, accumulate every
//! chromosome for every window set, write the feature files. bigWig files are
//! read by `threads` workers, one chromosome at a time each; text files are
//! parsed in one pass, then finished and written by `threads` workers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::datatypes::SchemaRef;

use crate::error::{Result, StorageError};
use crate::meta::{ChromFile, TrackSetFiles, WindowSetMeta};
use crate::tracks::bedgraph::read_bedgraph;
use crate::tracks::bigwig::BigWigReader;
use crate::tracks::chroms::{ChromResolver, Skipped};
use crate::tracks::collect::{ChromAcc, ChromColumns, Collector, Plan, SetShape};
use crate::tracks::format::TrackFormat;
use crate::tracks::output::{track_schema, write_track_file};
use crate::tracks::peaks::read_peaks;
use crate::tracks::wig::read_wig;

/// Where a track's files on one window set go.
#[derive(Debug, Clone)]
pub struct SetTarget {
    /// The window set.
    pub ws: WindowSetMeta,
    /// Absolute data directory for the track's files on it.
    pub abs: PathBuf,
    /// The same, relative to the database root.
    pub rel: String,
}

/// The outcome of an aggregation.
#[derive(Debug, Clone)]
pub struct Aggregated {
    /// Per window set name: the files written.
    pub files: BTreeMap<String, TrackSetFiles>,
    /// Records read from the source.
    pub records: u64,
    /// Records that did not fit the assembly.
    pub skipped: Skipped,
}

/// Reads `path` (in `format`) and writes its per-window `columns` for every
/// target window set. With `strict`, any record on an unknown chromosome or
/// past a chromosome's end is an error.
#[allow(clippy::too_many_arguments)]
pub fn aggregate(
    path: &Path,
    format: TrackFormat,
    plan: Plan,
    resolver: &ChromResolver,
    targets: &[SetTarget],
    columns: &[String],
    strict: bool,
    threads: usize,
) -> Result<Aggregated> {
    let sets: Vec<SetShape> = targets.iter().map(|t| (t.ws.width, t.ws.stride)).collect();
    for t in targets {
        for f in &t.ws.files {
            if resolver.resolve(&f.chrom).is_none_or(|i| resolver.name(i) != f.chrom) {
                return Err(StorageError::Catalog(format!("window set '{}' has chromosome '{}' that its assembly lacks", t.ws.name, f.chrom)));
            }
        }
    }
    let writer = Writer { resolver, targets, sets: &sets, plan, schema: track_schema(columns), files: Mutex::new(BTreeMap::new()) };
    let threads = threads.max(1);
    let (records, skipped) = match format {
        TrackFormat::BigWig => aggregate_bigwig(path, &writer, threads)?,
        _ => {
            let mut sink = Collector::new(path, resolver, plan, &sets, strict);
            match format {
                TrackFormat::BedGraph => read_bedgraph(path, &mut sink)?,
                TrackFormat::Wig => read_wig(path, &mut sink)?,
                _ => read_peaks(path, format, &mut sink)?,
            }
            let (records, skipped) = (sink.records, sink.skipped.clone());
            let accs: Vec<Mutex<Option<ChromAcc>>> = sink.into_chroms().into_iter().map(Mutex::new).collect();
            parallel(threads, resolver.len(), |c| {
                let acc = accs[c].lock().unwrap_or_else(|p| p.into_inner()).take();
                writer.finish_chrom(c, acc)
            })?;
            (records, skipped)
        }
    };
    if strict {
        if let Some(m) = skipped.message() {
            return Err(StorageError::format(path, None, format!("{m} (--strict)")));
        }
    }
    Ok(Aggregated { files: writer.into_files()?, records, skipped })
}

fn aggregate_bigwig(path: &Path, writer: &Writer<'_>, threads: usize) -> Result<(u64, Skipped)> {
    let resolver = writer.resolver;
    let file_chroms = BigWigReader::open(path)?.chroms();
    let mut by_chrom: Vec<Vec<String>> = vec![Vec::new(); resolver.len()];
    let mut unknown = Vec::new();
    for (name, _) in &file_chroms {
        match resolver.resolve(name) {
            Some(i) => by_chrom[i].push(name.clone()),
            None => unknown.push(name.clone()),
        }
    }
    // Longest chromosomes first, so the workers finish together.
    let mut order: Vec<usize> = (0..resolver.len()).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(resolver.length(c)));
    let jobs = order.len() + unknown.len();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new((0u64, Skipped::default()));
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(jobs.max(1)))
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    let mut reader = BigWigReader::open(path)?;
                    let mut skipped = Skipped::default();
                    let mut records = 0;
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        if j >= jobs {
                            break;
                        }
                        if j >= order.len() {
                            let name = &unknown[j - order.len()];
                            let n = reader.for_each(name, |_, _, _| {})?;
                            records += n;
                            if n > 0 {
                                *skipped.unknown.entry(name.clone()).or_default() += n;
                            }
                            continue;
                        }
                        let c = order[j];
                        let length = resolver.length(c);
                        let mut acc = ChromAcc::new(&writer.plan, writer.sets, length);
                        for name in &by_chrom[c] {
                            records += reader.for_each(name, |start, end, value| {
                                if start >= length {
                                    skipped.past_end += 1;
                                    return;
                                }
                                if end > length {
                                    skipped.clipped += 1;
                                }
                                acc.add(start, end.min(length), value);
                            })?;
                        }
                        writer.finish_chrom(c, Some(acc))?;
                    }
                    let mut t = totals.lock().unwrap_or_else(|p| p.into_inner());
                    t.0 += records;
                    t.1.merge(skipped);
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(StorageError::Catalog("track worker panicked".into())))).collect()
    });
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(totals.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// Runs `job(i)` for `i in 0..n` on `threads` threads; the first error wins.
fn parallel(threads: usize, n: usize, job: impl Fn(usize) -> Result<()> + Sync) -> Result<()> {
    let next = AtomicUsize::new(0);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(n.max(1)))
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(());
                        }
                        job(i)?;
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(StorageError::Catalog("track worker panicked".into())))).collect()
    });
    results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
}

struct Writer<'a> {
    resolver: &'a ChromResolver,
    targets: &'a [SetTarget],
    sets: &'a [SetShape],
    plan: Plan,
    schema: SchemaRef,
    /// (window set index, assembly chromosome index) → file.
    files: Mutex<BTreeMap<(usize, usize), ChromFile>>,
}

impl Writer<'_> {
    /// Finishes chromosome `c` (empty when `acc` is `None`) and writes its file on every window set.
    fn finish_chrom(&self, c: usize, acc: Option<ChromAcc>) -> Result<()> {
        let length = self.resolver.length(c);
        let acc = acc.unwrap_or_else(|| ChromAcc::new(&self.plan, self.sets, length));
        let columns: ChromColumns = acc.finish(&self.plan, self.sets, length);
        for (s, (target, cols)) in self.targets.iter().zip(columns).enumerate() {
            let chrom = self.resolver.name(c);
            let Some(ws_file) = target.ws.files.iter().find(|f| f.chrom == chrom) else { continue };
            let rows = cols.first().map_or(0, |v| v.len()) as u64;
            if rows != ws_file.rows {
                return Err(StorageError::Catalog(format!(
                    "window set '{}' has {} rows on {chrom} but its width/stride give {rows}",
                    target.ws.name, ws_file.rows
                )));
            }
            let file = format!("{c}.parquet");
            let bytes = write_track_file(&target.abs.join(&file), &self.schema, &cols)?;
            let cf = ChromFile { chrom: chrom.to_string(), path: format!("{}/{file}", target.rel), rows, bytes };
            self.files.lock().unwrap_or_else(|p| p.into_inner()).insert((s, c), cf);
        }
        Ok(())
    }

    fn into_files(self) -> Result<BTreeMap<String, TrackSetFiles>> {
        let mut written = self.files.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeMap::new();
        for (s, target) in self.targets.iter().enumerate() {
            let mut files = Vec::with_capacity(target.ws.files.len());
            for f in &target.ws.files {
                let c = self.resolver.resolve(&f.chrom).unwrap_or(usize::MAX);
                let cf = written.remove(&(s, c)).ok_or_else(|| {
                    StorageError::Catalog(format!("no track file was written for {} on window set '{}'", f.chrom, target.ws.name))
                })?;
                files.push(cf);
            }
            out.insert(target.ws.name.clone(), TrackSetFiles { dir: target.rel.clone(), files });
        }
        Ok(out)
    }
}
