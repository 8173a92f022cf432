//! Bad input to `cargo xtask reproduce` and `cargo xtask report`, run as a user
//! runs them (issue 5). Every case must exit non-zero with a message on stderr
//! that names the input and the problem, never panic, and leave no partial
//! output. What "no partial output" means:
//!
//! - `reproduce`, an error found before the grid runs (arguments, configs,
//!   embedding files, tasks: all are checked first): the `--out` folder is
//!   not created at all.
//! - `reproduce`, an error while the grid runs: the records of combinations
//!   that finished stay (documented resumable behaviour: a rerun skips them),
//!   every record file is complete and valid, no temporary file is left, and
//!   neither `neural_collapse.json` nor `report.md` nor `figures/` is written.
//! - `report`: neither `report.md` nor `figures/` is written.
//!
//! Inputs that look bad but are legal (k larger than every class, a class with
//! one sample, all-zero embeddings (NC1 is then left out, with a warning),
//! labels outside the task split, an empty records folder) are in
//! `documented_behaviour` and must succeed as SPEC.md says.
//!
//! Cases are tables of named checks; each test asserts how many it ran, so the
//! count of CLI bad-input cases is explicit (see [`CLI_CASES`]).

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imprint_bench::ResultStore;
use imprint_compat::read_record;
use imprint_compat::{ExperimentConfig, ExperimentGrid, Record, TaskF1s};
use imprint_data::{Embeddings, Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};
use ndarray::Array2;

/// Bad-input cases per test; their sum is the CLI count reported in issue 5.
const CONFIG_CASES: usize = 25;
const ARGUMENT_CASES: usize = 17;
const DATA_CASES: usize = 22;
const REPORT_CASES: usize = 14;
/// Every CLI bad-input case.
const CLI_CASES: usize = CONFIG_CASES + ARGUMENT_CASES + DATA_CASES + REPORT_CASES;
/// Legal inputs that look bad, checked to succeed as documented.
const DOCUMENTED_CASES: usize = 7;

// ---------------------------------------------------------------------------
// Case tables.

type Check = Box<dyn Fn(&Path) -> Result<(), String>>;

#[derive(Default)]
struct Cases(Vec<(String, Check)>);

impl Cases {
    fn add(&mut self, name: impl Into<String>, check: impl Fn(&Path) -> Result<(), String> + 'static) {
        self.0.push((name.into(), Box::new(check)));
    }
}

/// Runs every case in a fresh temporary folder, catching panics of the
/// checks, and asserts the number of cases.
fn run(area: &str, cases: Cases, expected: usize) {
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (name, check) in &cases.0 {
        assert!(names.insert(name.clone()), "{area}: duplicate case name {name:?}");
        let dir = tempfile::tempdir().unwrap();
        match catch_unwind(AssertUnwindSafe(|| check(dir.path()))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("  {name}: {why}")),
            Err(_) => failures.push(format!("  {name}: the check panicked")),
        }
    }
    assert!(
        failures.is_empty(),
        "{area}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.0.len(),
        failures.join("\n")
    );
    assert_eq!(cases.0.len(), expected, "{area}: the number of cases changed; update the constant");
}

// ---------------------------------------------------------------------------
// Running the binary.

fn xtask(args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env_remove("JOB_COMPLETION_INDEX").env_remove("SLURM_ARRAY_TASK_ID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The run failed (a non-zero exit code, not a signal) without a panic, and
/// stderr names every needle.
fn failed(out: &Output, needles: &[&str]) -> Result<(), String> {
    let err = text(&out.stderr);
    match out.status.code() {
        Some(0) => return Err(format!("exit code 0; stderr: {err}")),
        None => return Err(format!("killed by a signal: {:?}; stderr: {err}", out.status)),
        Some(_) => {}
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        return Err(format!("panic: {err}"));
    }
    for n in needles {
        if !err.contains(n) {
            return Err(format!("stderr does not name `{n}`: {err}"));
        }
    }
    Ok(())
}

fn succeeded(out: &Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("exit {:?}: {}", out.status.code(), text(&out.stderr)))
    }
}

/// An error before the run: `out` was not created.
fn no_output(out: &Path) -> Result<(), String> {
    if out.exists() {
        return Err(format!("{} exists: {:?}", out.display(), files_under(out)));
    }
    Ok(())
}

