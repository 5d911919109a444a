//! Model-level acceptance run on `scripts/acceptance_omics.py --windows-tsv` output, the
//! same training and evaluation code as `omicsdb train` without the database around it:
//!
//! ```text
//! python3 scripts/acceptance_omics.py /tmp/omics_acc --min-site-score 0.8 --windows-tsv
//! OMICSDB_ACC_TSV=/tmp/omics_acc/windows.tsv cargo test -p omicsdb-model --lib \
//!     train::acceptance -- --ignored --nocapture
//! ```
//!
//! chr1–chr4 train, chr5 validates, chr6 is held out. Env: `OMICSDB_ACC_EPOCHS` (6),
//! `OMICSDB_ACC_DMODEL` (32), `OMICSDB_ACC_LAYERS` (2), `OMICSDB_ACC_BATCH` (32),
//! `OMICSDB_ACC_LR` (2e-3), `OMICSDB_ACC_POOLING` (`mean`), `OMICSDB_ACC_SHORT`
//! (short filter width, 3), `OMICSDB_ACC_EMB` (positional features, 5),
//! `OMICSDB_ACC_STEM_K` (convolutional stem width; 0: no stem), `OMICSDB_ACC_STEM_POOL`
//! (8), `OMICSDB_ACC_STEM_C` (stem filters, 128), `OMICSDB_ACC_FLANK` (flanking bases per side, read from `genome.fa` next to the
//! TSV; 0), `OMICSDB_ACC_BIN` (per-bin outputs of this many bp, targets from the
//! generator's bedGraph and BED files next to the TSV; 0: none), `OMICSDB_ACC_BIN_CTX`
//! (neighbouring bins pooled per bin, 0), `OMICSDB_ACC_RC` (1: reverse-complement
//! augmentation), `OMICSDB_ACC_RCAVG` (1: the per-epoch held-out metrics average both
//! strands), `OMICSDB_ACC_COSINE` (1: cosine learning-rate schedule), `OMICSDB_ACC_SEEDS`
//! (motif seeds per track, 0), `OMICSDB_ACC_GELU` (1: the GELU stem instead of ReLU),
//! `OMICSDB_ACC_TEST` / `OMICSDB_ACC_VALID` (comma-separated chromosomes; chr6 / chr5),
//! `OMICSDB_ACC_SHIFT` (shift augmentation, at most this many bp; 0), `OMICSDB_ACC_EMA`
//! (weight-average decay per step; 0: off), `OMICSDB_ACC_DUMP` (a file for the held-out
//! outputs and targets, one row per window).
//!
//! `scripts/acceptance_omics.sh` runs the same recipe through `omicsdb train`:
//! `OMICSDB_ACC_DMODEL=64 OMICSDB_ACC_FLANK=300 OMICSDB_ACC_STEM_K=19 OMICSDB_ACC_STEM_POOL=10
//! OMICSDB_ACC_STEM_C=128 OMICSDB_ACC_BIN=100 OMICSDB_ACC_BIN_CTX=2 OMICSDB_ACC_RC=1
//! OMICSDB_ACC_RCAVG=1 OMICSDB_ACC_COSINE=1 OMICSDB_ACC_SEEDS=8 OMICSDB_ACC_LR=5e-3
//! OMICSDB_ACC_POOLING=mean-max OMICSDB_ACC_EPOCHS=12 OMICSDB_ACC_PATIENCE=20`.

use candle_core::{DType, Device};

use super::baseline::KmerBaseline;
use super::{Dataset, TrainOptions, evaluate_tracks, train_observed};
use crate::omics::{OmicsNet, OmicsSpec, OmicsTrack, Pooling, StemActivation, StemSpec, TrackKind};
use crate::{Config, tokenize};

