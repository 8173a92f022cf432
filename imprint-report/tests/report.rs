//! The report: tables, statistics and figures from synthetic records.

use std::sync::Arc;

use imprint_compat::config::{Number, QuantileRange};
use imprint_compat::names::REFERENCE_ZERO_POLICY;
use imprint_compat::{Combination, DataCombination, MethodParams, Record, TaskF1s, load_all};
use imprint_core::{AggregationMethod, Distance, InputNorm, WeightNorm, Weighting};
use imprint_data::{LabelMapping, PresamplingMethod};
use imprint_report::stats::{self, RankTies};
use imprint_report::{MethodKey, Report, TaskCollapse, read_collapse, render, write_collapse, write_report};

type I = InputNorm;
type W = WeightNorm;

const SEEDS: [u64; 3] = [17121997, 123987, 12412312];
/// Seed offsets whose median is 0: the median over seeds is the base accuracy.
const NOISE: [f64; 3] = [0.0, 1.5, -0.5];

fn data(backbone: &str, dataset: &str, mapping: &str, task: &str) -> Arc<DataCombination> {
    Arc::new(DataCombination {
        backbone_name: backbone.into(),
        dataset_name: vec![dataset.into()],
        mapping_name: mapping.into(),
        mapping: LabelMapping::default(),
        task_name: task.into(),
        task_splits: vec![vec![0, 1, 2]],
    })
}

fn params(m: &MethodKey, fewshot: i64) -> MethodParams {
    MethodParams {
        aggregation_distance_function: m.aggregation_distance_function,
        aggregation_method: m.aggregation_method,
        aggregation_weighting: m.aggregation_weighting,
        k: m.k,
        m: m.m,
        normalize_for_proxy_selection: m.normalize_for_proxy_selection,
        normalize_input_data: m.normalize_input_data,
        normalize_weights: m.normalize_weights,
        presampling_fewshot_value: fewshot,
        presampling_method: PresamplingMethod::All,
        presampling_quantiles_value: QuantileRange::FULL,
        proxy_method: m.proxy_method,
    }
}

fn record(
    d: &Arc<DataCombination>,
    m: &MethodKey,
    fewshot: i64,
    seed: u64,
    acc: f64,
    gen_time: f64,
) -> Record {
    let combination = Combination { data: d.clone(), params: params(m, fewshot), seed };
    Record::new(combination, acc, TaskF1s::default(), 1.0, gen_time)
}

/// Three seeds of (task, method) with median `acc`.
fn seeds(out: &mut Vec<Record>, d: &Arc<DataCombination>, m: &MethodKey, fewshot: i64, acc: f64) {
    for (seed, noise) in SEEDS.iter().zip(NOISE) {
        out.push(record(d, m, fewshot, *seed, acc + noise, 0.1));
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 + 1e-9 * b.abs(), "{a} vs {b}");
}

fn qi() -> MethodKey {
    MethodKey::max_ip(
        I::L2(REFERENCE_ZERO_POLICY),
        "mean",
        1,
        W::L2(REFERENCE_ZERO_POLICY),
        I::L2(REFERENCE_ZERO_POLICY),
    )
}
fn hosoda() -> MethodKey {
    MethodKey::max_ip(I::None, "mean", 1, W::Quantile, I::None)
}
fn janson_uniform() -> MethodKey {
    MethodKey::max_ip(I::None, "mean", 1, W::None, I::None).with_agg(
        AggregationMethod::Mnn,
        Distance::Euclidean,
        Weighting::Uniform,
        1,
    )
}
fn ours() -> MethodKey {
    MethodKey::l2_max("kmeans", 20)
}
fn oracle() -> MethodKey {
    MethodKey::max_ip(I::None, "ls", 1, W::None, I::None)
}

fn t1_records() -> Vec<Record> {
    let tasks = ["all", "even", "odd"].map(|t| data("resnet18", "MNIST", "none", t));
    // Rows: Qi, Hosoda, Janson, Ours, Oracle; columns: tasks.
    let accs = [
        (qi(), [80.0, 82.0, 84.0]),
        (hosoda(), [70.0, 72.0, 84.0]),
        (janson_uniform(), [75.0, 85.0, 70.0]),
        (ours(), [90.0, 88.0, 86.0]),
        (oracle(), [95.0, 94.0, 96.0]),
    ];
    let mut out = Vec::new();
    for (m, per_task) in &accs {
        for (d, acc) in tasks.iter().zip(per_task) {
            seeds(&mut out, d, m, -1, *acc);
        }
    }
    // A fourth seed with a NaN accuracy is skipped.
    out.push(record(&tasks[0], &qi(), -1, 1, f64::NAN, 0.1));
    out
}

