//! The grid runner end to end on small synthetic embeddings in the reference
//! layout: records, resuming, sharding, thread independence, errors.

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::collections::BTreeMap;
use std::path::Path;

use imprint_bench::runner::{RunOptions, distinct_data, run_grid, task_collapse};
use imprint_bench::{BenchError, ResultStore};
use imprint_compat::{ExperimentConfig, ExperimentGrid, Record, Shard, load_all};
use imprint_data::{Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};

const CONFIG: &str = r#"{
    "backbones": ["toynet"],   # not a paper backbone: ls needs --lambda
    "datasets": [["ToyA"], ["ToyA", "ToyB"]],
    "label_remappings": {"none": {}},
    "task_splits": {"all": [[0, 1, 2]]},
    "seeds": [1, 2],
    "normalize_input_data": ["l2"],
    "normalize_for_proxy_selection": ["none", "l2"],
    "presampling_fewshot_values": [-1, 3],
    "proxy_methods": ["mean", "kmeans", "ls", "kls", "all"],
    "ks": [1, 2, 4],
    "normalize_weights": ["l2", "quantile"],
    "aggregation_methods": ["max", "mnn"],
    "aggregation_distance_functions": ["inner_product", "euclidean"],
    "ms": [-1, 3],
}"#;

fn write_toy_data(root: &Path) {
    for (name, seed) in [("ToyA", 1), ("ToyB", 2)] {
        let data = SyntheticParams::new(3, 2, 6).n_train(12).n_test(5).generate(seed).unwrap();
        for (split, part) in [(Split::Train, &data.train), (Split::Test, &data.test)] {
            write_embeddings(reference_path(root, name, "toynet", split), part, &WriteOptions::new())
                .unwrap();
        }
    }
}

fn options(root: &Path, shard: Shard) -> RunOptions {
    RunOptions {
        embeddings_root: root.to_path_buf(),
        shard,
        lambdas: BTreeMap::from([("toynet".to_string(), 0.05)]),
        progress: false,
        sources: Default::default(),
        rng_mode: Default::default(),
    }
}

/// Records keyed by id, with the fields that legitimately differ between
/// runs (wall times, creation time) blanked.
fn comparable(records: Vec<Record>) -> BTreeMap<String, String> {
    records
        .into_iter()
        .map(|mut r| {
            r.runtime = 0.0;
            r.total_gen_time = Some(0.0);
            r.created_at = String::new();
            (r.id().file_name(), r.to_json_text())
        })
        .collect()
}

fn grid() -> ExperimentGrid {
    ExperimentGrid::new(&ExperimentConfig::from_yaml_str(CONFIG, "test config").unwrap())
}

#[test]
fn full_run_resume_shards_and_threads_agree() {
    let data = tempfile::tempdir().unwrap();
    write_toy_data(data.path());
    let grid = grid();
    assert!(grid.len() > 50, "{}", grid.len());

    // One full run.
    let full = tempfile::tempdir().unwrap();
    let store = ResultStore::open(full.path(), false).unwrap();
    let summary = run_grid(&grid, &store, &options(data.path(), Shard::ALL)).unwrap();
    assert_eq!((summary.selected, summary.skipped, summary.written), (grid.len(), 0, grid.len()));
    let reference = comparable(load_all(full.path()).unwrap());
    assert_eq!(reference.len(), grid.len());

    // Restarting skips everything; a lost record is recomputed identically.
    let again = run_grid(&grid, &store, &options(data.path(), Shard::ALL)).unwrap();
    assert_eq!((again.skipped, again.written), (grid.len(), 0));
    let victim = std::fs::read_dir(full.path()).unwrap().next().unwrap().unwrap().path();
    std::fs::remove_file(&victim).unwrap();
    let resumed = run_grid(&grid, &store, &options(data.path(), Shard::ALL)).unwrap();
    assert_eq!(resumed.written, 1);
    assert_eq!(comparable(load_all(full.path()).unwrap()), reference);

    // Three shards together give exactly the full run.
    let sharded = tempfile::tempdir().unwrap();
    let store = ResultStore::open(sharded.path(), false).unwrap();
    let mut written = 0;
    for i in 0..3 {
        written += run_grid(&grid, &store, &options(data.path(), Shard::new(i, 3).unwrap())).unwrap().written;
    }
    assert_eq!(written, grid.len());
    assert_eq!(comparable(load_all(sharded.path()).unwrap()), reference);

    // One thread gives the same records as the default pool.
    let single = tempfile::tempdir().unwrap();
    let store = ResultStore::open(single.path(), false).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| run_grid(&grid, &store, &options(data.path(), Shard::ALL))).unwrap();
    assert_eq!(comparable(load_all(single.path()).unwrap()), reference);

    // NC1 is computed once per data combination.
    let data_combinations = distinct_data([&grid, &grid], Shard::ALL);
    assert_eq!(data_combinations.len(), 2, "distinct across grids");
    let collapse = task_collapse(&data_combinations, &options(data.path(), Shard::ALL)).unwrap();
    assert_eq!(collapse.len(), 2);
    assert!(collapse.iter().all(|(_, c)| c.as_ref().is_ok_and(|c| c.nc1.is_finite() && c.nc1 > 0.0)));
}

