//! Model-level acceptance run on `scripts/acceptance_omics.py --windows-tsv` output, the
//! same training and evaluation code as `omicsdb train` without the database around it:
//!
//! ```text
//! python3 scripts/acceptance_omics.py /tmp/omics_acc --windows-tsv
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
//! TSV; 0).

use candle_core::{DType, Device};

use super::baseline::KmerBaseline;
use super::{Dataset, TrainOptions, evaluate_tracks, train_observed};
use crate::omics::{OmicsNet, OmicsSpec, OmicsTrack, Pooling, StemSpec, TrackKind};
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
            kernel => Some(StemSpec { kernel, pool: env("OMICSDB_ACC_STEM_POOL", 8), channels: env("OMICSDB_ACC_STEM_C", 128) }),
        },
    };
    let genome = (spec.flank_bp > 0).then(|| read_fasta(&std::path::Path::new(&path).with_file_name("genome.fa")));
    let input_len = spec.input_len();
    let t = spec.tracks.len();
    let (mut tr, mut va, mut te) = (Dataset::new(input_len, t), Dataset::new(input_len, t), Dataset::new(input_len, t));
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let seq: Vec<u8> = match &genome {
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
        match f[0] {
            "chr6" => te.push(&ids, &y).unwrap(),
            "chr5" => va.push(&ids, &y).unwrap(),
            _ => tr.push(&ids, &y).unwrap(),
        }
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
    let opts = TrainOptions {
        epochs: env("OMICSDB_ACC_EPOCHS", 6),
        batch_size: env("OMICSDB_ACC_BATCH", 32),
        lr: std::env::var("OMICSDB_ACC_LR").ok().and_then(|v| v.parse().ok()).unwrap_or(2e-3),
        seed: 1,
        patience: env("OMICSDB_ACC_PATIENCE", 2),
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
    let mut on_epoch = |net: &OmicsNet, e: &super::EpochReport| {
        let pred = super::trainer::predict_raw(net, &te, 64, &Device::Cpu).unwrap();
        let m = evaluate_tracks(&spec, &pred, &targets);
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
    let targets: Vec<Vec<f32>> = (0..t).map(|i| te.target_column(i)).collect();
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