#[test]
fn empty_input_says_no_records() {
    let report = render(&[], &[]).unwrap();
    assert_eq!(report.sections.len(), 1);
    assert!(report.to_text().contains("No records"));
    assert!(report.to_markdown().contains("No records"));
    assert!(report.figures.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/out");
    let paths = write_report(&report, &out).unwrap();
    assert_eq!(paths, vec![out.join("report.md")]);
    assert!(std::fs::read_to_string(&paths[0]).unwrap().contains("No records"));
    assert!(out.join("figures").is_dir());
}

#[test]
fn prior_methods_table_matches_hand_computation() {
    let report = render(&t1_records(), &[]).unwrap();
    let t1 = report.section("T1").unwrap();
    let c = t1.comparison("Prior methods").unwrap();
    assert_eq!(c.n_tasks, 3);
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["Qi et al.", "Hosoda et al.", "Janson et al.", "Ours", "Oracle"]);
    let expect = [
        ("Qi et al.", 82.0, 2.0, 3.5, 86.79),
        ("Hosoda et al.", 226.0 / 3.0, 7.571877794400365, 4.5, 82.90),
        ("Janson et al.", 230.0 / 3.0, 7.637626158259733, 4.0, 86.64),
        ("Ours", 88.0, 2.0, 2.0, 91.06),
        ("Oracle", 95.0, 1.0, 1.0, 94.54),
    ];
    for (label, avg, std, rank, paper) in expect {
        let r = c.row(label).unwrap();
        close(r.avg_acc, avg);
        close(r.std_acc.unwrap(), std);
        close(r.avg_rank, rank);
        assert_eq!(r.n_tasks, 3);
        assert_eq!(r.paper, Some(paper));
    }
    // Janson et al. falls back to mnn m = 1 with uniform weighting.
    assert_eq!(c.row("Janson et al.").unwrap().method, janson_uniform());
    let sig = c.significance.as_ref().unwrap();
    assert_eq!(sig.n_blocks, 3);
    let matrix = vec![
        vec![80.0, 70.0, 75.0, 90.0, 95.0],
        vec![82.0, 72.0, 85.0, 88.0, 94.0],
        vec![84.0, 84.0, 70.0, 86.0, 96.0],
    ];
    assert_eq!(sig.friedman.unwrap(), stats::friedman(&matrix).unwrap());
    assert_eq!(sig.dense_ranks, stats::average_ranks(&matrix, RankTies::Dense).unwrap());
    assert_eq!(sig.pairs.len(), 10);
    // Three tasks cannot give a significant Wilcoxon test.
    assert!(sig.pairs.iter().all(|p| !p.significant && p.p_value >= 0.25));
    assert!(c.missing.is_empty());

    let text = report.to_text();
    assert!(text.contains("Qi et al."));
    assert!(text.contains("82.00 ± 2.00"));
    assert!(text.contains("Friedman test over 3 tasks"));
    let md = report.to_markdown();
    assert!(md.contains("| Qi et al. | l2/mean/l2/l2/max | 82.00 ± 2.00 | 3.50 | 3 | 86.79 |"));
    assert!(md.contains("## T1 Prior methods vs ours vs oracle"));
    // The NaN record is skipped and said so.
    let overview: Vec<&str> = report.section("overview").unwrap().notes().collect();
    assert!(overview.iter().any(|n| n.contains("1 records with a non-finite accuracy")));
    assert!(overview.iter().any(|n| n.contains("15 cells with 3")));
    // Other tables lack records and say which.
    let t2 = report.section("T2").unwrap();
    assert!(t2.comparison("GEN at k = 20").is_some(), "mean and kmeans k = 20 are present");
    let t2c = t2.comparison("GEN at k = 20").unwrap();
    assert_eq!(t2c.rows.len(), 2);
    assert!(t2c.missing.iter().any(|m| m.starts_with("kmedoids")));
    assert!(
        report.section("T8").unwrap().is_omitted() || report.section("T8").unwrap().table("GEN").is_some()
    );
    // Deterministic.
    assert_eq!(render(&t1_records(), &[]).unwrap(), report);
}