/// A `report` error: no report.md and no figures in `out`.
fn no_report(out: &Path) -> Result<(), String> {
    for p in [out.join("report.md"), out.join("figures")] {
        if p.exists() {
            return Err(format!("{} was written", p.display()));
        }
    }
    Ok(())
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// Inputs.

const CONFIG: &str = r#"{
    "backbones": ["toynet"],
    "datasets": [["Toy"]],
    "task_splits": {"all": [[0, 1, 2]]},   # comments and trailing commas as in the reference
    "seeds": [17121997],
    "proxy_methods": ["mean", "kmeans"],
    "ks": [2],
}"#;

/// `CONFIG` with the line of `entry`'s key replaced by `entry` (or `entry` added).
fn config_with(entry: &str) -> String {
    let key = entry.split(':').next().unwrap().trim();
    let mut lines: Vec<String> =
        CONFIG.lines().filter(|l| !l.trim_start().starts_with(key)).map(String::from).collect();
    lines.insert(1, format!("    {entry},"));
    lines.join("\n")
}

fn emb_root(dir: &Path) -> PathBuf {
    dir.join("emb")
}

fn out_dir(dir: &Path) -> PathBuf {
    dir.join("out")
}

fn write_part(dir: &Path, dataset: &str, split: Split, data: &Embeddings) {
    let options = WriteOptions::new().overwrite(true);
    write_embeddings(reference_path(emb_root(dir), dataset, "toynet", split), data, &options).unwrap();
}

