//! Variant effects end to end: `score_variant` against predictions computed
//! independently on hand-cut windows, `variant_loglik` against `loglik` of the two
//! windows, `ism` against `score_variant`, the errors and NULLs of bad variants, the
//! separation of motif-breaking from neutral variants by a model trained on the toy
//! genome, and `omicsdb score-variants` writing a VCF that bcftools reads and a
//! Parquet table, resumable and never half-written.

use std::sync::OnceLock;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Float64Type, Int64Type};
use candle_core::{Device, Tensor};
use omicsdb::Database;
use omicsdb_model::omics::{OmicsHead, OmicsSpec};
use omicsdb_storage::models;

use crate::omics::{CHROM_LEN, MOTIF, WINDOW, tiny_opts, toy_db};
use crate::support::{have, omicsdb, omicsdb_ok, rt};

/// The toy database with a trained liver model `omics_tiny` (trained once for the module).
fn trained() -> &'static Database {
    static DB: OnceLock<(tempfile::TempDir, Database)> = OnceLock::new();
    &DB.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let db = toy_db(tmp.path());
        rt().block_on(omicsdb::train::train_omics(&db, &tiny_opts("omics_tiny"), &mut |_| {})).unwrap();
        (tmp, db)
    })
    .1
}

fn sql(db: &Database, q: &str) -> Vec<RecordBatch> {
    rt().block_on(db.sql(q)).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn sql_err(db: &Database, q: &str) -> String {
    match rt().block_on(db.sql(q)) {
        Ok(_) => panic!("{q} should fail"),
        Err(e) => e.to_string(),
    }
}

/// The genome's bases of `chrom` (0-based half-open).
fn bases(db: &Database, chrom: &str, start: u64, end: u64) -> Vec<u8> {
    db.store().genome("syn").unwrap().sequence(chrom, start, end, false).unwrap()
}

/// The model's predictions (every track) on one raw window, run without the
/// variant code, the batcher or the cache.
fn predict_raw(db: &Database, seq: &[u8]) -> Vec<f32> {
    let meta = models::model(db.store(), "omics_tiny", None).unwrap();
    let spec = OmicsSpec::from_config_json(&meta.config, std::path::Path::new(&meta.config_file)).unwrap();
    let file = db.store().path(&meta.dir).join(&meta.weights_file);
    let head = OmicsHead::load(&file, spec, meta.d_model().unwrap(), &Device::Cpu).unwrap();
    let loaded = db.models().load(&meta).unwrap();
    let ids = loaded.model.tokenize(seq).unwrap();
    let ids = Tensor::from_vec(ids.clone(), (1, ids.len()), &Device::Cpu).unwrap();
    head.predict(loaded.model.as_hyena().unwrap(), &ids).unwrap().remove(0)
}

/// Where the planted motif starts in `chrom` (0-based), in order.
fn motif_sites(db: &Database, chrom: &str) -> Vec<u64> {
    let seq = bases(db, chrom, 0, CHROM_LEN as u64);
    seq.windows(MOTIF.len()).enumerate().filter(|(_, w)| *w == MOTIF).map(|(i, _)| i as u64).collect()
}

/// A base other than `b`.
fn other(b: u8) -> char {
    match b {
        b'A' => 'C',
        b'C' => 'G',
        b'G' => 'T',
        _ => 'A',
    }
}

fn f32s(b: &RecordBatch, i: usize) -> Vec<f32> {
    let c = b.column(i).as_primitive::<Float32Type>();
    (0..c.len()).map(|r| c.value(r)).collect()
}

#[test]
fn score_variant_equals_the_model_on_the_two_windows() {
    let db = trained();
    let site = motif_sites(db, "c3")[0];
    let p0 = site + 5;
    let r = bases(db, "c3", p0, p0 + 1)[0];
    let alt = other(r);
    let q = format!(
        "SELECT score_variant('c3', {pos}, '{r}', '{alt}', 'liver', 'atac_seq') AS s, \
                score_variant('c3', {pos}, '{r}', '{alt}', 'liver') AS t, \
                predict_omics('c3', {p0}, {p1}, 'liver', 'atac_seq') AS p",
        pos = p0 + 1,
        r = r as char,
        p1 = p0 + 1
    );
    let b = &sql(db, &q)[0];
    let s = b.column(0).as_struct();
    assert_eq!(s.column_names(), vec!["ref", "alt", "delta", "log2_ratio"]);
    let v = |name: &str| s.column_by_name(name).unwrap().as_primitive::<Float32Type>().value(0);
    // The reference window is predict_omics's window of the REF base's region.
    assert!((v("ref") - f32s(b, 2)[0]).abs() < 1e-6, "ref {} vs predict_omics {}", v("ref"), f32s(b, 2)[0]);
    // Both windows cut by hand (input = window_bp, no flanks in this model) and run raw.
    let len = WINDOW as u64;
    let start = p0 - len / 2;
    let mut ref_seq = bases(db, "c3", start, start + len);
    let raw_ref = predict_raw(db, &ref_seq);
    ref_seq[(p0 - start) as usize] = alt as u8;
    let raw_alt = predict_raw(db, &ref_seq);
    assert!((v("ref") - raw_ref[0]).abs() < 1e-5, "{} vs {}", v("ref"), raw_ref[0]);
    assert!((v("alt") - raw_alt[0]).abs() < 1e-5, "{} vs {}", v("alt"), raw_alt[0]);
    assert!((v("delta") - (raw_alt[0] - raw_ref[0])).abs() < 1e-5);
    let l2 = ((raw_alt[0] + 1e-6) / (raw_ref[0] + 1e-6)).log2();
    assert!((v("log2_ratio") - l2).abs() < 1e-4, "{} vs {l2}", v("log2_ratio"));
    // The all-tracks form: one struct per assay, the signal track with pseudocount 1.
    let t = b.column(1).as_struct();
    assert_eq!(t.column_names(), vec!["atac_seq", "chip_seq_h3k27ac"]);
    let sig = t.column(1).as_struct();
    let sv = |name: &str| sig.column_by_name(name).unwrap().as_primitive::<Float32Type>().value(0);
    assert!((sv("ref") - raw_ref[1]).abs() < 1e-3 * raw_ref[1].abs().max(1.0));
    assert!((sv("log2_ratio") - ((sv("alt") + 1.0) / (sv("ref") + 1.0)).log2()).abs() < 1e-5);
    let atac = t.column(0).as_struct().column(2).as_primitive::<Float32Type>().value(0);
    assert!((atac - v("delta")).abs() < 1e-6);

    // A deletion: the alt window is the haplotype re-filled to the input length.
    let d0 = site + 3;
    let del_ref = bases(db, "c3", d0, d0 + 4);
    let q = format!(
        "SELECT score_variant('c3', {}, '{}', '{}', 'liver', 'atac_seq')['alt'] AS a",
        d0 + 1,
        String::from_utf8_lossy(&del_ref),
        del_ref[0] as char
    );
    let got = f32s(&sql(db, &q)[0], 0)[0];
    let hap_start = d0 - len / 2; // allele of length 1: starts len/2 before it
    let mut hap = bases(db, "c3", hap_start, d0 + 1);
    hap.extend(bases(db, "c3", d0 + 4, d0 + 4 + (len - hap.len() as u64)));
    assert_eq!(hap.len(), WINDOW);
    let want = predict_raw(db, &hap)[0];
    assert!((got - want).abs() < 1e-5, "deletion alt {got} vs hand-cut {want}");
}

#[test]
fn bad_variants_are_errors_naming_them_or_null() {
    let db = trained();
    let at = |p0: u64| bases(db, "c3", p0, p0 + 1)[0] as char;
    let r = at(99);
    let wrong = other(r as u8);
    let e = sql_err(db, &format!("SELECT score_variant('c3', 100, '{wrong}', 'A', 'liver')"));
    assert!(e.contains("c3:100") && e.contains("differs from the genome") && e.contains("variant_ref_mismatch"), "{e}");
    for (q, want) in [
        ("SELECT score_variant('chrZ', 100, 'A', 'C', 'liver')", "chromosome 'chrZ' is not in assembly 'syn'"),
        ("SELECT score_variant('c3', 0, 'A', 'C', 'liver')", "not a 1-based position"),
        (&format!("SELECT score_variant('c3', {}, 'A', 'C', 'liver')", CHROM_LEN + 1) as &str, "past the end of c3"),
        (&format!("SELECT score_variant('c3', 100, '{r}', 'AXG', 'liver')"), "ALT 'AXG' has 'X' at position 2"),
        (&format!("SELECT score_variant('c3', 100, '{r}', 'A,T', 'liver')"), "holds 2 alleles"),
        (&format!("SELECT score_variant('c3', 100, '{r}', 'A', 'brain')"), "'brain' is not a tissue"),
        ("SELECT score_variant('c3', 'x', 'A', 'C', 'liver')", "must be an integer"),
    ] {
        let e = sql_err(db, q);
        assert!(e.contains(want), "{q}: {e}");
    }
    // Symbolic alleles and NULL arguments score NULL.
    let b = &sql(
        db,
        &format!(
            "SELECT score_variant('c3', 100, '{r}', '<DEL>', 'liver', 'atac_seq') AS a, \
                    score_variant('c3', 100, '{r}', '*', 'liver', 'atac_seq') AS b, \
                    score_variant('c3', CAST(NULL AS BIGINT), '{r}', 'A', 'liver', 'atac_seq') AS c"
        ),
    )[0];
    for i in 0..3 {
        assert!(b.column(i).is_null(0), "column {i}");
    }
    // Under the documented setting a mismatch is NULL and counted.
    let before = db.models().stats.ref_mismatches();
    let ctx = db.context();
    let out = rt().block_on(async {
        // A session of its own (the shared context's state, cloned), so the setting
        // does not reach the other tests.
        let mut state = ctx.state();
        state.config_mut().options_mut().set("omicsdb.variant_ref_mismatch", "null")?;
        let session = datafusion::prelude::SessionContext::new_with_state(state);
        session.sql(&format!("SELECT score_variant('c3', 100, '{wrong}', 'A', 'liver', 'atac_seq') AS s")).await?.collect().await
    });
    let out = out.unwrap();
    assert!(out[0].column(0).is_null(0));
    assert_eq!(db.models().stats.ref_mismatches(), before + 1);
}

#[test]
fn motif_breaking_variants_lower_the_prediction_and_separate_from_neutral() {
    let db = trained();
    // On the held-out chromosome: for each planted motif, one SNV in its centre (breaking it)
    // and one 40 bp away in the same window, outside the motif (neutral).
    let mut rows = Vec::new();
    for site in motif_sites(db, "c3") {
        let hit = site + MOTIF.len() as u64 / 2;
        let window = site / WINDOW as u64 * WINDOW as u64;
        let neutral = if site - window > 40 { window + 10 } else { (window + WINDOW as u64 - 10).min(CHROM_LEN as u64 - 1) };
        for (p0, breaking) in [(hit, true), (neutral, false)] {
            let r = bases(db, "c3", p0, p0 + 1)[0];
            rows.push(format!("('c3', {}, '{}', '{}', {breaking})", p0 + 1, r as char, other(r)));
        }
    }
    assert!(rows.len() >= 40, "{} variants", rows.len());
    let q = format!(
        "SELECT breaking, score_variant(chrom, pos, ref, alt, 'liver', 'atac_seq')['delta'] AS d \
         FROM (VALUES {}) AS v(chrom, pos, ref, alt, breaking)",
        rows.join(", ")
    );
    let (mut hits, mut neutral) = (Vec::new(), Vec::new());
    for b in sql(db, &q) {
        let k = b.column(0).as_boolean();
        let d = b.column(1).as_primitive::<Float32Type>();
        for i in 0..b.num_rows() {
            if k.value(i) { hits.push(d.value(i)) } else { neutral.push(d.value(i)) }
        }
    }
    let negative = hits.iter().filter(|d| **d < 0.0).count() as f64 / hits.len() as f64;
    let mut pairs = 0.0;
    for h in &hits {
        for n in &neutral {
            pairs += if h.abs() > n.abs() { 1.0 } else if h.abs() == n.abs() { 0.5 } else { 0.0 };
        }
    }
    let auroc = pairs / (hits.len() * neutral.len()) as f64;
    assert!(negative >= 0.8, "only {negative:.2} of motif-breaking deltas are negative: {hits:?}");
    assert!(auroc >= 0.8, "|delta| AUROC {auroc:.3} (breaking {hits:?}, neutral {neutral:?})");
}

#[test]
fn ism_rows_are_score_variant_of_each_substitution() {
    let db = trained();
    let site = motif_sites(db, "c3")[0];
    let (s, e) = (site + 1, site + 8); // 1-based closed: 8 positions
    let b = sql(db, &format!("SELECT chrom, pos, ref, alt, delta, ref_value, alt_value FROM ism('c3:{s}-{e}', 'liver', 'atac_seq') ORDER BY pos, alt"));
    let n: usize = b.iter().map(|b| b.num_rows()).sum();
    assert_eq!(n, 8 * 3);
    let joined = sql(
        db,
        &format!(
            "SELECT max(abs(i.delta - score_variant(i.chrom, i.pos, i.ref, i.alt, 'liver', 'atac_seq')['delta'])) AS d, \
                    count(DISTINCT i.pos) AS positions, sum(CASE WHEN i.ref = i.alt THEN 1 ELSE 0 END) AS same, \
                    max(abs(i.ref_value - predict_omics(i.chrom, i.pos - 1, i.pos, 'liver', 'atac_seq'))) AS r \
             FROM ism('c3:{s}-{e}', 'liver', 'atac_seq') i"
        ),
    );
    assert!(f32s(&joined[0], 0)[0] < 1e-6);
    assert_eq!(joined[0].column(1).as_primitive::<Int64Type>().value(0), 8);
    assert_eq!(joined[0].column(2).as_primitive::<Int64Type>().value(0), 0);
    assert!(f32s(&joined[0], 3)[0] < 1e-6);
    // `omicsdb plot --ism`: a logo-style lane, one bar per position.
    let tmp = tempfile::tempdir().unwrap();
    let mut req = omicsdb::plot::PlotRequest::new(format!("c3:{s}-{e}"), tmp.path().join("ism.svg"));
    req.ism = Some(omicsdb::plot::IsmLane { model: None, tissue: "liver".into(), assay: "atac_seq".into() });
    let report = rt().block_on(omicsdb::plot::plot(db, &req)).unwrap();
    assert!(report.lanes.iter().any(|l| l == "ISM: liver atac_seq"), "{:?}", report.lanes);
    let svg = std::fs::read_to_string(tmp.path().join("ism.svg")).unwrap();
    assert!(svg.contains("ISM: liver atac_seq") && svg.matches("<rect").count() >= 8, "{svg}");
    req.region = "c3:1-12000".into();
    let e = rt().block_on(omicsdb::plot::plot(db, &req)).unwrap_err().to_string();
    assert!(e.contains("--ism") && e.contains("at most 10000 bp"), "{e}");
    let e = sql_err(db, "SELECT * FROM ism('c3:1-20000', 'liver', 'atac_seq')");
    assert!(e.contains("at most 10000 bp"), "{e}");
    let e = sql_err(db, "SELECT * FROM ism('c3:1-20', 'liver', 'dnase')");
    assert!(e.contains("'dnase' is not an assay"), "{e}");
}

#[test]
fn variant_loglik_is_the_loglik_difference_of_the_two_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Database::open(tmp.path().join("db")).unwrap();
    crate::support::ingest_lambda(&db);
    models::import_model(db.store(), "micro", &crate::support::data_dir().join("fixtures/hyenadna/micro"), "random weights").unwrap();
    db.refresh().unwrap();
    let chrom = db.store().assembly("lambda").unwrap().chroms[0].name.clone();
    let p0 = 1000u64;
    let len = 64u64; // omicsdb.variant_window_bp below
    let seq = db.store().genome("lambda").unwrap().sequence(&chrom, p0 - len / 2, p0 + len / 2, false).unwrap();
    let r = seq[(len / 2) as usize];
    let mut alt_seq = seq.clone();
    alt_seq[(len / 2) as usize] = other(r) as u8;
    let q = format!(
        "SELECT variant_loglik('{chrom}', {pos}, '{r}', '{a}', 'micro') AS v, loglik('{}', 'micro') AS lr, loglik('{}', 'micro') AS la",
        String::from_utf8_lossy(&seq),
        String::from_utf8_lossy(&alt_seq),
        pos = p0 + 1,
        r = r as char,
        a = other(r)
    );
    let out = rt().block_on(async {
        let ctx = db.context();
        ctx.sql("SET omicsdb.variant_window_bp = 64").await?.collect().await?;
        ctx.sql(&q).await?.collect().await
    });
    let b = &out.unwrap()[0];
    let v = b.column(0).as_struct();
    assert_eq!(v.column_names(), vec!["ref_loglik", "alt_loglik", "llr"]);
    let f = |c: &dyn Array| c.as_primitive::<Float64Type>().value(0);
    let (rl, al, llr) = (f(v.column(0)), f(v.column(1)), f(v.column(2)));
    assert!((rl - f(b.column(1))).abs() < 1e-9 && (al - f(b.column(2))).abs() < 1e-9, "{rl} {al} vs {:?}", (f(b.column(1)), f(b.column(2))));
    assert!((llr - (al - rl)).abs() < 1e-9 && llr != 0.0);
}