fn gen_records() -> Vec<Record> {
    let mut out = Vec::new();
    for t in 0..12 {
        let d = data("vit_b_16", "CIFAR-10", "none", &format!("task{t:02}"));
        let base = 60.0 + t as f64;
        let swing = if t % 2 == 0 { 1.0 } else { -1.0 };
        let rows = [
            ("kmeans", 20, base + 10.0),
            ("kmedoids", 20, base + 6.0 + swing),
            ("mean", 1, base + 6.0),
            ("cov_max", 20, base + 3.0),
            ("random", 20, base + 2.0),
            ("fps", 20, base),
        ];
        for (p, k, acc) in rows {
            seeds(&mut out, &d, &MethodKey::l2_max(p, k), -1, acc);
        }
    }
    out
}

#[test]
fn gen_table_with_cd_diagram() {
    let report = render(&gen_records(), &[]).unwrap();
    let t2 = report.section("T2").unwrap();
    let c = t2.comparison("GEN at k = 20").unwrap();
    assert_eq!(c.rows.len(), 6);
    let kmeans = c.row("kmeans").unwrap();
    close(kmeans.avg_acc, 60.0 + 5.5 + 10.0);
    close(kmeans.avg_rank, 1.0);
    assert_eq!(kmeans.paper, Some(91.04));
    // kmedoids vs mean: 6 wins each -> ranks 2 and 3 alternate.
    close(c.row("kmedoids").unwrap().avg_rank, 2.5);
    close(c.row("mean").unwrap().avg_rank, 2.5);
    close(c.row("fps").unwrap().avg_rank, 6.0);
    let sig = c.significance.as_ref().unwrap();
    assert_eq!(sig.n_blocks, 12);
    assert!(sig.friedman.unwrap().p_value < 0.05);
    assert_eq!(sig.significant("kmedoids", "mean"), Some(false));
    assert_eq!(sig.significant("kmeans", "fps"), Some(true));
    assert_eq!(sig.pairs.iter().filter(|p| !p.significant).count(), 1);
    let fig = report.figure("cd_gen_k20.svg").unwrap();
    assert!(fig.svg.starts_with("<svg"));
    assert!(fig.svg.trim_end().ends_with("</svg>"));
    for label in ["kmeans", "kmedoids", "mean", "cov_max", "random", "fps", "GEN at k = 20"] {
        assert!(fig.svg.contains(label), "{label}");
    }
    // One clique bar: kmedoids - mean.
    assert_eq!(fig.svg.matches("stroke-width=\"4\"").count(), 1);
    // k = 5 has no records of the k-methods, but mean (k = 1) is there.
    let k5 = t2.comparison("GEN at k = 5").unwrap();
    assert_eq!(k5.rows.len(), 1);
    assert!(k5.significance.is_none());
    assert_eq!(k5.missing.len(), 5);
    assert!(report.to_markdown().contains("![GEN at k = 20: average rank](figures/cd_gen_k20.svg)"));
}

#[test]
fn norm_table_and_normpost_summary() {
    let mut recs = Vec::new();
    let combos = [
        (I::None, W::L2(REFERENCE_ZERO_POLICY), I::L2(REFERENCE_ZERO_POLICY), [86.0, 88.0]),
        (
            I::L2(REFERENCE_ZERO_POLICY),
            W::L2(REFERENCE_ZERO_POLICY),
            I::L2(REFERENCE_ZERO_POLICY),
            [85.0, 87.0],
        ),
        (I::None, W::None, I::None, [80.0, 70.0]),
        (I::None, W::Quantile, I::None, [81.0, 71.0]),
    ];
    for (t, task) in ["all", "odd"].iter().enumerate() {
        let d = data("resnet50", "FashionMNIST", "none", task);
        for (pre, post, inf, accs) in combos {
            seeds(&mut recs, &d, &MethodKey::max_ip(pre, "mean", 1, post, inf), -1, accs[t]);
        }
    }
    let report = render(&recs, &[]).unwrap();
    let t3 = report.section("T3").unwrap();
    let c = t3.comparisons().next().unwrap();
    assert_eq!(c.rows.len(), 4);
    let r = c.row("none/l2/l2").unwrap();
    close(r.avg_acc, 87.0);
    close(r.avg_rank, 1.0);
    assert_eq!(r.paper, Some(86.84));
    close(c.row("none/quantile/none").unwrap().avg_rank, 3.0);
    close(c.row("none/none/none").unwrap().avg_rank, 4.0);
    let post = t3.table("NORMpost").unwrap();
    let l2 = post.row("l2").unwrap();
    // Pooled over (task, NORMpre, NORMinf): (86 + 88 + 85 + 87) / 4.
    assert_eq!(l2[1], "86.50 ± 1.29");
    assert_eq!(l2[2], "4");
    assert_eq!(l2[3], "none/l2");
    assert_eq!(l2[6], "86.84");
    assert_eq!(post.row("quantile").unwrap()[4], "76.00 ± 7.07");
}

