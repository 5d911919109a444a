//! The omics model end to end: a small synthetic genome whose "enhancers" carry a planted
//! motif, a peak track (liver) and a signal track (liver) derived from them, `train_omics`
//! on two chromosomes with a third held out, the model in the catalog with its metrics,
//! and `predict_omics` through SQL (struct and single-assay forms, long regions tiled,
//! errors naming the known tissues and assays).

use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use omicsdb::train::{LoopOptions, Pooling, StemActivation, StemSpec, TrainOpts, train_omics};
use omicsdb::{Database, GenomeIngest};
use omicsdb_storage::tracks::TrackIngest;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::rt;

pub(crate) const MOTIF: &[u8] = b"TGACGTCATGACGTCA";
pub(crate) const WINDOW: usize = 128;
pub(crate) const CHROM_LEN: usize = 128 * 120;

/// Writes the genome, the peaks BED and the signal bedGraph; windows with an index
/// divisible by 3 (offset by chromosome) hold the motif.
fn write_inputs(dir: &std::path::Path) {
    let mut rng = StdRng::seed_from_u64(5);
    let mut fa = std::fs::File::create(dir.join("g.fa")).unwrap();
    let mut bed = std::fs::File::create(dir.join("peaks.bed")).unwrap();
    let mut bg = std::fs::File::create(dir.join("signal.bedGraph")).unwrap();
    for (c, chrom) in ["c1", "c2", "c3"].iter().enumerate() {
        let mut seq: Vec<u8> = (0..CHROM_LEN).map(|_| b"ACGT"[rng.random_range(0..4)]).collect();
        for w in 0..CHROM_LEN / WINDOW {
            let start = w * WINDOW;
            let active = (w + c) % 3 == 0;
            if active {
                let at = start + rng.random_range(8..WINDOW - MOTIF.len() - 8);
                seq[at..at + MOTIF.len()].copy_from_slice(MOTIF);
                writeln!(bed, "{chrom}\t{}\t{}", start + 20, start + 100).unwrap();
            }
            let base: f64 = if active { 20.0 } else { 1.0 };
            let value = base * rng.random_range(0.8..1.2);
            writeln!(bg, "{chrom}\t{start}\t{}\t{value:.3}", start + WINDOW).unwrap();
        }
        writeln!(fa, ">{chrom}").unwrap();
        for line in seq.chunks(60) {
            fa.write_all(line).unwrap();
            fa.write_all(b"\n").unwrap();
        }
    }
}

/// The synthetic genome and its two liver tracks, ingested into a fresh database in `dir`.
pub(crate) fn toy_db(dir: &std::path::Path) -> Database {
    toy_db_with_bins(dir, None)
}

/// [`toy_db`], with a window set `bins` of `bin_bp`-wide windows created before the
/// tracks are ingested (the per-bin targets of `--bin-size`).
fn toy_db_with_bins(dir: &std::path::Path, bin_bp: Option<u64>) -> Database {
    write_inputs(dir);
    let db = Database::open(dir.join("db")).unwrap();
    db.ingest_genome(&GenomeIngest {
        assembly: "syn".into(),
        path: dir.join("g.fa"),
        width: WINDOW as u64,
        stride: WINDOW as u64,
        window_set: None,
        replace: false,
    })
    .unwrap();
    if let Some(bin) = bin_bp {
        db.create_window_set("syn", "bins", bin, bin, false).unwrap();
    }
    let mut peaks = TrackIngest::new("syn", "liver_atac", dir.join("peaks.bed"), "ATAC-seq", "liver");
    peaks.replace = true;
    db.ingest_track(&peaks).unwrap();
    let signal = TrackIngest::new("syn", "liver_k27ac", dir.join("signal.bedGraph"), "ChIP-seq", "liver");
    let signal = TrackIngest { target: Some("H3K27ac".into()), ..signal };
    db.ingest_track(&signal).unwrap();
    db.refresh().unwrap();
    db
}