/// Raw bytes at a data set's file in the layout.
fn put_bytes(dir: &Path, dataset: &str, split: Split, bytes: &[u8]) -> PathBuf {
    let path = reference_path(emb_root(dir), dataset, "toynet", split);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The toy data set: 3 classes of 2 modes in 8 dimensions, 10 train and 4 test samples each.
fn toy(dir: &Path) {
    let d = SyntheticParams::new(3, 2, 8).n_train(10).n_test(4).generate(3).unwrap();
    write_part(dir, "Toy", Split::Train, &d.train);
    write_part(dir, "Toy", Split::Test, &d.test);
}

/// Embeddings with the given labels, dimension `dim`, rows distinct and non-zero.
fn labelled(labels: &[usize], dim: usize) -> Embeddings {
    let x = Array2::from_shape_fn((labels.len(), dim), |(i, j)| {
        let sign = if labels[i].is_multiple_of(2) { 1.0 } else { -1.0 };
        sign * (1.0 + labels[i] as f32) + 0.1 * ((i * 7 + j * 3) % 5) as f32 + 0.01 * j as f32
    });
    Embeddings::new(x, labels.to_vec()).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../imprint-data/tests/fixtures").join(name);
    std::fs::read(path).unwrap()
}

/// `cargo xtask reproduce` on `dir/emb` with `config` (written to
/// `dir/config.yaml`), `--out dir/out`, plus `extra` arguments.
fn reproduce(dir: &Path, config: &str, extra: &[&str]) -> Output {
    reproduce_env(dir, config, extra, &[])
}

fn reproduce_env(dir: &Path, config: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let path = dir.join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let mut args: Vec<String> = ["reproduce", "--embeddings"].iter().map(|a| a.to_string()).collect();
    args.extend([s(&emb_root(dir)), "--config".into(), s(&path), "--out".into(), s(&out_dir(dir))]);
    args.push("--no-progress".into());
    args.extend(extra.iter().map(|a| a.to_string()));
    xtask(&args, env)
}

/// A reproduce run on the toy data that must fail before running, naming `needles`.
fn reproduce_fails(dir: &Path, config: &str, extra: &[&str], needles: &[&str]) -> Result<(), String> {
    toy(dir);
    let out = reproduce(dir, config, extra);
    failed(&out, needles)?;
    no_output(&out_dir(dir))
}

/// A valid record for the toy config.
fn sample_record() -> Record {
    let config = ExperimentConfig::from_yaml_str(CONFIG, "c.yaml").unwrap();
    let grid = ExperimentGrid::new(&config);
    let f1 = TaskF1s {
        remapped_class_index: vec![0, 1, 2],
        one_vs_rest_f1: vec![50.0, 60.0, 70.0],
        class_size: vec![4, 4, 4],
    };
    Record::new(grid.combinations()[1].clone(), 60.0, f1, 0.5, 0.1)
}

/// `dir/records` with one valid record; returns the folder and the record's text.
fn records_folder(dir: &Path) -> (PathBuf, String) {
    let records = dir.join("records");
    let path = ResultStore::open(&records, false).unwrap().write(&sample_record()).unwrap();
    (records, std::fs::read_to_string(path).unwrap())
}

fn report(args: &[&str]) -> Output {
    let args: Vec<String> = std::iter::once("report").chain(args.iter().copied()).map(String::from).collect();
    xtask(&args, &[])
}

// ---------------------------------------------------------------------------
// reproduce: config files

#[test]
fn reproduce_rejects_bad_configs() {
    let mut c = Cases::default();
    c.add("config file missing", |dir| {
        toy(dir);
        let missing = dir.join("nope.yaml");
        let args = [
            "reproduce",
            "--embeddings",
            &s(&emb_root(dir)),
            "--config",
            &s(&missing),
            "--out",
            &s(&out_dir(dir)),
        ];
        let out = xtask(&args.map(String::from), &[]);
        failed(&out, &[&s(&missing), "read failed"])?;
        no_output(&out_dir(dir))
    });
    c.add("config file is a folder", |dir| {
        toy(dir);
        let args = [
            "reproduce",
            "--embeddings",
            &s(&emb_root(dir)),
            "--config",
            &s(dir),
            "--out",
            &s(&out_dir(dir)),
        ];
        let out = xtask(&args.map(String::from), &[]);
        failed(&out, &[&s(dir), "read failed"])?;
        no_output(&out_dir(dir))
    });
    c.add("empty config", |dir| reproduce_fails(dir, "", &[], &["config.yaml", "config is empty"]));
    c.add("config of comments only", |dir| {
        reproduce_fails(dir, "# \"proxy_methods\": [\"mean\"]\n", &[], &["config.yaml", "config is empty"])
    });
    c.add("config not UTF-8", |dir| {
        toy(dir);
        let path = dir.join("latin1.yaml");
        std::fs::write(&path, b"{\"proxy_methods\": [\"m\xe9an\"]}").unwrap();
        let args = [
            "reproduce",
            "--embeddings",
            &s(&emb_root(dir)),
            "--config",
            &s(&path),
            "--out",
            &s(&out_dir(dir)),
        ];
        let out = xtask(&args.map(String::from), &[]);
        failed(&out, &["latin1.yaml", "not valid UTF-8", "offset 21"])?;
        no_output(&out_dir(dir))
    });
    c.add("YAML syntax error", |dir| {
        reproduce_fails(dir, &CONFIG.replace("],\n}", "\n}"), &[], &["config.yaml:", "YAML error"])
    });
    c.add("unknown key", |dir| {
        reproduce_fails(
            dir,
            &CONFIG.replace("\"ks\"", "\"kz\""),
            &[],
            &["config.yaml", "unknown key \"kz\"", "known keys"],
        )
    });
    c.add("wrong type: ks as strings", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"ks\": [\"2\"]"),
            &[],
            &["config.yaml", "ks[0]", "expected an integer", "string \"2\""],
        )
    });
    c.add("wrong type: proxy_methods a string", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"proxy_methods\": \"mean\""),
            &[],
            &["proxy_methods", "expected a list"],
        )
    });
    c.add("wrong type: seeds a mapping", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"seeds\": {\"a\": 1}"),
            &[],
            &["seeds", "expected a list", "mapping"],
        )
    });
    c.add("huge k", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"ks\": [1000000000000]"),
            &[],
            &["ks[0]", "1000000000000", "between 1 and 1000000"],
        )
    });
    c.add("huge m", |dir| {
        let cfg =
            config_with("\"ms\": [99999999]").replace("{\n", "{\n    \"aggregation_methods\": [\"mnn\"],\n");
        reproduce_fails(dir, &cfg, &[], &["ms[0]", "99999999"])
    });
    c.add("negative k", |dir| {
        reproduce_fails(dir, &config_with("\"ks\": [-5]"), &[], &["ks[0]", "-5", "-1 (all)"])
    });
    c.add("negative seed", |dir| {
        reproduce_fails(dir, &config_with("\"seeds\": [-3]"), &[], &["seeds[0]", "-3"])
    });
    c.add("negative few-shot count", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"presampling_fewshot_values\": [-7]"),
            &[],
            &["presampling_fewshot_values[0]", "-7"],
        )
    });
    c.add("negative label in a task split", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"task_splits\": {\"all\": [[0, -1]]}"),
            &[],
            &["task_splits", "label -1"],
        )
    });
    c.add("unknown proxy method", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"proxy_methods\": [\"lmeans\"]"),
            &[],
            &["proxy_methods[0]", "\"lmeans\"", "unknown name"],
        )
    });
    c.add("backbone with a path separator", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"backbones\": [\"../../etc\"]"),
            &[],
            &["backbones[0]", "path separators"],
        )
    });
    c.add("10,000-deep nesting", |dir| {
        let deep = format!("{{\"proxy_methods\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        reproduce_fails(dir, &deep, &[], &["config.yaml:1:", "recursion limit exceeded"])
    });
    c.add("17 MB config", |dir| {
        let mut big = String::from("{\"proxy_methods\": [\"mean\"], \"backbones\": [");
        while big.len() < 17 << 20 {
            big.push_str("\"toynet\", ");
        }
        big.push_str("]}");
        reproduce_fails(dir, &big, &[], &["config.yaml", "more than the limit"])
    });
    c.add("grid of 64 million combinations", |dir| {
        let many: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
        let many = many.join(", ");
        let cfg = format!("{{\"proxy_methods\": [\"kmeans\"], \"ks\": [{many}], \"ms\": [{many}], \"presampling_fewshot_values\": [{many}]}}");
        reproduce_fails(dir, &cfg, &[], &["config.yaml", "split the config"])
    });
    c.add("YAML alias", |dir| {
        reproduce_fails(
            dir,
            "{\"proxy_methods\": &m [\"mean\"], \"normalize_weights\": *m}",
            &[],
            &["config.yaml", "not supported"],
        )
    });
    c.add("duplicate key", |dir| {
        reproduce_fails(
            dir,
            &CONFIG.replace("\"ks\": [2],", "\"ks\": [2], \"ks\": [3],"),
            &[],
            &["config.yaml", "duplicate"],
        )
    });
    c.add("unknown distance function", |dir| {
        let cfg = config_with("\"aggregation_distance_functions\": [\"hamming\"]");
        reproduce_fails(dir, &cfg, &[], &["aggregation_distance_functions[0]", "\"hamming\"", "mahalanobis"])
    });
    c.add("second config bad, first good: nothing runs", |dir| {
        toy(dir);
        let (good, bad) = (dir.join("good.yaml"), dir.join("bad.yaml"));
        std::fs::write(&good, CONFIG).unwrap();
        std::fs::write(&bad, CONFIG.replace("\"ks\"", "\"kz\"")).unwrap();
        let mut args = vec!["reproduce".to_string(), "--embeddings".into(), s(&emb_root(dir))];
        args.extend([
            "--config".into(),
            s(&good),
            "--config".into(),
            s(&bad),
            "--out".into(),
            s(&out_dir(dir)),
        ]);
        let out = xtask(&args, &[]);
        failed(&out, &["bad.yaml", "kz"])?;
        no_output(&out_dir(dir))
    });
    run("reproduce: configs", c, CONFIG_CASES);
}