#[test]
fn missing_lambda_and_bad_tasks_are_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    write_toy_data(data.path());
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::open(out.path(), false).unwrap();
    let mut no_lambda = options(data.path(), Shard::ALL);
    no_lambda.lambdas.clear();
    let err = run_grid(&grid(), &store, &no_lambda).unwrap_err();
    assert!(matches!(err, BenchError::Unsupported { .. }));
    assert!(err.to_string().contains("--lambda toynet=VALUE"), "{err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing runs before the check");

    let split_without_data = CONFIG.replace(r#""all": [[0, 1, 2]]"#, r#""all": [[0, 1, 7]]"#);
    let grid =
        ExperimentGrid::new(&ExperimentConfig::from_yaml_str(&split_without_data, "bad split").unwrap());
    let err = run_grid(&grid, &store, &options(data.path(), Shard::ALL)).unwrap_err();
    assert!(matches!(err, BenchError::Data { .. }), "{err}");
    assert!(err.to_string().contains('7'), "{err}");

    let missing = ExperimentGrid::new(
        &ExperimentConfig::from_yaml_str(&CONFIG.replace("ToyB", "Nope"), "missing data").unwrap(),
    );
    let err = run_grid(&missing, &store, &options(data.path(), Shard::ALL)).unwrap_err();
    assert!(err.to_string().contains("Nope"), "{err}");
}

/// Every distance, weighting, several m, both NORMinf, deterministic and
/// random generators, few shots: what the shared runner groups.
const SHARING_CONFIG: &str = r#"{
    "backbones": ["toynet"],
    "datasets": [["ToyA"]],
    "label_remappings": {"none": {}},
    "task_splits": {"all": [[0, 1, 2]]},
    "seeds": [1, 2],
    "normalize_input_data": ["none", "l2"],
    "normalize_for_proxy_selection": ["none"],
    "presampling_fewshot_values": [-1, 5],
    "proxy_methods": ["all", "mean", "kmeans", "kmedoids", "cov_max", "random", "ls"],
    "ks": [-1, 1, 2, 4],
    "normalize_weights": ["none", "l2", "quantile"],
    "aggregation_methods": ["max", "mnn"],
    "aggregation_distance_functions": ["inner_product", "cosine", "euclidean", "manhattan", "chebyshev", "mahalanobis"],
    "aggregation_weightings": ["uniform", "weighted_by_distance"],
    "ms": [-1, 1, 3, 5, 20],
}"#;

#[test]
fn shared_work_writes_the_records_of_the_unshared_runner() {
    use imprint_bench::runner::run_grid_unshared;
    use imprint_core::RngMode;
    let data = tempfile::tempdir().unwrap();
    write_toy_data(data.path());
    let grid = ExperimentGrid::new(&ExperimentConfig::from_yaml_str(SHARING_CONFIG, "sharing").unwrap());
    assert!(grid.len() > 1000, "{}", grid.len());
    for rng_mode in [RngMode::Portable, RngMode::Reference] {
        let run_options = RunOptions { rng_mode, ..options(data.path(), Shard::ALL) };
        let shared = tempfile::tempdir().unwrap();
        let store = ResultStore::open_for(shared.path(), false, rng_mode).unwrap();
        assert_eq!(run_grid(&grid, &store, &run_options).unwrap().written, grid.len());
        let plain = tempfile::tempdir().unwrap();
        let store = ResultStore::open_for(plain.path(), false, rng_mode).unwrap();
        assert_eq!(run_grid_unshared(&grid, &store, &run_options).unwrap().written, grid.len());
        let shared_records = load_all(shared.path()).unwrap();
        // Proxies were shared: a deterministic generator's GEN time, measured
        // once, is the same in the records of both seeds.
        let gen_times = |seed: u64| -> Vec<f64> {
            let mut t: Vec<(String, f64)> = shared_records
                .iter()
                .filter(|r| {
                    let p = &r.combination.params;
                    r.combination.seed == seed
                        && p.proxy_method == "kmedoids"
                        && p.presampling_fewshot_value == -1
                })
                .map(|r| {
                    let mut c = r.combination.clone();
                    c.seed = 0;
                    (c.id().file_name(), r.total_gen_time.unwrap())
                })
                .collect();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            t.into_iter().map(|(_, g)| g).collect()
        };
        assert!(!gen_times(1).is_empty());
        assert_eq!(gen_times(1), gen_times(2), "{rng_mode:?}: kmedoids proxies are shared across seeds");
        // GEN ran once for every NORMpost: records that differ only in it
        // report the same GEN time.
        let mut by_generation: std::collections::HashMap<String, Vec<f64>> = Default::default();
        for r in &shared_records {
            let mut c = r.combination.clone();
            c.params.normalize_weights = imprint_core::WeightNorm::None;
            by_generation.entry(c.id().file_name()).or_default().push(r.total_gen_time.unwrap());
        }
        assert!(
            by_generation.values().all(|t| t.iter().all(|&g| g == t[0])),
            "{rng_mode:?}: GEN is shared across NORMpost"
        );
        assert_eq!(
            comparable(shared_records),
            comparable(load_all(plain.path()).unwrap()),
            "{rng_mode:?}: shared and unshared records differ"
        );
    }
}