#[test]
fn agg_table_labels_and_paper_values() {
    let mut recs = Vec::new();
    let all = MethodKey::l2_max("all", -1);
    let mnn = |m| all.with_agg(AggregationMethod::Mnn, Distance::Euclidean, Weighting::Uniform, m);
    for (task, off) in [("all", 0.0), ("even", 2.0)] {
        let d = data("swin_b", "MNIST", "none", task);
        seeds(&mut recs, &d, &all, -1, 90.0 + off);
        seeds(&mut recs, &d, &mnn(3), -1, 91.0 + off);
        seeds(&mut recs, &d, &mnn(50), -1, 89.0 + off);
    }
    let report = render(&recs, &[]).unwrap();
    let t4 = report.section("T4").unwrap();
    let c = t4.comparison("all data").unwrap();
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["max", "3-nn (euclidean, uniform)", "50-nn (euclidean, uniform)"]);
    assert_eq!(c.row("3-nn (euclidean, uniform)").unwrap().paper, Some(93.50));
    assert_eq!(c.row("max").unwrap().paper, Some(92.81));
    close(c.row("3-nn (euclidean, uniform)").unwrap().avg_acc, 92.0);
    // 20-means has no records: noted.
    assert!(t4.notes().any(|n| n.contains("AGG with 20-means omitted")));
}

#[test]
fn low_data_table_and_crossover() {
    let mut recs = Vec::new();
    let d = data("resnet18", "MNIST", "none", "all");
    let mean = MethodKey::l2_max("mean", 1);
    // (shots, mean, kmeans k = min(5, shots))
    for (f, m_acc, k_acc) in [
        (1, 50.0, 49.0),
        (5, 70.0, 69.0),
        (10, 75.0, 76.0),
        (50, 80.0, 79.0),
        (100, 82.0, 84.0),
        (-1, 85.0, 90.0),
    ] {
        seeds(&mut recs, &d, &mean, f, m_acc);
        let k = if f == -1 { 5 } else { f.min(5) };
        seeds(&mut recs, &d, &MethodKey::l2_max("kmeans", k), f, k_acc);
    }
    let report = render(&recs, &[]).unwrap();
    let t5 = report.section("T5").unwrap();
    let t = t5.table("Average accuracy").unwrap();
    assert_eq!(t.header, ["GEN", "1", "5", "10", "50", "100", "all"]);
    assert_eq!(t.row("mean").unwrap()[1], "50.00 (1)");
    // Only k = 5 is a real series (k = 1 at one shot is k = 5 capped).
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.row("kmeans k=5").unwrap()[6], "90.00 (1)");
    let over = t5.table("stays above").unwrap();
    assert_eq!(over.rows.len(), 1);
    assert_eq!(over.rows[0][2], "100 shots");
    let fig = report.figure("low_data.svg").unwrap();
    assert!(fig.svg.starts_with("<svg") && fig.svg.contains("kmeans k=5"));
}

