//! The same configuration gives the same accuracy (and per-class F1) through
//! `imprint fit` + `imprint eval` as through the experiment runner behind
//! `cargo xtask reproduce`, on the bundled data.
//!
//! The runner normalizes with `ZeroVectorPolicy::KeepZero` (as the
//! reference's `torch.nn.functional.normalize`), the command line rejects
//! all-zero rows by default; the bundled data has none, so the results must
//! be identical, to the last bit of the f64 accuracy.

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod common;

use std::collections::BTreeMap;

use common::*;
use imprint_bench::ResultStore;
use imprint_bench::runner::{RunOptions, run_grid};
use imprint_bench::sources::SourceCache;
use imprint_compat::{ExperimentConfig, ExperimentGrid, Shard, load_all};
use imprint_core::RngMode;

/// l2 / {kmeans k=20, mean} / l2 / l2 / {max inner product, max euclidean (1-nn), 5-nn euclidean},
/// seed 17121997, on FashionMNIST: six combinations after the reference's pruning.
const CONFIG: &str = r#"{
    "backbones": ["efficientnet_lite0"],
    "datasets": [["FashionMNIST"]],
    "label_remappings": {"none": {}},
    "task_splits": {"all": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]},
    "seeds": [17121997],
    "normalize_input_data": ["l2"],
    "normalize_for_proxy_selection": ["l2"],
    "presampling_methods": ["all"],
    "presampling_quantiles_values": [[0, 1.0]],
    "presampling_fewshot_values": [-1],
    "proxy_methods": ["kmeans", "mean"],
    "ks": [20],
    "normalize_weights": ["l2"],
    "aggregation_methods": ["max", "mnn"],
    "aggregation_distance_functions": ["inner_product", "euclidean"],
    "aggregation_weightings": ["uniform"],
    "ms": [-1, 5],
}"#;

#[test]
fn fit_and_eval_equal_the_experiment_runner_on_fashion_mnist() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let grid = ExperimentGrid::new(&ExperimentConfig::from_yaml_str(CONFIG, "parity.yaml").unwrap());
    let store = ResultStore::open(d.join("records"), false).unwrap();
    let options = RunOptions {
        embeddings_root: bundled_root(),
        shard: Shard::ALL,
        lambdas: BTreeMap::new(),
        progress: false,
        sources: SourceCache::new(),
        rng_mode: RngMode::Portable,
    };
    run_grid(&grid, &store, &options).unwrap();
    let records = load_all(d.join("records")).unwrap();
    assert_eq!(records.len(), 6, "kmeans and mean, each with max, 1-nn and 5-nn");

    let train = s(bundled("FashionMNIST", "train"));
    let test = s(bundled("FashionMNIST", "test"));
    let mut checked = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let p = &record.combination.params;
        let head = d.join(format!("head{i}.safetensors"));
        let mut args = vec![
            "fit".to_string(),
            "--train".into(),
            train.clone(),
            "--out".into(),
            s(&head),
            "--generator".into(),
            p.proxy_method.to_string(),
            "--aggregation".into(),
            p.aggregation_method.to_string(),
            "--distance".into(),
            p.aggregation_distance_function.to_string(),
            "--no-reject-calibration".into(),
        ];
        if p.proxy_method == "kmeans" {
            args.extend(["--k".into(), p.k.to_string()]);
        }
        if p.m != -1 {
            args.extend(["--m".into(), p.m.to_string()]);
        }
        ok(d, &args);
        let eval = json(&ok(d, &["eval", "--head", &s(&head), "--test", &test, "--json"]));
        let acc = eval["accuracy"].as_f64().unwrap();
        let setting = format!(
            "{} k={} {} {} m={}",
            p.proxy_method, p.k, p.aggregation_method, p.aggregation_distance_function, p.m
        );
        assert_eq!(acc, record.task_acc, "{setting}: CLI {acc} vs runner {}", record.task_acc);
        let f1: Vec<f64> =
            eval["f1_per_class"].as_array().unwrap().iter().map(|c| c["f1"].as_f64().unwrap()).collect();
        assert_eq!(f1, record.task_f1s.one_vs_rest_f1, "{setting}: per-class F1");
        checked.push(format!("{setting}: {acc:.4}"));
    }
    // The runner's numbers for the README (visible with --nocapture).
    println!("parity on FashionMNIST (CLI = runner):\n  {}", checked.join("\n  "));
    assert!(checked.iter().any(|c| c.starts_with("kmeans k=20 max inner_product")), "{checked:?}");
    assert!(checked.iter().any(|c| c.starts_with("mean") && c.contains("max inner_product")), "{checked:?}");
    assert!(checked.iter().any(|c| c.contains("mnn euclidean m=5")), "{checked:?}");
}