// ---------------------------------------------------------------------------
// reproduce: command-line arguments

#[test]
fn reproduce_rejects_bad_arguments() {
    let mut c = Cases::default();
    for (spec, needle) in [("3/2", "\"3/2\""), ("abc", "\"abc\""), ("1/0", "\"1/0\""), ("-1/4", "\"-1/4\"")] {
        let arg = format!("--shard={spec}");
        c.add(format!("--shard {spec}"), move |dir| {
            reproduce_fails(dir, CONFIG, &[&arg], &["shard", needle])
        });
    }
    c.add("--shard /4 without an index in the environment", |dir| {
        reproduce_fails(
            dir,
            CONFIG,
            &["--shard", "/4"],
            &["\"/4\"", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"],
        )
    });
    c.add("--shard /4 with JOB_COMPLETION_INDEX=9", |dir| {
        toy(dir);
        let out = reproduce_env(dir, CONFIG, &["--shard", "/4"], &[("JOB_COMPLETION_INDEX", "9")]);
        failed(&out, &["shard", "9/4"])?;
        no_output(&out_dir(dir))
    });
    c.add("--shard /2 with SLURM_ARRAY_TASK_ID=x", |dir| {
        toy(dir);
        let out = reproduce_env(dir, CONFIG, &["--shard", "/2"], &[("SLURM_ARRAY_TASK_ID", "x")]);
        failed(&out, &["SLURM_ARRAY_TASK_ID=x", "not a non-negative integer"])?;
        no_output(&out_dir(dir))
    });
    for (spec, needle) in [
        ("toynet=-1", "finite and >= 0"),
        ("toynet", "expected BACKBONE=VALUE"),
        ("toynet=abc", "not a number"),
        ("toynet=inf", "finite and >= 0"),
        ("toynet=NaN", "finite and >= 0"),
    ] {
        c.add(format!("--lambda {spec}"), move |dir| {
            let cfg = CONFIG.replace("\"mean\", \"kmeans\"", "\"ls\"");
            reproduce_fails(dir, &cfg, &["--lambda", spec], &["--lambda", spec, needle])
        });
    }
    c.add("ls without a lambda for the backbone", |dir| {
        let cfg = CONFIG.replace("\"mean\", \"kmeans\"", "\"mean\", \"ls\"");
        reproduce_fails(dir, &cfg, &[], &["toynet", "--lambda toynet=VALUE"])
    });
    c.add("--threads 0", |dir| {
        reproduce_fails(dir, CONFIG, &["--threads", "0"], &["--threads", "at least 1"])
    });
    for bad in ["-1", "many"] {
        c.add(format!("--threads {bad}"), move |dir| {
            toy(dir);
            let out = reproduce(dir, CONFIG, &[&format!("--threads={bad}")]);
            failed(&out, &["--threads", bad])?;
            if out.status.code() != Some(2) {
                return Err(format!("usage errors exit with 2, got {:?}", out.status.code()));
            }
            no_output(&out_dir(dir))
        });
    }
    c.add("--out is a file", |dir| {
        toy(dir);
        let out = out_dir(dir);
        std::fs::write(&out, "not a folder").unwrap();
        let run = reproduce(dir, CONFIG, &[]);
        failed(&run, &[&s(&out), "create directory failed"])?;
        if std::fs::read_to_string(&out).unwrap() != "not a folder" {
            return Err("the file given as --out changed".into());
        }
        Ok(())
    });
    run("reproduce: arguments", c, ARGUMENT_CASES);
}

// ---------------------------------------------------------------------------
// reproduce: embedding files and tasks

#[test]
fn reproduce_rejects_bad_data() {
    let mut c = Cases::default();
    /// Replaces the toy training file with `bytes` and checks the error names it.
    fn bad_train(dir: &Path, bytes: &[u8], test_dim: Option<usize>, needles: &[&str]) -> Result<(), String> {
        toy(dir);
        let path = put_bytes(dir, "Toy", Split::Train, bytes);
        if let Some(dim) = test_dim {
            write_embeddings(
                reference_path(emb_root(dir), "Toy", "toynet", Split::Test),
                &labelled(&[0, 1, 2, 0, 1, 2], dim),
                &WriteOptions::new().overwrite(true),
            )
            .unwrap();
        }
        let out = reproduce(dir, CONFIG, &[]);
        let mut all = vec![path.to_str().unwrap()];
        all.extend_from_slice(needles);
        failed(&out, &all)?;
        no_output(&out_dir(dir))
    }
    let valid = || {
        let dir = tempfile::tempdir().unwrap();
        toy(dir.path());
        std::fs::read(reference_path(emb_root(dir.path()), "Toy", "toynet", Split::Train)).unwrap()
    };

    c.add("embedding root missing", |dir| {
        let out = reproduce(dir, CONFIG, &[]);
        let train = reference_path(emb_root(dir), "Toy", "toynet", Split::Train);
        failed(&out, &[&s(&train), "file not found", "loading data set 'Toy' for backbone 'toynet'"])?;
        no_output(&out_dir(dir))
    });
    c.add("test file missing", |dir| {
        toy(dir);
        let test = reference_path(emb_root(dir), "Toy", "toynet", Split::Test);
        std::fs::remove_file(&test).unwrap();
        let out = reproduce(dir, CONFIG, &[]);
        failed(&out, &[&s(&test), "file not found"])?;
        no_output(&out_dir(dir))
    });
    c.add("empty training file", |dir| bad_train(dir, b"", None, &["file is empty"]));
    let v = valid();
    c.add("truncated training file", move |dir| {
        bad_train(dir, &v[..v.len() / 2], None, &["not a readable HDF5 file"])
    });
    let v = valid();
    c.add("training file with a corrupt superblock", move |dir| {
        let mut bytes = v.clone();
        bytes[0..8].copy_from_slice(b"NOTHDF5!");
        bad_train(dir, &bytes, None, &["not a readable HDF5 file"])
    });
    c.add("training file of text", |dir| {
        bad_train(dir, b"1.0,2.0\n3.0,4.0\n", None, &["not a readable HDF5 file"])
    });
    for (name, needles) in [
        ("embeddings_f64.h5", &["`embeddings`", "f64", "expected f32"][..]),
        ("embeddings_rank3.h5", &["`embeddings`", "expected rank 2"][..]),
        ("labels_float.h5", &["`labels`", "integer"][..]),
        ("labels_rank2.h5", &["`labels`", "expected rank 1"][..]),
        ("length_mismatch.h5", &["12 embedding rows but 10 labels"][..]),
        ("nan_row.h5", &["non-finite value NaN", "row 3", "column 2"][..]),
        ("inf_row.h5", &["non-finite value -inf", "row 8", "column 4"][..]),
        ("zero_rows.h5", &["no samples (zero rows)"][..]),
        ("negative_label.h5", &["label -1", "row 4"][..]),
        ("latest_v200.h5", &["unsupported HDF5 feature", "libver"][..]),
    ] {
        c.add(format!("training file {name}"), move |dir| bad_train(dir, &fixture(name), Some(5), needles));
    }
    c.add("train and test of different dimensions", |dir| {
        toy(dir);
        write_part(dir, "Toy", Split::Test, &labelled(&[0, 1, 2], 7));
        let out = reproduce(dir, CONFIG, &[]);
        failed(&out, &["Toy", "dimension 7", "earlier data has 8"])?;
        no_output(&out_dir(dir))
    });
    c.add("split class without samples", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"task_splits\": {\"all\": [[0, 1, 2, 3]]}"),
            &[],
            &["task `all`", "class 3 has no train samples"],
        )
    });
    c.add("split labels absent from the data", |dir| {
        reproduce_fails(
            dir,
            &config_with("\"task_splits\": {\"odd\": [[7, 9]]}"),
            &[],
            &["task `odd`", "no train samples left"],
        )
    });
    c.add("class without test samples", |dir| {
        toy(dir);
        write_part(dir, "Toy", Split::Test, &labelled(&[0, 1, 0, 1], 8));
        let out = reproduce(dir, CONFIG, &[]);
        failed(&out, &["task `all`", "class 2 has no test samples"])?;
        no_output(&out_dir(dir))
    });
    c.add("label remapping that drops every class", |dir| {
        let cfg = config_with("\"label_remappings\": {\"gone\": {50: 0}}");
        reproduce_fails(dir, &cfg, &[], &["task `all`", "x gone x", "no train samples left"])
    });
    c.add("least squares singular in the middle of the run (lambda 0)", |dir| {
        // 2 samples per class in 8 dimensions: X^T X is singular without a ridge.
        write_part(dir, "Toy", Split::Train, &labelled(&[0, 0, 1, 1, 2, 2], 8));
        write_part(dir, "Toy", Split::Test, &labelled(&[0, 1, 2], 8));
        let cfg = CONFIG.replace("\"mean\", \"kmeans\"", "\"mean\", \"kmeans\", \"ls\"");
        let out = reproduce(dir, &cfg, &["--lambda", "toynet=0"]);
        failed(&out, &["least squares", "singular", "lambda > 0"])?;
        let results = out_dir(dir);
        for p in [results.join("report.md"), results.join("neural_collapse.json"), results.join("figures")] {
            if p.exists() {
                return Err(format!("{} was written", p.display()));
            }
        }
        for f in files_under(&results) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return Err(format!("temporary file left: {}", f.display()));
            }
            read_record(&f).map_err(|e| format!("a record is not complete: {e}"))?;
        }
        // Documented resumable behaviour: a rerun with a usable lambda completes the grid.
        let again = reproduce(dir, &cfg, &["--lambda", "toynet=0.1"]);
        succeeded(&again)?;
        let n = std::fs::read_dir(results.join("records")).unwrap().count();
        if n != 3 {
            return Err(format!("{n} records after the rerun, expected 3"));
        }
        Ok(())
    });
    run("reproduce: data", c, DATA_CASES);
}