/// A small liver model on the toy database: c3 held out, c2 validates, 30 epochs.
pub(crate) fn tiny_opts(model: &str) -> TrainOpts {
    TrainOpts {
        model: model.into(),
        from: None,
        window_set: "windows".into(),
        tracks: vec![],
        tissues: vec!["liver".into()],
        holdout_chroms: vec!["c3".into()],
        valid_chroms: vec!["c2".into()],
        flank_bp: 0,
        d_model: 16,
        n_layer: 1,
        max_windows: None,
        rc_average: false,
        pooling: Pooling::Mean,
        stem: None,
        bin_bp: None,
        bin_context: 0,
        motif_seeds: 0,
        impute: None,
        short_filter_order: 3,
        filter_emb_dim: 5,
        // Long enough that the held-out thresholds below hold with margin for every seed
        // tried (1-4) and for either set of gemm kernels (AVX2 or AVX-512 rounding).
        train: LoopOptions { epochs: 30, batch_size: 16, lr: 1e-2, seed: 1, patience: 30, ..Default::default() },
        note: "test".into(),
        settings: Vec::new(),
    }
}

#[test]
fn train_evaluate_register_and_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let db = toy_db(tmp.path());

    let opts = tiny_opts("omics_tiny");
    let mut steps = 0;
    let out = rt().block_on(train_omics(&db, &opts, &mut |_| steps += 1)).unwrap();
    assert!(steps > 6);
    assert_eq!(out.meta.architecture, "hyena_omics");
    assert_eq!(out.meta.tracks, vec!["liver_atac".to_string(), "liver_k27ac".to_string()]);
    let peak = &out.model_metrics[0];
    assert!(peak.auroc.unwrap() > 0.8, "{:?} (baseline {:?})", out.model_metrics, out.baseline_metrics);
    assert!(out.model_metrics[1].pearson.unwrap() > 0.5, "{:?}", out.model_metrics);
    assert!(out.meta.metrics["tracks"][0]["baseline"]["auroc"].is_number());
    assert!(db.store().path("checkpoints/omics_tiny/state.json").exists());

    // predict_omics through SQL: struct form over the held-out chromosome.
    let batches = rt()
        .block_on(db.sql("SELECT region, predict_omics(region, 'liver') AS p FROM windows WHERE chrom = 'c3' ORDER BY start"))
        .unwrap();
    let mut active_p = Vec::new();
    let mut inactive_p = Vec::new();
    let mut row = 0usize;
    for b in &batches {
        let s = b.column(1).as_struct();
        assert_eq!(s.column_names(), vec!["atac_seq", "chip_seq_h3k27ac"]);
        let p = s.column(0).as_primitive::<Float32Type>();
        for i in 0..b.num_rows() {
            if (row + 2) % 3 == 0 { active_p.push(p.value(i)) } else { inactive_p.push(p.value(i)) }
            row += 1;
        }
    }
    assert_eq!(row, CHROM_LEN / WINDOW);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(mean(&active_p) > mean(&inactive_p) + 0.05, "{} vs {}", mean(&active_p), mean(&inactive_p));

    // Single-assay form equals the struct field; a long region is tiled and averaged.
    let one = rt()
        .block_on(db.sql(
            "SELECT predict_omics('c3:1-128', 'liver', 'atac_seq') AS a, predict_omics('c3:1-128', 'liver')['atac_seq'] AS b, \
             predict_omics('c3:1-256', 'liver', 'ATAC-seq', 'omics_tiny') AS t",
        ))
        .unwrap();
    let col = |i: usize| one[0].column(i).as_primitive::<Float32Type>().value(0);
    assert!((col(0) - col(1)).abs() < 1e-6);
    let second = rt().block_on(db.sql("SELECT predict_omics('c3:129-256', 'liver', 'atac_seq') AS a")).unwrap();
    let v2 = second[0].column(0).as_primitive::<Float32Type>().value(0);
    assert!((col(2) - (col(0) + v2) / 2.0).abs() < 1e-5, "{} vs mean of {} and {v2}", col(2), col(0));

    // The chrom, start, end form gives the region form's values, NULL for NULL coordinates.
    let coords = rt()
        .block_on(db.sql(
            "SELECT predict_omics(chrom, start, \"end\", 'liver', 'atac_seq') AS c, predict_omics(region, 'liver', 'atac_seq') AS r, \
             predict_omics(chrom, CAST(NULL AS BIGINT), \"end\", 'liver')['atac_seq'] AS n \
             FROM windows WHERE chrom = 'c3' ORDER BY start LIMIT 5",
        ))
        .unwrap();
    let (c, r, n) = (coords[0].column(0).as_primitive::<Float32Type>(), coords[0].column(1).as_primitive::<Float32Type>(), coords[0].column(2));
    assert_eq!(coords[0].num_rows(), 5);
    for i in 0..5 {
        assert!((c.value(i) - r.value(i)).abs() < 1e-6, "row {i}: {} vs {}", c.value(i), r.value(i));
        assert!(n.is_null(i));
    }
    let err = rt().block_on(db.sql("SELECT predict_omics('c3', -5, 10, 'liver')")).unwrap_err().to_string();
    assert!(err.contains("negative"), "{err}");

    // Materialization of predict_omics: one row per window of c3, columns per assay,
    // values equal to the SQL function's.
    let mut req = omicsdb::materialize::Request::new("omics_tiny");
    req.chroms = Some(vec!["c3".into()]);
    let report = rt().block_on(omicsdb::materialize::materialize(&db, &req, &omicsdb::materialize::Silent)).unwrap();
    assert_eq!(report.windows as usize, CHROM_LEN / WINDOW);
    let joined = rt()
        .block_on(db.sql(
            "SELECT count(*) AS n, max(abs(p.atac_seq - predict_omics(w.region, 'liver', 'atac_seq'))) AS diff, \
             count(DISTINCT p.tissue) AS tissues FROM predictions_omics_tiny p JOIN windows w USING (chrom, start, \"end\")",
        ))
        .unwrap();
    assert_eq!(joined[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0) as usize, CHROM_LEN / WINDOW);
    let diff = joined[0].column(1).as_primitive::<Float32Type>().value(0);
    assert!(diff < 1e-5, "materialized vs SQL predict_omics differ by {diff}");
    assert_eq!(joined[0].column(2).as_primitive::<arrow::datatypes::Int64Type>().value(0), 1);

    // Errors list what the model knows.
    let err = rt().block_on(db.sql("SELECT predict_omics('c3:1-128', 'brain')")).unwrap_err().to_string();
    assert!(err.contains("liver"), "{err}");
    let err = rt().block_on(db.sql("SELECT predict_omics('c3:1-128', 'liver', 'dnase')")).unwrap_err().to_string();
    assert!(err.contains("atac_seq") && err.contains("chip_seq_h3k27ac"), "{err}");
    let err = rt().block_on(db.sql("SELECT predict_omics('chrX:1-128', 'liver')")).unwrap_err().to_string();
    assert!(err.contains("chrX"), "{err}");
}