#[test]
fn proxies_vs_k_with_collapse() {
    let mut recs = Vec::new();
    let d2 = data("resnet18", "ImageNet", "2in1", "all");
    let d1 = data("resnet18", "MNIST", "none", "all");
    let d5 = data("resnet18", "ImageNet", "5in1", "all");
    for (k, a2, a1, a5) in
        [(1, 60.0, 90.0, 50.0), (2, 70.0, 91.0, 55.0), (3, 68.0, 91.5, 60.0), (5, 65.0, 91.0, 58.0)]
    {
        seeds(&mut recs, &d2, &MethodKey::l2_max("kmeans", k), -1, a2);
        seeds(&mut recs, &d1, &MethodKey::l2_max("kmeans", k), -1, a1);
        seeds(&mut recs, &d5, &MethodKey::l2_max("kmeans", k), -1, a5);
    }
    let collapse = vec![
        TaskCollapse {
            backbone_name: "resnet18".into(),
            dataset_name: vec!["ImageNet".into()],
            mapping_name: "2in1".into(),
            task_name: "all".into(),
            nc1: 2.5,
            vci: 0.4,
        },
        TaskCollapse {
            backbone_name: "resnet18".into(),
            dataset_name: vec!["MNIST".into()],
            mapping_name: "none".into(),
            task_name: "all".into(),
            nc1: 0.3,
            vci: 0.8,
        },
    ];
    let report = render(&recs, &collapse).unwrap();
    let t6 = report.section("T6").unwrap();
    let t = t6.table("per task and k").unwrap();
    assert_eq!(t.header, ["task", "k=1", "k=2", "k=3", "k=5", "NC1"]);
    let row = t.row("resnet18 / ImageNet / 2in1 / all").unwrap();
    assert_eq!(row[2], "70.00");
    assert_eq!(row[5], "2.5000");
    let g = t6.table("Gain").unwrap();
    let r = g.row("resnet18 / ImageNet / 2in1 / all").unwrap();
    assert_eq!((r[3].as_str(), r[5].as_str()), ("2", "+10.00"));
    assert_eq!(g.row("resnet18 / MNIST / none / all").unwrap()[5], "+1.50");
    assert!(t6.notes().any(|n| n.contains("\"m in 1\" tasks: 1 of 2 peak at k = m")
        && n.contains("resnet18 / ImageNet / 5in1 / all (m = 5, peak k = 3)")));
    for f in ["accuracy_vs_k.svg", "gain_vs_nc1.svg"] {
        let svg = &report.figure(f).unwrap().svg;
        assert!(svg.starts_with("<svg"), "{f}");
    }
    assert!(report.figure("gain_vs_nc1.svg").unwrap().svg.contains("resnet18"));
}

#[test]
fn kls_and_runtime() {
    let mut recs = Vec::new();
    let kls = |k| MethodKey::max_ip(I::None, "kls", k, W::None, I::None);
    for (task, times) in [("all", [1.0, 2.0, 3.0]), ("odd", [4.0, 5.0, 3.0])] {
        let d = data("resnet18", "CIFAR-10", "none", task);
        for ((seed, t), noise) in SEEDS.iter().zip(times).zip(NOISE) {
            recs.push(record(&d, &oracle(), -1, *seed, 90.0 + noise, t / 10.0));
            recs.push(record(&d, &kls(5), -1, *seed, 91.0 + noise, t));
            recs.push(record(&d, &kls(20), -1, *seed, 92.0 + noise, t * 2.0));
        }
    }
    let report = render(&recs, &[]).unwrap();
    let c = report.section("T7").unwrap().comparisons().next().unwrap();
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["ls", "kls k=5", "kls k=20"]);
    close(c.row("kls k=20").unwrap().avg_rank, 1.0);
    let t8 = report.section("T8").unwrap().table("GEN_time").unwrap();
    // kls k = 5: medians 2 and 4 -> 3 ± sqrt(2).
    let kls5 = t8.rows.iter().find(|r| r[0] == "kls" && r[1] == "5").unwrap();
    assert_eq!(kls5[2], "3.0000 ± 1.4142");
    assert_eq!(kls5[3], "2");
    assert_eq!(kls5[4], "1.3724");
    let ls = t8.rows.iter().find(|r| r[0] == "ls").unwrap();
    assert_eq!(ls[2], "0.3000 ± 0.1414");
}

#[test]
fn reference_format_folder_renders_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    let mut recs = t1_records();
    recs.retain(|r| r.task_acc.is_finite());
    recs.extend(gen_records());
    for r in &recs {
        // The reference's layout: json.dump(record, indent=4) in {id}.json.
        std::fs::write(records.join(r.id().file_name()), r.to_json_text()).unwrap();
    }
    let first = std::fs::read_to_string(records.join(recs[0].id().file_name())).unwrap();
    assert!(first.starts_with("{\n    \"aggregation_distance_function\": "));
    let loaded = load_all(&records).unwrap();
    assert_eq!(loaded.len(), recs.len());
    let report = render(&loaded, &[]).unwrap();
    assert!(report.section("T1").unwrap().comparison("Prior methods").is_some());
    let out = dir.path().join("out");
    let paths = write_report(&report, &out).unwrap();
    assert_eq!(paths[0], out.join("report.md"));
    assert_eq!(paths.len(), 1 + report.figures.len());
    for p in &paths[1..] {
        let svg = std::fs::read_to_string(p).unwrap();
        assert!(svg.starts_with("<svg"), "{}", p.display());
    }
    let md = std::fs::read_to_string(&paths[0]).unwrap();
    assert_eq!(md, report.to_markdown());
    // No temporary files are left behind.
    let hidden = std::fs::read_dir(out.join("figures"))
        .unwrap()
        .chain(std::fs::read_dir(&out).unwrap())
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(hidden, 0);
    // Rewriting replaces the files.
    write_report(&report, &out).unwrap();
}

