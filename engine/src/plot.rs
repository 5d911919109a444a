//! Genome-browser-style figures of a region (crate plotters): one signal lane
//! per observed track and per predicted (tissue, assay) column, a gene lane
//! when a `genes` table is present, with [`PlotRequest::ism`] a logo-style lane of
//! in-silico saturation mutagenesis ([`IsmLane`]), and a coordinate axis. PNG or SVG by the
//! output file's extension.
//!
//! SVG labels are `<text>` elements (drawn by the viewer's fonts). PNG labels
//! need a TrueType font: `OMICSDB_FONT` names one, otherwise common system
//! fonts (DejaVu Sans, Liberation Sans, ...) are tried; without any, the PNG
//! is drawn without labels and [`PlotReport::labels`] is false.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use omicsdb::Database;
//! use omicsdb::plot::{PlotRequest, plot};
//! let db = Database::open("my.omicsdb")?;
//! let mut req = PlotRequest::new("20:1,000,001-1,200,000", "region.svg");
//! req.predictions = Some("omics".into());
//! let report = plot(&db, &req).await?;
//! println!("{} lanes", report.lanes.len());
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Int64Type};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::Database;
use crate::materialize::sql::{quote_ident, quote_str};
use crate::materialize::tables;

/// Errors of [`plot`].
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A bad option (region, track, model, output name).
    #[error("{option}: {message}")]
    Argument {
        /// The option, e.g. `--region`.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Drawing or encoding the figure.
    #[error("drawing {}: {message}", .path.display())]
    Draw {
        /// Output file.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
    /// Engine errors (queries, catalog).
    #[error(transparent)]
    Engine(#[from] crate::Error),
}

impl From<datafusion::error::DataFusionError> for PlotError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<omicsdb_storage::StorageError> for PlotError {
    fn from(e: omicsdb_storage::StorageError) -> Self {
        Self::Engine(e.into())
    }
}

type Result<T, E = PlotError> = std::result::Result<T, E>;

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotRequest {
    /// `chrom:start-end`, 1-based closed, commas allowed.
    pub region: String,
    /// Window set whose track values are drawn.
    pub window_set: String,
    /// Observed tracks (default: every track on the window set).
    pub tracks: Option<Vec<String>>,
    /// Model whose `predictions_<model>` table is drawn.
    pub predictions: Option<String>,
    /// An in-silico mutagenesis lane (regions of at most 10,000 bp).
    pub ism: Option<IsmLane>,
    /// Figure width in pixels.
    pub width_px: u32,
    /// Output file: `.png` or `.svg`.
    pub out: PathBuf,
}

impl PlotRequest {
    /// A figure of `region` into `out` with default options.
    pub fn new(region: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Self {
            region: region.into(),
            window_set: omicsdb_storage::DEFAULT_WINDOW_SET.to_string(),
            tracks: None,
            predictions: None,
            ism: None,
            width_px: 1200,
            out: out.into(),
        }
    }
}

/// A logo-style lane of `ism(region, tissue, assay [, model])`: at every position the
/// reference base, drawn as a bar (with its letter where a base is at least 8 px wide)
/// of height `importance = −mean(delta)` over the three substitutions, coloured by base
/// (A green, C blue, G orange, T red): above the line where the reference base raises
/// the prediction (mutating it lowers it), below where it lowers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsmLane {
    /// Omics model (`None`: the default, as for `predict_omics`).
    pub model: Option<String>,
    /// Tissue.
    pub tissue: String,
    /// Assay (a field name, assay or track name of the tissue).
    pub assay: String,
}

/// What was drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotReport {
    /// Lane labels, top to bottom.
    pub lanes: Vec<String>,
    /// Figure size in pixels.
    pub width: u32,
    /// Figure height in pixels.
    pub height: u32,
    /// Whether text labels were drawn.
    pub labels: bool,
}

/// A region: chromosome and 0-based half-open bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Chromosome.
    pub chrom: String,
    /// 0-based start.
    pub start: i64,
    /// Exclusive end.
    pub end: i64,
}

/// Parses `chrom:start-end` (1-based closed, commas allowed) into 0-based half-open.
pub fn parse_region(text: &str) -> Result<Region> {
    let r = omicsdb_storage::region::Region::parse(text)
        .map_err(|message| PlotError::Argument { option: "--region", message })?;
    Ok(Region { chrom: r.chrom, start: r.start as i64, end: r.end as i64 })
}

/// One lane of the figure.
#[derive(Debug, Clone, PartialEq)]
enum Lane {
    Signal { label: String, predicted: bool, values: Vec<(i64, i64, f32)> },
    Genes { genes: Vec<Gene> },
    /// Per position (0-based): the reference base and its importance.
    Ism { label: String, values: Vec<(i64, u8, f32)> },
}