/// A model with a convolutional stem (`--stem-kernel`) learns the planted motif and is
/// served by `predict_omics` through SQL; a stem cannot start from a pretrained backbone.
#[test]
fn stem_model_learns_and_serves_through_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let db = toy_db(tmp.path());
    let opts = TrainOpts {
        pooling: Pooling::MeanMax,
        stem: Some(StemSpec { kernel: 9, pool: 8, channels: 16, activation: StemActivation::Relu }),
        train: LoopOptions { epochs: 25, batch_size: 16, lr: 5e-3, seed: 1, patience: 25, ..Default::default() },
        note: "stem".into(),
        ..tiny_opts("omics_stem")
    };
    let out = rt().block_on(train_omics(&db, &opts, &mut |_| {})).unwrap();
    assert!(out.model_metrics[0].auroc.unwrap() > 0.8, "{:?} (baseline {:?})", out.model_metrics, out.baseline_metrics);
    assert_eq!(out.meta.config["omics"]["stem"]["kernel"], 9);
    // The models table states the input limit in bases (backbone positions x pool).
    let b = rt().block_on(db.sql("SELECT max_seq_len FROM models WHERE name = 'omics_stem'")).unwrap();
    assert_eq!(b[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0), 128);
    let b = rt()
        .block_on(db.sql(
            "SELECT predict_omics(region, 'liver', 'atac_seq', 'omics_stem') AS p FROM windows WHERE chrom = 'c3' ORDER BY start",
        ))
        .unwrap();
    let p: Vec<f32> = b.iter().flat_map(|b| b.column(0).as_primitive::<Float32Type>().values().to_vec()).collect();
    assert_eq!(p.len(), CHROM_LEN / WINDOW);
    // Held-out windows with the motif ((w + 2) % 3 == 0 on c3) score above the others.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for (w, v) in p.iter().enumerate() {
        if (w + 2) % 3 == 0 { on.push(*v) } else { off.push(*v) }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(mean(&on) > mean(&off) + 0.2, "active {} vs inactive {}", mean(&on), mean(&off));
    // A stem cannot start from a pretrained backbone.
    let bad = TrainOpts { model: "x".into(), from: Some("omics_stem".into()), ..opts };
    let err = rt().block_on(train_omics(&db, &bad, &mut |_| {})).unwrap_err().to_string();
    assert!(err.contains("stem"), "{err}");
}