// ---------------------------------------------------------------------------
// report

#[test]
fn report_rejects_bad_records() {
    let mut c = Cases::default();
    c.add("--results missing", |dir| {
        let missing = dir.join("nope");
        let out = report(&["--results", &s(&missing), "--out", &s(&out_dir(dir))]);
        failed(&out, &[&s(&missing), "list failed"])?;
        no_report(&out_dir(dir))
    });
    c.add("--results is a file", |dir| {
        let file = dir.join("records.json");
        std::fs::write(&file, "{}").unwrap();
        let out = report(&["--results", &s(&file), "--out", &s(&out_dir(dir))]);
        failed(&out, &[&s(&file), "list failed"])?;
        no_report(&out_dir(dir))
    });
    /// A records folder with one good record and one bad file named `name`.
    fn bad_record(dir: &Path, name: &str, bytes: &[u8], needles: &[&str]) -> Result<(), String> {
        let (records, _) = records_folder(dir);
        let bad = records.join(name);
        std::fs::write(&bad, bytes).unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir))]);
        let mut all = vec![bad.to_str().unwrap(), "corrupt record"];
        all.extend_from_slice(needles);
        failed(&out, &all)?;
        no_report(&out_dir(dir))
    }
    c.add("empty record file", |dir| bad_record(dir, "1.json", b"", &["EOF"]));
    c.add("truncated record", |dir| {
        let (_, good) = records_folder(&dir.join("src"));
        bad_record(dir, "2.json", &good.as_bytes()[..good.len() / 3], &["EOF"])
    });
    c.add("record that is not JSON", |dir| bad_record(dir, "3.json", b"{\"task_acc\": 1 2}", &["expected"]));
    c.add("record that is not UTF-8", |dir| {
        let (records, _) = records_folder(dir);
        let bad = records.join("8.json");
        std::fs::write(&bad, b"\x89PNG\r\n\x1a\n").unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir))]);
        failed(&out, &[&s(&bad), "read failed", "valid UTF-8"])?;
        no_report(&out_dir(dir))
    });
    c.add("record of the wrong shape", |dir| bad_record(dir, "4.json", b"[1, 2, 3]", &["invalid type"]));
    c.add("record with a 10,000-deep field", |dir| {
        let deep = format!("{{\"x\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        bad_record(dir, "5.json", deep.as_bytes(), &["recursion limit"])
    });
    c.add("record with an unknown proxy method", |dir| {
        let (_, good) = records_folder(&dir.join("src"));
        let bad = good.replace("\"proxy_method\": \"kmeans\"", "\"proxy_method\": \"lmeans\"");
        bad_record(dir, "6.json", bad.as_bytes(), &["proxy_method", "lmeans"])
    });
    c.add("record whose name is not its id", |dir| {
        let (_, good) = records_folder(&dir.join("src"));
        let bad = good.replace("\"seed\": 17121997", "\"seed\": 5");
        bad_record(dir, "7.json", bad.as_bytes(), &["does not match the record's id"])
    });
    c.add("--out is a file", |dir| {
        let (records, _) = records_folder(dir);
        let file = dir.join("out.txt");
        std::fs::write(&file, "x").unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&file)]);
        failed(&out, &[&s(&file), "create directory failed"])?;
        (std::fs::read_to_string(&file).unwrap() == "x")
            .then_some(())
            .ok_or_else(|| "--out file changed".into())
    });
    c.add("--collapse missing", |dir| {
        let (records, _) = records_folder(dir);
        let nc = dir.join("nc.json");
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir)), "--collapse", &s(&nc)]);
        failed(&out, &[&s(&nc), "read failed"])?;
        no_report(&out_dir(dir))
    });
    c.add("--collapse corrupt", |dir| {
        let (records, _) = records_folder(dir);
        let nc = dir.join("nc.json");
        std::fs::write(&nc, "[{\"nc1\": \"high\"}]").unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir)), "--collapse", &s(&nc)]);
        failed(&out, &[&s(&nc), "neural-collapse"])?;
        no_report(&out_dir(dir))
    });
    c.add("neural_collapse.json beside the report truncated", |dir| {
        let (records, _) = records_folder(dir);
        std::fs::create_dir_all(out_dir(dir)).unwrap();
        let nc = out_dir(dir).join("neural_collapse.json");
        std::fs::write(&nc, "[{\"backbone_name\": \"toy").unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir))]);
        failed(&out, &[&s(&nc), "neural-collapse"])?;
        no_report(&out_dir(dir))
    });
    run("report", c, REPORT_CASES);
}