#[derive(Debug, Clone, PartialEq)]
struct Gene {
    start: i64,
    end: i64,
    name: String,
    strand: String,
}

const LEFT_PX: i32 = 170;
const SIGNAL_PX: i32 = 64;
const GENE_ROW_PX: i32 = 26;
const TITLE_PX: i32 = 30;
const AXIS_PX: i32 = 44;

/// Draws the figure described by `req`.
pub async fn plot(db: &Database, req: &PlotRequest) -> Result<PlotReport> {
    let region = parse_region(&req.region)?;
    let ext = req.out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let svg = match ext.as_deref() {
        Some("svg") => true,
        Some("png") => false,
        _ => {
            return Err(PlotError::Argument { option: "--out", message: format!("{}: the file name must end in .png or .svg", req.out.display()) });
        }
    };
    if req.width_px < 400 || req.width_px > 20_000 {
        return Err(PlotError::Argument { option: "--width", message: format!("{} px is outside 400..20000", req.width_px) });
    }
    let ws = db.store().window_set(&req.window_set)?;
    let assembly = db.store().assembly(&ws.assembly)?;
    let chrom = assembly.chroms.iter().find(|c| c.name == region.chrom).ok_or_else(|| PlotError::Argument {
        option: "--region",
        message: format!("assembly {} has no chromosome '{}'", ws.assembly, region.chrom),
    })?;
    let region = Region { end: region.end.min(chrom.length as i64), ..region };
    if region.start >= region.end {
        return Err(PlotError::Argument { option: "--region", message: format!("{} starts past the end of {} ({} bp)", req.region, chrom.name, chrom.length) });
    }
    let mut lanes = observed_lanes(db, req, &region).await?;
    if let Some(model) = &req.predictions {
        lanes.extend(predicted_lanes(db, model, &region).await?);
    }
    if let Some(ism) = &req.ism {
        lanes.push(ism_lane(db, ism, &region).await?);
    }
    if db.context().table_exist("genes")? {
        lanes.push(Lane::Genes { genes: genes(db, &region).await? });
    }
    let labels = svg || font_registered();
    let height = TITLE_PX + lanes.iter().map(lane_height).sum::<i32>() + AXIS_PX;
    let size = (req.width_px, height as u32);
    let draw_err = |e: String| PlotError::Draw { path: req.out.clone(), message: e };
    if svg {
        let root = SVGBackend::new(&req.out, size).into_drawing_area();
        render(&root, &lanes, &region, labels).map_err(|e| draw_err(e.to_string()))?;
        root.present().map_err(|e| draw_err(e.to_string()))?;
    } else {
        let root = BitMapBackend::new(&req.out, size).into_drawing_area();
        render(&root, &lanes, &region, labels).map_err(|e| draw_err(e.to_string()))?;
        root.present().map_err(|e| draw_err(e.to_string()))?;
    }
    Ok(PlotReport { lanes: lanes.iter().map(lane_label).collect(), width: size.0, height: size.1, labels })
}

fn lane_label(l: &Lane) -> String {
    match l {
        Lane::Signal { label, .. } => label.clone(),
        Lane::Genes { .. } => "genes".to_string(),
        Lane::Ism { label, .. } => label.clone(),
    }
}

fn lane_height(l: &Lane) -> i32 {
    match l {
        Lane::Signal { .. } => SIGNAL_PX,
        Lane::Ism { .. } => 2 * SIGNAL_PX,
        Lane::Genes { genes } => GENE_ROW_PX * (gene_rows(genes).iter().copied().max().map_or(1, |r| r + 1) as i32) + 8,
    }
}

/// Greedy packing: each gene goes to the first row whose last gene ends before it starts.
fn gene_rows(genes: &[Gene]) -> Vec<usize> {
    let mut ends: Vec<i64> = Vec::new();
    genes
        .iter()
        .map(|g| match ends.iter().position(|&e| e < g.start) {
            Some(r) => {
                ends[r] = g.end;
                r
            }
            None => {
                ends.push(g.end);
                ends.len() - 1
            }
        })
        .collect()
}