/// Per-bin outputs, motif seeds, the fused ReLU stem, shift augmentation and weight
/// averaging: the seeds find the planted motif, the model learns it and `predict_omics`
/// serves it; without a bin window set, training makes and fills one.
#[test]
fn binned_seeded_stem_model_learns_and_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let db = toy_db_with_bins(tmp.path(), Some(32));
    let opts = TrainOpts {
        pooling: Pooling::MeanMax,
        stem: Some(StemSpec { kernel: 9, pool: 8, channels: 16, activation: StemActivation::Relu }),
        bin_bp: Some(32),
        bin_context: 1,
        motif_seeds: 2,
        train: LoopOptions {
            epochs: 12,
            batch_size: 16,
            lr: 5e-3,
            seed: 1,
            patience: 12,
            rc_augment: true,
            schedule: omicsdb::train::LrSchedule::Cosine,
            shift_augment: 64,
            ema_decay: 0.9,
            ..Default::default()
        },
        note: "bins".into(),
        ..tiny_opts("omics_bins")
    };
    let out = rt().block_on(train_omics(&db, &opts, &mut |_| {})).unwrap();
    assert!(out.model_metrics[0].auroc.unwrap() > 0.8, "{:?} (baseline {:?})", out.model_metrics, out.baseline_metrics);
    assert_eq!(out.meta.config["omics"]["bin_bp"], 32);
    assert_eq!(out.meta.config["omics"]["stem"]["activation"], "relu");
    assert_eq!(out.meta.metrics["training"]["shift_augment"], 64);
    assert_eq!(out.meta.metrics["training"]["ema_decay"], 0.9);
    // The first seed is an 8-mer of the planted motif (which is its own reverse complement).
    let seeds = out.meta.metrics["training"]["motif_seeds"].as_array().unwrap();
    let first = seeds[0]["kmer"].as_str().unwrap();
    assert!(std::str::from_utf8(MOTIF).unwrap().contains(first), "{seeds:?}");
    let b = rt()
        .block_on(db.sql("SELECT predict_omics(region, 'liver', 'atac_seq', 'omics_bins') AS p FROM windows WHERE chrom = 'c3' ORDER BY start"))
        .unwrap();
    let p: Vec<f32> = b.iter().flat_map(|b| b.column(0).as_primitive::<Float32Type>().values().to_vec()).collect();
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for (w, v) in p.iter().enumerate() {
        if (w + 2) % 3 == 0 { on.push(*v) } else { off.push(*v) }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(mean(&on) > mean(&off) + 0.2, "active {} vs inactive {}", mean(&on), mean(&off));

    // Bins that do not divide the window, and a database without the bin window set.
    let bad = TrainOpts { model: "x".into(), bin_bp: Some(48), ..opts.clone() };
    let err = rt().block_on(train_omics(&db, &bad, &mut |_| {})).unwrap_err().to_string();
    assert!(err.contains("must divide the window width"), "{err}");
    // Without a bin window set, training creates `bins32` and fills it from the tracks'
    // sources: the same bin values as the set made before the tracks.
    let tmp2 = tempfile::tempdir().unwrap();
    let plain = toy_db(tmp2.path());
    let quick = TrainOpts { train: LoopOptions { epochs: 1, ..opts.train.clone() }, ..opts.clone() };
    rt().block_on(train_omics(&plain, &quick, &mut |_| {})).unwrap();
    let bins = |db: &Database, set: &str| -> Vec<String> {
        let sql = format!("SELECT chrom, start, liver_atac, liver_k27ac FROM {set} ORDER BY chrom, start");
        let batches = rt().block_on(db.sql(&sql)).unwrap();
        arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string().lines().map(String::from).collect()
    };
    let made = bins(&plain, "bins32");
    assert!(made.len() > 3 * CHROM_LEN / 32, "{} lines", made.len());
    assert_eq!(made, bins(&db, "bins"));
    // A second run finds the set and does not make another.
    rt().block_on(train_omics(&plain, &TrainOpts { model: "again".into(), ..quick }, &mut |_| {})).unwrap();
    let sets: Vec<String> = plain.store().window_sets().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(sets.len(), 2, "{sets:?}");
}