// ---------------------------------------------------------------------------
// Legal inputs that look bad.

#[test]
fn documented_behaviour() {
    let mut c = Cases::default();
    c.add("k larger than every class: every sample is a proxy", |dir| {
        toy(dir);
        let cfg = config_with("\"ks\": [50]")
            .replace("\"mean\", \"kmeans\"", "\"kmeans\", \"kmedoids\", \"fps\", \"cov_max\", \"random\"");
        let out = reproduce(dir, &cfg, &[]);
        succeeded(&out)?;
        let n = std::fs::read_dir(out_dir(dir).join("records")).unwrap().count();
        (n == 5 && out_dir(dir).join("report.md").exists())
            .then_some(())
            .ok_or_else(|| format!("{n} records"))
    });
    c.add(
        "all-zero training rows: the grid runs (as the reference, zero stays zero), NC1 is left out",
        |dir| {
            toy(dir);
            let mut d = labelled(&[0, 0, 1, 1, 2, 2], 4).into_parts().0;
            d.row_mut(3).fill(0.0);
            write_part(dir, "Toy", Split::Train, &Embeddings::new(d, vec![0, 0, 1, 1, 2, 2]).unwrap());
            write_part(dir, "Toy", Split::Test, &labelled(&[0, 1, 2], 4));
            let out = reproduce(dir, CONFIG, &[]);
            succeeded(&out)?;
            let err = text(&out.stderr);
            let warned =
                ["warning", "NC1", "class 1", "row 1", "all-zero vector"].iter().all(|n| err.contains(n));
            let nc = std::fs::read_to_string(out_dir(dir).join("neural_collapse.json"))
                .map_err(|e| e.to_string())?;
            (warned && !nc.contains("Toy")).then_some(()).ok_or_else(|| format!("{err}\n{nc}"))
        },
    );
    c.add("a class with one training sample", |dir| {
        write_part(dir, "Toy", Split::Train, &labelled(&[0, 0, 0, 1, 2, 2], 4));
        write_part(dir, "Toy", Split::Test, &labelled(&[0, 1, 2], 4));
        succeeded(&reproduce(dir, CONFIG, &["--lambda", "toynet=0.1"]))
    });
    c.add("labels outside the task split are dropped", |dir| {
        toy(dir);
        let out = reproduce(dir, &config_with("\"task_splits\": {\"two\": [[2, 0]]}"), &[]);
        succeeded(&out)?;
        let records = imprint_compat::load_all(out_dir(dir).join("records")).map_err(|e| e.to_string())?;
        let ok = records.iter().all(|r| r.task_split == vec![2, 0] && r.task_f1s.class_size.len() == 2);
        ok.then_some(()).ok_or_else(|| "records do not cover exactly the split".into())
    });
    c.add("a shard with no combinations", |dir| {
        toy(dir);
        let out = reproduce(dir, CONFIG, &["--shard", "7/9"]);
        succeeded(&out)?;
        text(&out.stderr)
            .contains("0 combinations in shard 7/9")
            .then_some(())
            .ok_or_else(|| text(&out.stderr))
    });
    c.add("report of an empty records folder", |dir| {
        let records = dir.join("records");
        std::fs::create_dir(&records).unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir))]);
        succeeded(&out)?;
        text(&out.stdout).contains("No records").then_some(()).ok_or_else(|| text(&out.stdout))
    });
    c.add("report skips hidden temporary files and non-JSON files", |dir| {
        let (records, good) = records_folder(dir);
        std::fs::write(records.join(".123.json.tmp-1-0"), &good[..10]).unwrap();
        std::fs::write(records.join("README.txt"), "notes").unwrap();
        let out = report(&["--results", &s(&records), "--out", &s(&out_dir(dir))]);
        succeeded(&out)?;
        text(&out.stdout).contains("1 records").then_some(()).ok_or_else(|| text(&out.stdout))
    });
    run("documented behaviour", c, DOCUMENTED_CASES);
}

#[test]
fn cli_case_count_is_stable() {
    // The number reported in issue 5's closing note.
    assert_eq!(CLI_CASES, 78);
}