async fn observed_lanes(db: &Database, req: &PlotRequest, region: &Region) -> Result<Vec<Lane>> {
    let all = db.store().tracks()?;
    let on_set: Vec<_> = all.iter().filter(|t| t.files.contains_key(&req.window_set)).collect();
    let chosen: Vec<_> = match &req.tracks {
        None => on_set,
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                let t = on_set.iter().find(|t| &t.name == n).ok_or_else(|| PlotError::Argument {
                    option: "--tracks",
                    message: format!(
                        "no track '{n}' on window set {} (tracks: {})",
                        req.window_set,
                        on_set.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                })?;
                out.push(*t);
            }
            out
        }
    };
    let mut lanes = Vec::new();
    for t in chosen {
        let Some(column) = t.columns.first() else { continue };
        let q = format!(
            "SELECT start, \"end\", CAST({} AS FLOAT) FROM {} WHERE chrom = {} AND \"end\" > {} AND start < {} ORDER BY start",
            quote_ident(column),
            quote_ident(&req.window_set),
            quote_str(&region.chrom),
            region.start,
            region.end
        );
        let batches = db.sql(&q).await?;
        lanes.push(Lane::Signal { label: t.name.clone(), predicted: false, values: signal(&batches, 0, 1, 2) });
    }
    Ok(lanes)
}

async fn predicted_lanes(db: &Database, model: &str, region: &Region) -> Result<Vec<Lane>> {
    let table = tables::table_name(model);
    if !db.context().table_exist(table.as_str())? {
        tables::register(db)?;
    }
    if !db.context().table_exist(table.as_str())? {
        return Err(PlotError::Argument {
            option: "--predictions",
            message: format!("model {model} has no materialized predictions (table {table}); run `omicsdb materialize --model {model}` first"),
        });
    }
    let schema = db.context().table_provider(table.as_str()).await?.schema();
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| *f.data_type() == DataType::Float32)
        .map(|f| f.name().clone())
        .collect();
    let mut lanes = Vec::new();
    let tissues = db
        .sql(&format!("SELECT DISTINCT tissue FROM {} WHERE chrom = {} ORDER BY tissue", quote_ident(&table), quote_str(&region.chrom)))
        .await?;
    let tissues: Vec<Option<String>> = tissues
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_string::<i32>();
            (0..b.num_rows()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())).collect::<Vec<_>>()
        })
        .collect();
    for tissue in tissues {
        let filter = match &tissue {
            Some(t) => format!("tissue = {}", quote_str(t)),
            None => "tissue IS NULL".to_string(),
        };
        for c in &columns {
            let q = format!(
                "SELECT start, \"end\", {} FROM {} WHERE chrom = {} AND {filter} AND \"end\" > {} AND start < {} ORDER BY start",
                quote_ident(c),
                quote_ident(&table),
                quote_str(&region.chrom),
                region.start,
                region.end
            );
            let batches = db.sql(&q).await?;
            let label = match &tissue {
                Some(t) => format!("{model}: {t} {c}"),
                None => format!("{model}: {c}"),
            };
            lanes.push(Lane::Signal { label, predicted: true, values: signal(&batches, 0, 1, 2) });
        }
    }
    Ok(lanes)
}

async fn ism_lane(db: &Database, ism: &IsmLane, region: &Region) -> Result<Lane> {
    let span = region.end - region.start;
    if span > omicsdb_udf::variant::ism::MAX_ISM_BP as i64 {
        return Err(PlotError::Argument {
            option: "--ism",
            message: format!("{span} bp region; mutagenesis is drawn for at most {} bp (plot a smaller region)", omicsdb_udf::variant::ism::MAX_ISM_BP),
        });
    }
    let model = ism.model.as_deref().map(|m| format!(", {}", quote_str(m))).unwrap_or_default();
    let q = format!(
        "SELECT pos, ref, -avg(delta) AS importance FROM ism({}, {}, {}{model}) GROUP BY pos, ref ORDER BY pos",
        quote_str(&format!("{}:{}-{}", region.chrom, region.start + 1, region.end)),
        quote_str(&ism.tissue),
        quote_str(&ism.assay)
    );
    let batches = db.sql(&q).await?;
    let mut values = Vec::new();
    for b in &batches {
        let pos = b.column(0).as_primitive::<Int64Type>();
        let base = b.column(1).as_string::<i32>();
        let imp = b.column(2).as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        for i in 0..b.num_rows() {
            values.push((pos.value(i) - 1, base.value(i).bytes().next().unwrap_or(b'N'), imp.value(i) as f32));
        }
    }
    let label = match &ism.model {
        Some(m) => format!("ISM {m}: {} {}", ism.tissue, ism.assay),
        None => format!("ISM: {} {}", ism.tissue, ism.assay),
    };
    Ok(Lane::Ism { label, values })
}