#[test]
fn odd_records_never_panic() {
    let d = data("resnet18", "MNIST", "none", "all");
    // Only NaN accuracies.
    let nan = vec![record(&d, &qi(), -1, 1, f64::NAN, f64::NAN)];
    let report = render(&nan, &[]).unwrap();
    assert!(report.to_text().contains("No records"));
    // Weibull presampling only.
    let mut weibull = record(&d, &qi(), -1, 1, 80.0, 0.1);
    weibull.combination.params.presampling_method = PresamplingMethod::Weibull;
    weibull.combination.params.presampling_quantiles_value =
        QuantileRange::from_config(Number::Float(0.05), Number::Float(0.95));
    let report = render(&[weibull], &[]).unwrap();
    assert!(report.to_text().contains("presampling_method"));
    // One task, one seed, every table's method once, identical scores.
    let mut one = Vec::new();
    for m in [qi(), hosoda(), janson_uniform(), ours(), oracle(), MethodKey::l2_max("kmeans", 5)] {
        one.push(record(&d, &m, -1, 1, 80.0, 0.5));
        one.push(record(&d, &m, 5, 1, 70.0, 0.5));
    }
    let report: Report = render(&one, &[]).unwrap();
    let c = report.section("T1").unwrap().comparison("Prior").unwrap();
    assert!(c.rows.iter().all(|r| r.std_acc.is_none() && r.avg_rank == 3.0));
    assert!(report.to_text().contains("± -"));
    let _ = report.to_markdown();
    // Collapse values for unknown tasks and NaN NC1 are ignored.
    let bad = TaskCollapse {
        backbone_name: "x".into(),
        dataset_name: vec![],
        mapping_name: "y".into(),
        task_name: "z".into(),
        nc1: f64::NAN,
        vci: f64::NAN,
    };
    assert!(render(&one, &[bad]).is_ok());
}

#[test]
fn collapse_file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/neural_collapse.json");
    let values = vec![TaskCollapse {
        backbone_name: "efficientnet_lite0".into(),
        dataset_name: vec!["MNIST5k".into(), "Digits".into()],
        mapping_name: "none".into(),
        task_name: "all".into(),
        nc1: 0.75,
        vci: 0.5,
    }];
    write_collapse(&path, &values).unwrap();
    assert_eq!(read_collapse(&path).unwrap(), values);
    std::fs::write(&path, "{not json").unwrap();
    assert!(matches!(read_collapse(&path), Err(imprint_report::ReportError::CorruptFile { .. })));
    assert!(matches!(
        read_collapse(dir.path().join("missing.json")),
        Err(imprint_report::ReportError::Io { .. })
    ));
}

/// Records written by Python's `json.dump(record, f, indent=4)`, as the
/// reference writes them (three seeds each of mean and 20-means on one task).
#[test]
fn records_written_by_python_load_and_render() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_records");
    let records = load_all(&dir).unwrap();
    assert_eq!(records.len(), 6);
    // The median over seeds, computed here straight from the JSON text.
    let median_of = |method: &str| {
        let mut accs: Vec<f64> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(
                    &std::fs::read_to_string(e.unwrap().path()).unwrap(),
                )
                .unwrap()
            })
            .filter(|v| v["proxy_method"] == method)
            .map(|v| v["task_acc"].as_f64().unwrap())
            .collect();
        accs.sort_by(f64::total_cmp);
        accs[1]
    };
    let report = render(&records, &[]).unwrap();
    let text = report.to_text();
    for (method, label) in [("kmeans", "l2/kmeans k=20/l2/l2/max"), ("mean", "l2/mean/l2/l2/max")] {
        let line = text.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("{label} in {text}"));
        assert!(line.contains(&format!("{:.2}", median_of(method))), "{line}");
    }
}