/// A VCF over the toy genome: an SNV breaking a motif, a multi-allelic record, a
/// symbolic deletion, a record on an unknown chromosome, an insertion.
fn toy_vcf(db: &Database) -> String {
    let site = motif_sites(db, "c3")[0];
    let p = site + 8;
    let b = |p0: u64| bases(db, "c3", p0, p0 + 1)[0] as char;
    let mut v = String::from("##fileformat=VCFv4.2\n##contig=<ID=c3,length=15360>\n##contig=<ID=chrUn>\n");
    v.push_str("##INFO=<ID=DP,Number=1,Type=Integer,Description=\"depth\">\n");
    v.push_str("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n");
    v.push_str(&format!("c3\t{}\trs1\t{}\t{}\t50\tPASS\tDP=10\n", p + 1, b(p), other(b(p) as u8)));
    v.push_str(&format!("c3\t{}\trs2\t{}\t{},{}\t.\tPASS\t.\n", p + 2, b(p + 1), other(b(p + 1) as u8), other(other(b(p + 1) as u8) as u8)));
    v.push_str(&format!("c3\t{}\t.\t{}\t<DEL>\t.\tPASS\tSVTYPE=DEL\n", p + 30, b(p + 29)));
    v.push_str("chrUn\t5\t.\tA\tC\t.\tPASS\t.\n");
    v.push_str(&format!("c3\t{}\t.\t{}\t{}TTT\t.\tPASS\t.\n", p + 40, b(p + 39), b(p + 39)));
    v
}