async fn genes(db: &Database, region: &Region) -> Result<Vec<Gene>> {
    let q = format!(
        "SELECT start, \"end\", coalesce(gene_name, gene_id), strand FROM genes WHERE chrom = {} AND \"end\" > {} AND start < {} ORDER BY start",
        quote_str(&region.chrom),
        region.start,
        region.end
    );
    let mut out = Vec::new();
    for b in db.sql(&q).await? {
        let (s, e) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>());
        let (n, st) = (b.column(2).as_string::<i32>(), b.column(3).as_string::<i32>());
        for i in 0..b.num_rows() {
            out.push(Gene {
                start: s.value(i),
                end: e.value(i),
                name: if n.is_valid(i) { n.value(i).to_string() } else { String::new() },
                strand: if st.is_valid(i) { st.value(i).to_string() } else { ".".into() },
            });
        }
    }
    Ok(out)
}

fn signal(batches: &[RecordBatch], s: usize, e: usize, v: usize) -> Vec<(i64, i64, f32)> {
    let mut out = Vec::new();
    for b in batches {
        let (ss, ee, vv) = (
            b.column(s).as_primitive::<Int64Type>(),
            b.column(e).as_primitive::<Int64Type>(),
            b.column(v).as_primitive::<Float32Type>(),
        );
        for i in 0..b.num_rows() {
            if vv.is_valid(i) && vv.value(i).is_finite() {
                out.push((ss.value(i), ee.value(i), vv.value(i)));
            }
        }
    }
    out
}

/// Registers a TrueType font for PNG labels once; true when one is available.
fn font_registered() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let mut candidates: Vec<PathBuf> = std::env::var_os("OMICSDB_FONT").map(PathBuf::from).into_iter().collect();
        for p in [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
            "/Library/Fonts/Arial.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ] {
            candidates.push(PathBuf::from(p));
        }
        candidates.iter().any(|p| register(p))
    })
}

fn register(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    // plotters keeps fonts for the process's lifetime; one font is leaked once.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
}

