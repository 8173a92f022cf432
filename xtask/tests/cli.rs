//! `cargo xtask` as a user runs it: exit codes, messages and files.

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::path::Path;
use std::process::{Command, Output};

use imprint_data::{Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const CONFIG: &str = r#"{
    "backbones": ["toynet"],
    "datasets": [["Toy"]],
    "task_splits": {"all": [[0, 1, 2]]},   # trailing commas and comments as in the reference
    "seeds": [17121997, 123987, 12412312],
    "normalize_input_data": ["l2"],
    "normalize_for_proxy_selection": ["l2"],
    "proxy_methods": ["mean", "kmeans", "ls"],
    "ks": [1, 2],
    "normalize_weights": ["l2"],
}"#;

fn toy(root: &Path) {
    let data = SyntheticParams::new(3, 2, 8).n_train(10).n_test(4).generate(3).unwrap();
    for (split, part) in [(Split::Train, &data.train), (Split::Test, &data.test)] {
        write_embeddings(reference_path(root, "Toy", "toynet", split), part, &WriteOptions::new()).unwrap();
    }
}

#[test]
fn reproduce_on_own_embeddings_writes_records_and_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    toy(dir.path());
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.path().join("out");
    let args = [
        "reproduce",
        "--embeddings",
        dir.path().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--lambda",
        "toynet=0.05",
        "--no-progress",
    ];
    let first = xtask(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let records = std::fs::read_dir(out.join("records")).unwrap().count();
    assert_eq!(records, 12, "(mean, kmeans k=1, kmeans k=2, ls) x 3 seeds");
    assert!(text(&first.stdout).contains("T2 GEN"), "{}", text(&first.stdout));
    assert!(out.join("report.md").exists() && out.join("neural_collapse.json").exists());

    let again = xtask(&args);
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("12 already done, 0 written"), "{}", text(&again.stderr));

    let report = xtask(&["report", "--results", out.join("records").to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert!(text(&report.stdout).contains("12 records"), "{}", text(&report.stdout));
}

#[test]
fn dry_run_counts_the_preset_grid() {
    let out = xtask(&["reproduce", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("total over all configs: 2190 combinations"), "{}", text(&out.stdout));
}

#[test]
fn bad_input_fails_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    toy(dir.path());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, CONFIG.replace("\"ks\"", "\"kz\"")).unwrap();
    let run = |config: &Path, extra: &[&str]| {
        let mut args = vec![
            "reproduce",
            "--embeddings",
            dir.path().to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        xtask(&args)
    };
    let unknown_key = run(&bad, &[]);
    assert!(!unknown_key.status.success());
    let err = text(&unknown_key.stderr);
    assert!(err.contains("bad.yaml") && err.contains("kz"), "{err}");

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, CONFIG).unwrap();
    let no_lambda = run(&good, &[]);
    assert!(!no_lambda.status.success());
    assert!(text(&no_lambda.stderr).contains("--lambda toynet=VALUE"), "{}", text(&no_lambda.stderr));
    assert!(
        !dir.path().join("records").exists()
            || std::fs::read_dir(dir.path().join("records")).unwrap().count() == 0
    );

    let bad_lambda = run(&good, &["--lambda", "toynet=-1"]);
    assert!(!bad_lambda.status.success());
    assert!(text(&bad_lambda.stderr).contains("--lambda"), "{}", text(&bad_lambda.stderr));

    let bad_shard = run(&good, &["--shard", "3/2", "--lambda", "toynet=0.1"]);
    assert!(!bad_shard.status.success());
    assert!(text(&bad_shard.stderr).contains("3/2"), "{}", text(&bad_shard.stderr));

    let missing = xtask(&["report", "--results", dir.path().join("nope").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("nope"), "{}", text(&missing.stderr));
}