fn env(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

#[test]
#[ignore = "acceptance benchmark: minutes of CPU; needs OMICSDB_ACC_TSV"]
fn acceptance() {
    let path = std::env::var("OMICSDB_ACC_TSV").expect("OMICSDB_ACC_TSV");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let tracks: Vec<OmicsTrack> = header[4..]
        .iter()
        .map(|name| {
            let tissue = name.split('_').next().unwrap().to_string();
            let peaks = name.ends_with("peaks");
            OmicsTrack {
                name: name.to_string(),
                column: name.to_string(),
                assay: if peaks { "ATAC-seq".into() } else { "ChIP-seq".into() },
                target: if peaks { None } else { Some("H3K27ac".into()) },
                tissue,
                kind: if peaks { TrackKind::Peaks } else { TrackKind::Signal },
            }
        })
        .collect();
    let spec = OmicsSpec {
        assembly: "syn6".into(),
        window_set: "windows".into(),
        window_bp: 1000,
        flank_bp: env("OMICSDB_ACC_FLANK", 0),
        tracks,
        rc_average: false,
        pooling: Pooling::parse(&std::env::var("OMICSDB_ACC_POOLING").unwrap_or_default()).unwrap_or(Pooling::Mean),
        stem: match env("OMICSDB_ACC_STEM_K", 0) {
            0 => None,
            kernel => Some(StemSpec { kernel, pool: env("OMICSDB_ACC_STEM_POOL", 8), channels: env("OMICSDB_ACC_STEM_C", 128), activation: if env("OMICSDB_ACC_GELU", 0) == 1 { StemActivation::Gelu } else { StemActivation::Relu } }),
        },
        bin_bp: match env("OMICSDB_ACC_BIN", 0) {
            0 => None,
            bin => Some(bin),
        },
        bin_context: env("OMICSDB_ACC_BIN_CTX", 0),
        impute: None,
    };
    let layout = spec.bin_layout().unwrap();
    let genome_file = std::path::Path::new(&path).with_file_name("genome.fa");
    let genome = (spec.flank_bp > 0 || layout.is_some()).then(|| read_fasta(&genome_file));
    let bin_tracks = layout.map(|_| read_bin_tracks(std::path::Path::new(&path), &spec, genome.as_ref().unwrap()));
    let input_len = spec.input_len();
    let t = spec.tracks.len();
    let nb = layout.map_or(0, |l| l.count);
    let test_chroms = std::env::var("OMICSDB_ACC_TEST").unwrap_or("chr6".into());
    let test_chroms: Vec<&str> = test_chroms.split(',').collect();
    let valid_chroms = std::env::var("OMICSDB_ACC_VALID").unwrap_or("chr5".into());
    let valid_chroms: Vec<&str> = valid_chroms.split(',').collect();
    let (tr, va, te) =
        (Dataset::with_bins(input_len, t, nb), Dataset::with_bins(input_len, t, nb), Dataset::with_bins(input_len, t, nb));
    let (mut tr, mut va, mut te) = (tr.flanked(spec.flank_bp), va.flanked(spec.flank_bp), te.flanked(spec.flank_bp));
    let mut last_window: Option<(String, String)> = None;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let seq: Vec<u8> = match genome.as_ref().filter(|_| spec.flank_bp > 0) {
            Some(g) => {
                let chrom = &g[f[0]];
                let centre = (f[1].parse::<u64>().unwrap() + f[2].parse::<u64>().unwrap()) / 2;
                crate::omics::spec::context_sequence(centre, input_len, chrom.len() as u64, |s, e| {
                    Ok::<_, ()>(chrom[s as usize..e as usize].to_vec())
                })
                .unwrap()
            }
            None => f[3].as_bytes().to_vec(),
        };
        let seq: Vec<u8> = seq.into_iter().map(|b| if b"ACGT".contains(&b) { b } else { b'N' }).collect();
        let ids = tokenize(&seq).unwrap();
        let y: Vec<f32> = (0..t).map(|i| spec.encode_target(i, f[4 + i].parse().unwrap())).collect();
        let set = if test_chroms.contains(&f[0]) {
            &mut te
        } else if valid_chroms.contains(&f[0]) {
            &mut va
        } else {
            &mut tr
        };
        match &bin_tracks {
            Some(tracks) => {
                let bin = spec.bin_bp.unwrap();
                let start: usize = f[1].parse().unwrap();
                let mut yb = Vec::with_capacity(nb * t);
                for b in 0..nb {
                    for (i, track) in tracks.iter().enumerate() {
                        let v = &track[f[0]][start + b * bin..start + (b + 1) * bin];
                        let raw = match spec.tracks[i].kind {
                            TrackKind::Peaks => v.iter().cloned().fold(0.0, f32::max),
                            TrackKind::Signal => v.iter().sum::<f32>() / bin as f32,
                        };
                        yb.push(spec.encode_target(i, raw));
                    }
                }
                set.push_binned(&ids, &y, &yb).unwrap();
            }
            None => set.push(&ids, &y).unwrap(),
        }
        if last_window.as_ref().is_some_and(|(c, e)| c == f[0] && e == f[1]) {
            set.mark_continues();
        }
        last_window = Some((f[0].to_string(), f[2].to_string()));
    }
    println!("windows: {} train, {} valid, {} test", tr.n(), va.n(), te.n());
    let d = env("OMICSDB_ACC_DMODEL", 32);
    let cfg = Config::from_json_str(
        &format!(
            r#"{{"d_model":{d},"n_layer":{},"d_inner":{},"vocab_size":12,"max_seq_len":{},"filter_order":32,"modulation_shift":0.0,"short_filter_order":{},"emb_dim":{}}}"#,
            env("OMICSDB_ACC_LAYERS", 2),
            4 * d,
            spec.trunk_len(),
            env("OMICSDB_ACC_SHORT", 3),
            env("OMICSDB_ACC_EMB", 5)
        ),
        std::path::Path::new("acceptance"),
    )
    .unwrap();
    let bias: Vec<f32> = (0..t)
        .map(|i| {
            let c = tr.target_column(i);
            let m = c.iter().sum::<f32>() / c.len() as f32;
            if spec.tracks[i].kind == TrackKind::Peaks { (m / (1.0 - m)).ln() } else { m }
        })
        .collect();
    let mut net = OmicsNet::random(&cfg, t, spec.pooling, spec.stem, &bias, 1, &Device::Cpu).unwrap();
    if let Some(layout) = layout {
        net = net.with_bins(layout, spec.peak_mask()).unwrap();
    }
    let seeds = crate::omics::seed::enriched_kmers(&tr, &spec, 8, env("OMICSDB_ACC_SEEDS", 0));
    println!("seeded {} stem filters: {}", net.seed_stem(&seeds).unwrap(), seeds.iter().map(|s| format!("{}({}:{}/{:.0})", s.word(), s.track, s.observed, s.expected)).collect::<Vec<_>>().join(" "));
    let opts = TrainOptions {
        epochs: env("OMICSDB_ACC_EPOCHS", 6),
        batch_size: env("OMICSDB_ACC_BATCH", 32),
        lr: std::env::var("OMICSDB_ACC_LR").ok().and_then(|v| v.parse().ok()).unwrap_or(2e-3),
        seed: 1,
        patience: env("OMICSDB_ACC_PATIENCE", 2),
        rc_augment: env("OMICSDB_ACC_RC", 0) == 1,
        schedule: if env("OMICSDB_ACC_COSINE", 0) == 1 { super::LrSchedule::Cosine } else { super::LrSchedule::Constant },
        shift_augment: env("OMICSDB_ACC_SHIFT", 0),
        ema_decay: std::env::var("OMICSDB_ACC_EMA").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0),
        ..Default::default()
    };
    let mut last = std::time::Instant::now();
    let targets: Vec<Vec<f32>> = (0..t).map(|i| te.target_column(i)).collect();
    let mut on_step = |p: &super::trainer::StepProgress| {
        if last.elapsed().as_secs() >= 30 || p.step == p.steps {
            println!("epoch {} step {}/{} loss {:.4} {:.1} windows/s", p.epoch, p.step, p.steps, p.loss, p.windows_per_s);
            last = std::time::Instant::now();
        }
    };
    // Held-out metrics after every epoch, to see how fast the model learns.
    // The held-out set on the other strand, for reverse-complement averaging.
    let te_rc = {
        let mut d = te.clone();
        for i in 0..d.n() {
            let row: Vec<u32> = te.example_ids(i).iter().rev().map(|&t| crate::omics::predictor::complement_id(t)).collect();
            d.ids[i * d.len..(i + 1) * d.len].copy_from_slice(&row);
        }
        d
    };
    let rc_avg = env("OMICSDB_ACC_RCAVG", 0) == 1;
    // Held-out raw outputs, both strands averaged when OMICSDB_ACC_RCAVG=1.
    let held_out = |net: &OmicsNet| {
        let mut pred = super::trainer::predict_raw(net, &te, 64, &Device::Cpu).unwrap();
        if rc_avg {
            let other = super::trainer::predict_raw(net, &te_rc, 64, &Device::Cpu).unwrap();
            for (a, b) in pred.iter_mut().zip(&other) {
                a.iter_mut().zip(b).for_each(|(x, y)| *x = 0.5 * (*x + y));
            }
        }
        pred
    };
    let mut on_epoch = |net: &OmicsNet, e: &super::EpochReport| {
        let m = evaluate_tracks(&spec, &held_out(net), &targets);
        let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.3}"));
        let line: Vec<String> = m.iter().map(|m| format!("{} r={} auroc={}", m.track, f(m.pearson), f(m.auroc))).collect();
        println!("epoch {} valid loss {:.4} | held-out: {}", e.epoch, e.valid_loss, line.join("; "));
    };
    let report = train_observed(&mut net, &spec, &tr, &va, &opts, &mut on_step, &mut on_epoch).unwrap();
    for e in &report.epochs {
        println!("{e:?}");
    }
    println!("training {:.1} s, best epoch {}", report.seconds, report.best_epoch);
    let t0 = std::time::Instant::now();
    let pred = super::trainer::predict_raw(&net, &te, 64, &Device::Cpu).unwrap();
    println!("held-out inference (training path): {:.1} windows/s", te.n() as f64 / t0.elapsed().as_secs_f64());
    // Fused inference path on the saved weights, as predict_omics runs it.
    let dir = std::env::temp_dir().join(format!("omics-acc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    net.save(&dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), spec.config_json(&cfg).to_string()).unwrap();
    let predictor = crate::omics::OmicsPredictor::load(&dir, &Device::Cpu).unwrap();
    let t1 = std::time::Instant::now();
    let rows: Vec<usize> = (0..te.n()).collect();
    for chunk in rows.chunks(16) {
        let (ids, _) = te.batch(chunk, &Device::Cpu).unwrap();
        predictor.forward_raw(&ids.to_dtype(DType::U32).unwrap(), false).unwrap();
    }
    let fused = te.n() as f64 / t1.elapsed().as_secs_f64();
    println!("held-out inference (fused, batch 16): {fused:.1} windows/s -> 3.1 M windows in {:.2} h", 3.1e6 / fused / 3600.0);
    if let Ok(dump) = std::env::var("OMICSDB_ACC_DUMP") {
        // One row per held-out window in the TSV's order, for error analysis against truth.tsv.
        let pred = held_out(&net);
        let mut out = String::new();
        for i in 0..te.n() {
            let row: Vec<String> = (0..t).map(|k| format!("{}\t{}", pred[k][i], targets[k][i])).collect();
            out += &format!("{i}\t{}\n", row.join("\t"));
        }
        std::fs::write(&dump, out).unwrap();
    }
    let ours = evaluate_tracks(&spec, &pred, &targets);
    let t2 = std::time::Instant::now();
    let base = KmerBaseline::fit(&spec, &tr, 1);
    let theirs = evaluate_tracks(&spec, &base.predict(&te), &targets);
    println!("baseline fit+predict {:.1} s", t2.elapsed().as_secs_f64());
    for (m, b) in ours.iter().zip(&theirs) {
        println!(
            "{:<20} model r={:?} auroc={:?} auprc={:?} | 4-mer baseline r={:?} auroc={:?} auprc={:?}",
            m.track, m.pearson, m.auroc, m.auprc, b.pearson, b.auroc, b.auprc
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Per track, chromosome -> per-base values from the generator's files next to the TSV:
/// `<tissue>.signal.bedGraph` for signal tracks, `<tissue>.peaks.bed` (1 inside a peak)
/// for peak tracks.
fn read_bin_tracks(
    tsv: &std::path::Path,
    spec: &OmicsSpec,
    genome: &std::collections::HashMap<String, Vec<u8>>,
) -> Vec<std::collections::HashMap<String, Vec<f32>>> {
    spec.tracks
        .iter()
        .map(|track| {
            let peaks = track.kind == TrackKind::Peaks;
            let file = tsv.with_file_name(format!("{}.{}", track.tissue, if peaks { "peaks.bed" } else { "signal.bedGraph" }));
            let mut out: std::collections::HashMap<String, Vec<f32>> =
                genome.iter().map(|(c, s)| (c.clone(), vec![0f32; s.len()])).collect();
            for line in std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).lines() {
                let f: Vec<&str> = line.split('\t').collect();
                let (s, e): (usize, usize) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                let v: f32 = if peaks { 1.0 } else { f[3].parse().unwrap() };
                if let Some(arr) = out.get_mut(f[0]) {
                    let e = e.min(arr.len());
                    arr[s.min(e)..e].iter_mut().for_each(|x| *x = v);
                }
            }
            out
        })
        .collect()
}

/// Chromosome name -> uppercased sequence.
fn read_fasta(path: &std::path::Path) -> std::collections::HashMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = std::collections::HashMap::new();
    let mut name = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix('>') {
            name = n.split_whitespace().next().unwrap_or_default().to_string();
            out.insert(name.clone(), Vec::new());
        } else if let Some(seq) = out.get_mut(&name) {
            seq.extend(line.trim().bytes().map(|b| b.to_ascii_uppercase()));
        }
    }
    out
}