/// Tick step (1, 2 or 5 × 10^k bases) giving at most ~8 ticks over `span`.
pub fn tick_step(span: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if span / (step * m) <= 8 {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn thousands(n: i64) -> String {
    let s = crate::materialize::progress::thousands(n.unsigned_abs());
    if n < 0 { format!("-{s}") } else { s }
}

fn render<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, lanes: &[Lane], region: &Region, labels: bool) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let right = w - 12;
    let span = (region.end - region.start).max(1) as f64;
    let x = |pos: i64| LEFT_PX + (((pos - region.start) as f64 / span) * (right - LEFT_PX) as f64).round() as i32;
    let font = |size: i32| TextStyle::from(("sans-serif", size as f64).into_font()).color(&BLACK);
    let observed = RGBColor(31, 119, 180);
    let predicted = RGBColor(230, 110, 20);
    let grey = RGBColor(200, 200, 200);
    if labels {
        let title = format!("{}:{}-{} ({} bp)", region.chrom, thousands(region.start + 1), thousands(region.end), thousands(region.end - region.start));
        root.draw(&Text::new(title, (LEFT_PX, 8), font(15)))?;
    }
    let mut y = TITLE_PX;
    for lane in lanes {
        let lh = lane_height(lane);
        match lane {
            Lane::Signal { label, predicted: is_pred, values } => {
                let color = if *is_pred { predicted } else { observed };
                let max = values.iter().map(|v| v.2).fold(0.0f32, f32::max);
                let min = values.iter().map(|v| v.2).fold(0.0f32, f32::min);
                let range = (max - min).max(f32::MIN_POSITIVE);
                let (top, bottom) = (y + 4, y + lh - 6);
                let ypix = |v: f32| bottom - (((v - min) / range) * (bottom - top) as f32).round() as i32;
                let zero = ypix(0.0);
                root.draw(&PathElement::new(vec![(LEFT_PX, zero), (right, zero)], grey.stroke_width(1)))?;
                for &(s, e, v) in values {
                    let (x0, x1) = (x(s.max(region.start)), x(e.min(region.end)));
                    let yv = ypix(v);
                    root.draw(&Rectangle::new([(x0, yv.min(zero)), (x1.max(x0 + 1), yv.max(zero))], color.filled()))?;
                }
                if labels {
                    root.draw(&Text::new(label.clone(), (8, y + lh / 2 - 8), font(12)))?;
                    root.draw(&Text::new(format!("{min:.3}..{max:.3}"), (8, y + lh / 2 + 6), font(10).color(&RGBColor(110, 110, 110))))?;
                }
                root.draw(&PathElement::new(vec![(0, y + lh - 1), (w, y + lh - 1)], RGBColor(235, 235, 235).stroke_width(1)))?;
            }
            Lane::Ism { label, values } => {
                let top_abs = values.iter().map(|v| v.2.abs()).fold(0.0f32, f32::max).max(f32::MIN_POSITIVE);
                let (top, bottom) = (y + 4, y + lh - 6);
                let zero = (top + bottom) / 2;
                let half = (bottom - top) as f32 / 2.0;
                root.draw(&PathElement::new(vec![(LEFT_PX, zero), (right, zero)], grey.stroke_width(1)))?;
                for &(p, base, v) in values {
                    let color = match base {
                        b'A' => RGBColor(20, 150, 60),
                        b'C' => RGBColor(30, 90, 200),
                        b'G' => RGBColor(240, 150, 0),
                        _ => RGBColor(210, 40, 40),
                    };
                    let (x0, x1) = (x(p), x(p + 1).max(x(p) + 1));
                    let yv = zero - ((v / top_abs) * half).round() as i32;
                    root.draw(&Rectangle::new([(x0, yv.min(zero)), (x1, yv.max(zero))], color.filled()))?;
                    let size = (x1 - x0).min((yv - zero).abs());
                    if labels && x1 - x0 >= 8 && size >= 6 {
                        let style = font(size).color(&WHITE).pos(Pos::new(HPos::Center, VPos::Center));
                        root.draw(&Text::new((base as char).to_string(), ((x0 + x1) / 2, (yv + zero) / 2), style))?;
                    }
                }
                if labels {
                    root.draw(&Text::new(label.clone(), (8, y + lh / 2 - 8), font(12)))?;
                    root.draw(&Text::new(format!("-mean delta, |max| {top_abs:.3}"), (8, y + lh / 2 + 6), font(10).color(&RGBColor(110, 110, 110))))?;
                }
                root.draw(&PathElement::new(vec![(0, y + lh - 1), (w, y + lh - 1)], RGBColor(235, 235, 235).stroke_width(1)))?;
            }
            Lane::Genes { genes } => {
                let rows = gene_rows(genes);
                if labels {
                    root.draw(&Text::new("genes".to_string(), (8, y + 6), font(12)))?;
                }
                for (g, row) in genes.iter().zip(rows) {
                    let gy = y + 6 + row as i32 * GENE_ROW_PX;
                    let (x0, x1) = (x(g.start.max(region.start)), x(g.end.min(region.end)));
                    root.draw(&Rectangle::new([(x0, gy), (x1.max(x0 + 1), gy + 7)], RGBColor(40, 40, 40).filled()))?;
                    if labels {
                        let arrow = match g.strand.as_str() {
                            "+" => " (+)",
                            "-" => " (-)",
                            _ => "",
                        };
                        let name = format!("{}{arrow}", g.name);
                        root.draw(&Text::new(name, (x0.max(LEFT_PX), gy + 9), font(10)))?;
                    }
                }
            }
        }
        y += lh;
    }
    // Coordinate axis.
    let ay = h - AXIS_PX + 6;
    root.draw(&PathElement::new(vec![(LEFT_PX, ay), (right, ay)], BLACK.stroke_width(1)))?;
    let step = tick_step(region.end - region.start);
    let mut tick = (region.start / step + 1) * step;
    while tick <= region.end {
        let tx = x(tick);
        root.draw(&PathElement::new(vec![(tx, ay), (tx, ay + 6)], BLACK.stroke_width(1)))?;
        if labels {
            let style = font(10).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(thousands(tick), (tx, ay + 9), style))?;
        }
        tick += step;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_one_based_closed_with_commas() {
        assert_eq!(parse_region("chr1:1,000,001-1,200,000").unwrap(), Region { chrom: "chr1".into(), start: 1_000_000, end: 1_200_000 });
        assert_eq!(parse_region("20:5-5").unwrap(), Region { chrom: "20".into(), start: 4, end: 5 });
        for bad in ["chr1", "chr1:10", "chr1:0-5", "chr1:9-3", ":1-2", "chr1:a-b"] {
            let msg = parse_region(bad).unwrap_err().to_string();
            assert!(msg.contains("--region") && msg.contains(bad), "{bad}: {msg}");
        }
    }

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(tick_step(200_000), 50_000);
        assert_eq!(tick_step(1000), 200);
        assert_eq!(tick_step(8), 1);
        assert_eq!(tick_step(48_502), 10_000);
    }

    #[test]
    fn overlapping_genes_go_to_separate_rows() {
        let g = |s, e| Gene { start: s, end: e, name: String::new(), strand: "+".into() };
        assert_eq!(gene_rows(&[g(0, 100), g(50, 150), g(120, 200), g(160, 170)]), vec![0, 1, 0, 1]);
    }
}