#[test]
fn score_variants_writes_a_vcf_bcftools_reads_and_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (vcf, expected_delta) = {
        let db = toy_db(dir);
        rt().block_on(omicsdb::train::train_omics(&db, &tiny_opts("omics_tiny"), &mut |_| {})).unwrap();
        let vcf = toy_vcf(&db);
        let first: Vec<&str> = vcf.lines().nth(5).unwrap().split('\t').collect();
        let q = format!("SELECT score_variant('{}', {}, '{}', '{}', 'liver', 'atac_seq')['delta'] AS d", first[0], first[1], first[3], first[4]);
        (vcf, f32s(&sql(&db, &q)[0], 0)[0])
    };
    let db_dir = dir.join("db");
    std::fs::write(dir.join("in.vcf"), &vcf).unwrap();
    let input = dir.join("in.vcf");
    let out = dir.join("scored.vcf.gz");
    let run = |out: &std::path::Path| {
        omicsdb_ok(&db_dir, &["score-variants", "--model", "omics_tiny", "--tissues", "liver", "--out", out.to_str().unwrap(), input.to_str().unwrap()])
    };
    let said = run(&out);
    assert!(said.contains("scored 4 ALT alleles of 5 records"), "{said}");
    assert!(!dir.join("scored.vcf.gz.partial").exists());
    // bgzip, every record kept, scores declared and one per ALT.
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 4], "a BGZF file");
    let text = {
        use std::io::Read;
        let mut s = String::new();
        noodles::bgzf::io::Reader::new(&bytes[..]).read_to_string(&mut s).unwrap();
        s
    };
    assert!(text.contains("##INFO=<ID=liver_atac_seq_delta,Number=A,Type=Float"), "{text}");
    let records: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(records.len(), 5);
    assert!(records[0].contains("DP=10;liver_atac_seq_ref="), "{}", records[0]);
    let delta = |rec: &str| -> Vec<String> {
        let info = rec.split('\t').nth(7).unwrap();
        info.split(';').find_map(|kv| kv.strip_prefix("liver_atac_seq_delta=")).unwrap_or("").split(',').map(String::from).collect()
    };
    let d0: f32 = delta(records[0])[0].parse().unwrap();
    assert!((d0 - expected_delta).abs() < 1e-6, "{d0} vs SQL {expected_delta}");
    assert_eq!(delta(records[1]).len(), 2, "Number=A: one per ALT");
    assert!(!records[2].contains("liver_atac_seq") && !records[3].contains("liver_atac_seq"), "symbolic and unknown-chrom records pass through unscored");
    assert_eq!(delta(records[4]).len(), 1);
    if have("bcftools") {
        let q = std::process::Command::new("bcftools")
            .args(["query", "-f", "%CHROM\\t%POS\\t%INFO/liver_atac_seq_delta\\n"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(q.status.success(), "bcftools: {}", String::from_utf8_lossy(&q.stderr));
        let rows = String::from_utf8_lossy(&q.stdout).into_owned();
        let first: f32 = rows.lines().next().unwrap().split('\t').nth(2).unwrap().parse().unwrap();
        assert!((first - expected_delta).abs() < 1e-6, "{rows}");
        assert_eq!(rows.lines().count(), 5, "{rows}");
    } else {
        panic!("bcftools is not installed: run scripts/setup.sh");
    }
    // Re-running the same request does nothing; another request's output is not overwritten.
    let again = run(&out);
    assert!(again.contains("nothing to do"), "{again}");
    let other = omicsdb(&db_dir, &["score-variants", "--model", "omics_tiny", "--out", out.to_str().unwrap(), dir.join("scored.vcf.gz").to_str().unwrap()]);
    assert!(!other.status.success());
    // Parquet: one row per scored ALT allele.
    let pq = dir.join("scored.parquet");
    let said = run(&pq);
    assert!(said.contains("scored 4 ALT alleles"), "{said}");
    let b = rt().block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_parquet("scored", pq.to_str().unwrap(), Default::default()).await?;
        ctx.sql("SELECT count(*) AS n, count(liver_atac_seq_delta) AS d, count(DISTINCT chrom) AS c FROM scored").await?.collect().await
    });
    let b = b.unwrap();
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 4);
    assert_eq!(b[0].column(1).as_primitive::<Int64Type>().value(0), 4);

    // A malformed record fails naming the line, and leaves no output behind.
    let bad = vcf.replace("\trs2\t", "\trs2\tXX\t");
    std::fs::write(dir.join("bad.vcf"), bad).unwrap();
    let bad_out = dir.join("bad.vcf.gz");
    let o = omicsdb(&db_dir, &["score-variants", "--model", "omics_tiny", "--out", bad_out.to_str().unwrap(), dir.join("bad.vcf").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success() && err.contains("bad.vcf, line 7") && err.contains("REF 'XX'"), "{err}");
    // A truncated record too.
    let short = vcf.replacen("\tPASS\tDP=10", "\tPASS", 1);
    std::fs::write(dir.join("short.vcf"), short).unwrap();
    let o = omicsdb(&db_dir, &["score-variants", "--model", "omics_tiny", "--out", bad_out.to_str().unwrap(), dir.join("short.vcf").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success() && err.contains("short.vcf, line 6: expected at least 8"), "{err}");
    assert!(!bad_out.exists() && !dir.join("bad.vcf.gz.partial").exists());
    // An existing good output survives a failed run over it (--force, bad input).
    let o = omicsdb(&db_dir, &["score-variants", "--force", "--model", "omics_tiny", "--out", out.to_str().unwrap(), dir.join("bad.vcf").to_str().unwrap()]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), bytes, "the previous output is untouched");
}