/// Imputation: two more liver tracks that the sequence says nothing about (a random
/// RNA-seq signal per window, and DNase peaks exactly where that signal is high). A
/// model trained with `impute` predicts the DNase peaks from the measured RNA signal
/// through `impute_omics`, which `predict_omics` (sequence only) cannot; the held-out
/// imputation metrics are stored; models without imputation are refused.
#[test]
fn imputation_uses_the_measured_tracks() {
    let tmp = tempfile::tempdir().unwrap();
    let db = toy_db(tmp.path());
    let mut rng = StdRng::seed_from_u64(11);
    let mut rna = std::fs::File::create(tmp.path().join("rna.bedGraph")).unwrap();
    let mut dnase = std::fs::File::create(tmp.path().join("dnase.bed")).unwrap();
    for chrom in ["c1", "c2", "c3"] {
        for w in 0..CHROM_LEN / WINDOW {
            let (start, value) = (w * WINDOW, rng.random_range(0.0..10.0f64));
            writeln!(rna, "{chrom}\t{start}\t{}\t{value:.3}", start + WINDOW).unwrap();
            if value > 5.0 {
                writeln!(dnase, "{chrom}\t{}\t{}", start + 10, start + 90).unwrap();
            }
        }
    }
    drop((rna, dnase));
    db.ingest_track(&TrackIngest::new("syn", "liver_rna", tmp.path().join("rna.bedGraph"), "RNA-seq", "liver")).unwrap();
    db.ingest_track(&TrackIngest::new("syn", "liver_dnase", tmp.path().join("dnase.bed"), "DNase-seq", "liver")).unwrap();
    db.refresh().unwrap();

    let opts = TrainOpts {
        impute: Some(omicsdb::train::ImputeSpec { hidden: 16, ..Default::default() }),
        // 80 epochs: imputed AUROC ≥ 0.98 for seeds 1-4 (40 left some seeds near 0.75).
        train: LoopOptions { epochs: 80, batch_size: 16, lr: 1e-2, seed: 1, patience: 80, ..Default::default() },
        ..tiny_opts("omics_impute")
    };
    let out = rt().block_on(train_omics(&db, &opts, &mut |_| {})).unwrap();
    let dnase_at = out.meta.tracks.iter().position(|t| t == "liver_dnase").unwrap();
    let imputed = out.impute_metrics[dnase_at].auroc.unwrap();
    let seq_only = out.model_metrics[dnase_at].auroc.unwrap();
    assert!(imputed > 0.9 && seq_only < 0.75, "held-out DNase AUROC: imputed {imputed}, sequence only {seq_only}; {:?}", out.report);
    let stored = rt()
        .block_on(db.sql(
            "SELECT value FROM model_metrics WHERE model = 'omics_impute' AND track = 'liver_dnase' \
             AND method = 'hyena_omics_impute' AND metric = 'auroc'",
        ))
        .unwrap();
    let value = stored[0].column(0).as_primitive::<arrow::datatypes::Float64Type>().value(0);
    assert!((value - imputed).abs() < 1e-9, "{value} vs {imputed}");

    // Through SQL on the held-out chromosome: the imputed DNase follows the peaks, the
    // sequence-only prediction does not; both argument forms agree; NULL gives NULL.
    let b = rt()
        .block_on(db.sql(
            "SELECT liver_dnase AS observed, impute_omics(region, 'liver', 'dnase_seq') AS imputed, \
             predict_omics(region, 'liver', 'dnase_seq') AS predicted, \
             impute_omics(chrom, start, \"end\", 'liver', 'DNase-seq', 'omics_impute') AS coords, \
             impute_omics(CAST(NULL AS VARCHAR), 'liver', 'dnase_seq') AS none \
             FROM windows WHERE chrom = 'c3' ORDER BY start",
        ))
        .unwrap();
    let (mut labels, mut imputed_sql, mut predicted_sql) = (Vec::new(), Vec::new(), Vec::new());
    for batch in &b {
        let col = |i: usize| batch.column(i).as_primitive::<Float32Type>().clone();
        let (obs, imp, pred, coords) = (col(0), col(1), col(2), col(3));
        for i in 0..batch.num_rows() {
            assert!((imp.value(i) - coords.value(i)).abs() < 1e-6);
            assert!(batch.column(4).is_null(i));
            labels.push(f32::from(obs.value(i) > 0.0));
            imputed_sql.push(imp.value(i));
            predicted_sql.push(pred.value(i));
        }
    }
    // The same windows as the held-out evaluation, so the same AUROCs.
    let auroc = |p: &[f32]| omicsdb_model::train::metrics::auroc(p, &labels).unwrap();
    assert!((auroc(&imputed_sql) - imputed).abs() < 1e-4, "SQL {} vs evaluation {imputed}", auroc(&imputed_sql));
    assert!((auroc(&predicted_sql) - seq_only).abs() < 1e-4, "SQL {} vs evaluation {seq_only}", auroc(&predicted_sql));

    // The assay is required, and a model trained without imputation is refused.
    let err = rt().block_on(db.sql("SELECT impute_omics('c3:1-128', 'liver')")).unwrap_err().to_string();
    assert!(err.contains("impute_omics expects 3"), "{err}");
    rt().block_on(train_omics(&db, &TrainOpts { train: LoopOptions { epochs: 1, ..opts.train.clone() }, ..tiny_opts("plain") }, &mut |_| {}))
        .unwrap();
    let err = rt().block_on(db.sql("SELECT impute_omics('c3:1-128', 'liver', 'atac_seq', 'plain')")).unwrap_err().to_string();
    assert!(err.contains("--impute"), "{err}");
    // A track the model reads, dropped since training, is named.
    db.drop_track("liver_rna").unwrap();
    db.refresh().unwrap();
    let err = rt().block_on(db.sql("SELECT impute_omics('c3:1-128', 'liver', 'dnase_seq', 'omics_impute')")).unwrap_err().to_string();
    assert!(err.contains("liver_rna"), "{err}");
}
