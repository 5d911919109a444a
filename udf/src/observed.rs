//! Observed track values for `impute_omics`: a model input's measured values, read from
//! the track feature files of the model's window set.
//!
//! A model input is one tile of `window_bp` bases centred at `centre`. Its observed value
//! of a track is the value of the window-set row whose centre is nearest to the tile's
//! centre, when that row contains the tile's centre (for a region that is a row of the
//! window set, as in `impute_omics(region, ...) FROM windows`, that row itself); NULL
//! values and chromosomes the track has no file for are "not observed". Values are
//! encoded as training encoded its targets ([`OmicsSpec::encode_target`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use omicsdb_model::omics::OmicsSpec;
use omicsdb_storage::Store;
use omicsdb_storage::meta::{TrackMeta, WindowSetMeta};
use omicsdb_storage::tracks::output::read_track_file;

use crate::error::UdfError;

/// One column of one track file: the value per window of a chromosome.
type Column = Arc<Vec<Option<f32>>>;

/// Decoded track columns, by file path and size (a re-ingested track has new files).
#[derive(Debug, Default)]
pub struct TrackColumns {
    columns: Mutex<HashMap<(String, u64, String), Column>>,
}

impl TrackColumns {
    /// What one batch reads: the model's window set and its tracks' catalog entries,
    /// looked up once.
    pub fn for_batch<'a>(&'a self, store: &'a Store, spec: &'a OmicsSpec) -> Result<BatchObserved<'a>, UdfError> {
        let ws = store.window_set(&spec.window_set)?;
        let tracks = spec
            .tracks
            .iter()
            .map(|t| {
                store.track(&t.name).map_err(|e| UdfError::Argument {
                    function: crate::predict::IMPUTE_NAME,
                    argument: "model",
                    message: format!("the model reads the measured values of track '{}', which is not in the database ({e})", t.name),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BatchObserved { columns: self, store, spec, ws, tracks })
    }

    /// Column `column` of `track` on chromosome `chrom` of window set `ws`, `None` when
    /// the track has no file there.
    fn column(&self, store: &Store, ws: &WindowSetMeta, track: &TrackMeta, column: &str, chrom: &str) -> Result<Option<Column>, UdfError> {
        let Some(set) = track.files.get(&ws.name) else { return Ok(None) };
        let Some(file) = set.files.iter().find(|f| f.chrom == chrom) else { return Ok(None) };
        let Some(index) = track.columns.iter().position(|c| c == column) else { return Ok(None) };
        let key = (file.path.clone(), file.bytes, column.to_string());
        if let Some(c) = self.columns.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Some(Arc::clone(c)));
        }
        let mut all = read_track_file(&store.path(&file.path))?;
        if index >= all.len() {
            return Ok(None);
        }
        let col: Column = Arc::new(std::mem::take(&mut all[index]));
        self.columns.lock().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::clone(&col));
        Ok(Some(col))
    }
}

/// The observed values of one batch's tiles ([`TrackColumns::for_batch`]).
#[derive(Debug)]
pub struct BatchObserved<'a> {
    columns: &'a TrackColumns,
    store: &'a Store,
    spec: &'a OmicsSpec,
    ws: WindowSetMeta,
    tracks: Vec<TrackMeta>,
}

impl BatchObserved<'_> {
    /// Every track's encoded observed value for the tile centred at `centre` on `chrom`
    /// (see the module docs), with track `hide` left unobserved.
    pub fn observed(&self, chrom: &str, centre: u64, hide: usize) -> Result<Vec<Option<f32>>, UdfError> {
        let row = nearest_row(&self.ws, chrom, centre);
        let mut out = Vec::with_capacity(self.spec.tracks.len());
        for (t, (track, meta)) in self.spec.tracks.iter().zip(&self.tracks).enumerate() {
            let value = match row {
                Some(row) if t != hide => self
                    .columns
                    .column(self.store, &self.ws, meta, &track.column, chrom)?
                    .and_then(|c| c.get(row).copied().flatten())
                    .filter(|v| v.is_finite())
                    .map(|v| self.spec.encode_target(t, v)),
                _ => None,
            };
            out.push(value);
        }
        Ok(out)
    }
}

/// The window-set row of `chrom` whose centre is nearest to `centre`, if it contains it.
fn nearest_row(ws: &WindowSetMeta, chrom: &str, centre: u64) -> Option<usize> {
    let rows = ws.files.iter().find(|f| f.chrom == chrom)?.rows;
    if rows == 0 || ws.stride == 0 {
        return None;
    }
    let first_centre = ws.width / 2;
    let row = if centre <= first_centre { 0 } else { ((centre - first_centre) as f64 / ws.stride as f64).round() as u64 };
    let row = row.min(rows - 1);
    let start = row * ws.stride;
    (start <= centre && centre < start + ws.width).then_some(row as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use omicsdb_storage::meta::ChromFile;

    fn set(width: u64, stride: u64, rows: u64) -> WindowSetMeta {
        WindowSetMeta {
            name: "w".into(),
            assembly: "a".into(),
            width,
            stride,
            row_group_rows: 1024,
            dir: String::new(),
            files: vec![ChromFile { chrom: "c".into(), path: String::new(), rows, bytes: 0 }],
            created_at: 0,
        }
    }

    #[test]
    fn a_tile_reads_the_row_with_the_nearest_centre() {
        let tiled = set(100, 100, 10);
        assert_eq!(nearest_row(&tiled, "c", 50), Some(0));
        assert_eq!(nearest_row(&tiled, "c", 350), Some(3));
        assert_eq!(nearest_row(&tiled, "c", 399), Some(3));
        assert_eq!(nearest_row(&tiled, "c", 1500), None);
        assert_eq!(nearest_row(&tiled, "x", 50), None);
        // Overlapping windows (width 100, stride 50): centres at 50, 100, 150, ...
        let sliding = set(100, 50, 19);
        assert_eq!(nearest_row(&sliding, "c", 160), Some(2));
        assert_eq!(nearest_row(&sliding, "c", 0), Some(0));
    }
}
