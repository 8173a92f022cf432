//! The practitioner measurements of issue 12 on the bundled data, through the
//! same library calls as the `imprint` command line (the example uses its
//! `evaluate`, so the open-set numbers are what `imprint eval --unknown` prints):
//!
//! * (a) rejection: a head of FashionMNIST classes 0-4 against held-out
//!   FashionMNIST classes 5-9 and against MNIST5k, for `mean` and `kmeans`
//!   k = 20: AUROC, unknown rows rejected and known rows kept at the
//!   thresholds calibrated from the training shots (95% TPR), next to the
//!   same per-class thresholds chosen on the known test rows themselves;
//! * (b) temperature calibration: ECE on one half of each test set before
//!   and after calibrating on the other half;
//! * (c) save and load time and file size of a 60,000 x 1,280 head
//!   (generator `all`, synthetic data) as safetensors and as JSON;
//! * (d) int8 export: accuracy against f32 and the size ratio.
//!
//! ```text
//! cargo run --release -p imprint-cli --example measure               # everything (about a minute)
//! cargo run --release -p imprint-cli --example measure -- a b d      # some sections
//! cargo run --release -p imprint-cli --example measure -- --files DIR a   # also write the (a) files
//! ```
//!
//! With `--files DIR`, section (a) writes its subsets as HDF5 files
//! (`fmnist_0-4_train.h5`, `fmnist_0-4_test.h5`, `fmnist_5-9_test.h5`) so
//! that `imprint fit` / `imprint eval --unknown` reproduce its numbers.

#![allow(clippy::unwrap_used)] // a measurement script: stop loudly on any failure

use std::path::{Path, PathBuf};
use std::time::Instant;

use imprint::{ClassLabel, Classifier, GeneratorSpec, Recipe, Updates};
use imprint_cli::eval::evaluate;
use imprint_cli::input::{Format, Input};
use imprint_data::{Embeddings, SyntheticParams, WriteOptions, write_embeddings};
use ndarray::{Array2, Axis};

const DATASETS: [&str; 3] = ["FashionMNIST", "MNIST5k", "Digits"];

fn data_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/embeddings")
}

fn load(dataset: &str, split: &str) -> (Array2<f32>, Vec<usize>) {
    let path = data_root()
        .join(dataset)
        .join("efficientnet_lite0")
        .join(split)
        .join(format!("embeddings_{dataset}_efficientnet_lite0_{split}.h5"));
    imprint_data::read_embeddings(path).unwrap().into_parts()
}

fn rows_where(x: &Array2<f32>, y: &[usize], keep: impl Fn(usize) -> bool) -> (Array2<f32>, Vec<usize>) {
    let rows: Vec<usize> = (0..y.len()).filter(|&i| keep(y[i])).collect();
    (x.select(Axis(0), &rows), rows.iter().map(|&i| y[i]).collect())
}

fn labels(y: &[usize]) -> Vec<ClassLabel> {
    y.iter().map(|&v| ClassLabel::try_from(v).unwrap()).collect()
}

fn input(name: &str, x: Array2<f32>, y: Option<&[usize]>) -> Input {
    Input { path: PathBuf::from(name), format: Format::Hdf5, x, labels: y.map(labels) }
}

fn recipes() -> [(&'static str, Recipe); 2] {
    [
        ("mean", Recipe::paper().with_generator(GeneratorSpec::new("mean", None))),
        ("kmeans k=20", Recipe::paper()),
    ]
}

/// `quantile(values, q)` with linear interpolation (NumPy's default).
fn quantile(mut values: Vec<f32>, q: f64) -> f32 {
    values.sort_by(f32::total_cmp);
    let h = (values.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    (f64::from(values[lo]) + (h - lo as f64) * f64::from(values[hi] - values[lo])) as f32
}

fn section_a(files: Option<&Path>) {
    println!("(a) rejection: head of FashionMNIST classes 0-4 (400 training rows), thresholds for TPR 0.95");
    println!("    from 5-fold out-of-fold knownness of the training rows; 'oracle': the same per-class rule");
    println!("    with thresholds chosen on the known test rows themselves (5% quantile per true class)\n");
    let (xtr, ytr) = load("FashionMNIST", "train");
    let (xte, yte) = load("FashionMNIST", "test");
    let (xm, _) = load("MNIST5k", "test");
    let (train_x, train_y) = rows_where(&xtr, &ytr, |c| c < 5);
    let (known_x, known_y) = rows_where(&xte, &yte, |c| c < 5);
    let (held_x, held_y) = rows_where(&xte, &yte, |c| c >= 5);
    if let Some(dir) = files {
        for (name, x, y) in [
            ("fmnist_0-4_train.h5", &train_x, &train_y),
            ("fmnist_0-4_test.h5", &known_x, &known_y),
            ("fmnist_5-9_test.h5", &held_x, &held_y),
        ] {
            let data = Embeddings::new(x.clone(), y.clone()).unwrap();
            write_embeddings(dir.join(name), &data, &WriteOptions::new().overwrite(true)).unwrap();
        }
        println!(
            "    wrote fmnist_0-4_train.h5, fmnist_0-4_test.h5, fmnist_5-9_test.h5 to {}\n",
            dir.display()
        );
    }
    println!(
        "    {:<12} {:<13} {:>8} {:>7} {:>10} {:>10} {:>12} {:>12}",
        "GEN", "unknown rows", "accuracy", "AUROC", "known kept", "unk. rej.", "oracle kept", "oracle rej."
    );
    for (name, recipe) in recipes() {
        let mut head = Classifier::fit(recipe, train_x.view(), &labels(&train_y)).unwrap();
        head.calibrate_rejection(train_x.view(), &labels(&train_y), 0.95, 5).unwrap();
        let known = input("fmnist_0-4_test.h5", known_x.clone(), Some(&known_y));
        // Oracle thresholds: per true class, the 5% quantile of the known test rows' knownness.
        let (pred_known, k_known) = head.knownness(known_x.view()).unwrap();
        let oracle: Vec<f32> = (0..5)
            .map(|c| {
                quantile((0..known_y.len()).filter(|&i| known_y[i] == c).map(|i| k_known[i]).collect(), 0.05)
            })
            .collect();
        let kept_oracle = (0..known_y.len()).filter(|&i| k_known[i] >= oracle[pred_known[i]]).count() as f64
            / known_y.len() as f64;
        for (unknown_name, ux) in [("FMNIST 5-9", &held_x), ("MNIST5k", &xm)] {
            let unknown = input(unknown_name, ux.clone(), None);
            let bar = indicatif::ProgressBar::hidden();
            let r = evaluate(&head, Path::new(name), &known, Some(&unknown), &bar).unwrap();
            let o = r.open_set.unwrap();
            let (pred_u, k_u) = head.knownness(ux.view()).unwrap();
            let rejected_oracle =
                (0..ux.nrows()).filter(|&i| k_u[i] < oracle[pred_u[i]]).count() as f64 / ux.nrows() as f64;
            println!(
                "    {:<12} {:<13} {:>7.2}% {:>7.4} {:>9.1}% {:>9.1}% {:>11.1}% {:>11.1}%",
                name,
                unknown_name,
                r.accuracy,
                o.auroc,
                100.0 * (1.0 - o.known_rejected.unwrap()),
                100.0 * o.unknown_rejected.unwrap(),
                100.0 * kept_oracle,
                100.0 * rejected_oracle
            );
        }
    }
    println!();
}

fn section_b() {
    println!(
        "(b) temperature calibration: fitted on the even test rows, ECE (15 bins) on the odd test rows\n"
    );
    println!(
        "    {:<13} {:<12} {:>8} {:>12} {:>11} {:>10} {:>10}",
        "data set", "GEN", "accuracy", "temperature", "ECE before", "ECE after", "NLL after"
    );
    for dataset in DATASETS {
        let (xtr, ytr) = load(dataset, "train");
        let (xte, yte) = load(dataset, "test");
        let even: Vec<usize> = (0..yte.len()).step_by(2).collect();
        let odd: Vec<usize> = (1..yte.len()).step_by(2).collect();
        let (xe, ye) =
            (xte.select(Axis(0), &even), labels(&even.iter().map(|&i| yte[i]).collect::<Vec<_>>()));
        let xo = xte.select(Axis(0), &odd);
        let yo: Vec<usize> = odd.iter().map(|&i| yte[i]).collect();
        for (name, recipe) in recipes() {
            let mut head = Classifier::fit(recipe, xtr.view(), &labels(&ytr)).unwrap();
            let truth: Vec<usize> =
                yo.iter().map(|&c| head.class_index(&ClassLabel::try_from(c).unwrap()).unwrap()).collect();
            let before =
                imprint::expected_calibration_error(head.predict_proba(xo.view()).unwrap().view(), &truth);
            let report = head.calibrate_temperature(xe.view(), &ye).unwrap();
            let p = head.predict_proba(xo.view()).unwrap();
            let after = imprint::expected_calibration_error(p.view(), &truth);
            let nll =
                truth.iter().enumerate().map(|(i, &c)| -f64::from(p[[i, c]].max(1e-30)).ln()).sum::<f64>()
                    / truth.len() as f64;
            let predicted = head.predict_indices(xo.view()).unwrap();
            let acc = imprint_core::metrics::accuracy(&predicted, &truth).unwrap();
            println!(
                "    {:<13} {:<12} {:>7.2}% {:>12.4} {:>11.4} {:>10.4} {:>10.4}",
                dataset,
                name,
                100.0 * acc,
                report.temperature,
                before,
                after,
                nll
            );
        }
    }
    println!();
}

fn section_c() {
    println!(
        "(c) save and load of a 60,000 x 1,280 head (generator all, 10 synthetic classes of 6,000 rows)\n"
    );
    let data = SyntheticParams::new(10, 4, 1280).n_train(6000).n_test(1).generate(17).unwrap();
    let (x, y) = data.train.into_parts();
    let start = Instant::now();
    let head = Classifier::fit(
        Recipe::paper().with_generator(GeneratorSpec::new("all", None)),
        x.view(),
        &labels(&y),
    )
    .unwrap();
    println!(
        "    fit: {:.2} s, {} proxies of dimension {}",
        start.elapsed().as_secs_f64(),
        x.nrows(),
        head.dim()
    );
    drop(x);
    let dir = tempfile::tempdir().unwrap();
    println!(
        "    {:<12} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "encoding", "file size", "encode", "write", "read", "decode"
    );
    for (encoding, file) in [("safetensors", "head.safetensors"), ("json", "head.json")] {
        let path = dir.path().join(file);
        let t = Instant::now();
        let bytes =
            if encoding == "json" { head.to_json().unwrap().into_bytes() } else { head.to_bytes().unwrap() };
        let encode = t.elapsed().as_secs_f64();
        let t = Instant::now();
        imprint_data::write_atomic(&path, &bytes, true).unwrap();
        let write = t.elapsed().as_secs_f64();
        drop(bytes);
        let t = Instant::now();
        let read = std::fs::read(&path).unwrap();
        let read_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let loaded = if encoding == "json" {
            Classifier::from_json(std::str::from_utf8(&read).unwrap()).unwrap()
        } else {
            Classifier::from_bytes(&read).unwrap()
        };
        let decode = t.elapsed().as_secs_f64();
        assert_eq!(loaded, head, "the head survives the round trip");
        println!(
            "    {:<12} {:>12} {:>9.2}s {:>9.2}s {:>9.2}s {:>9.2}s",
            encoding,
            imprint_cli::head::human_size(read.len() as u64),
            encode,
            write,
            read_s,
            decode
        );
    }
    println!();
}

/// Accuracy (%) of `head`'s proxies replaced by `proxies` (same class blocks).
fn accuracy_with(head: &Classifier, proxies: &Array2<f32>, x: &Array2<f32>, truth: &[usize]) -> f64 {
    let h = head.head();
    let mut alt =
        imprint_core::ImprintedHead::with_inference(head.dim(), h.input_norm(), head.recipe().aggregation)
            .unwrap();
    let mut start = 0;
    for (c, n) in head.proxy_counts().into_iter().enumerate() {
        alt.add_class(c.to_string(), proxies.slice(ndarray::s![start..start + n, ..])).unwrap();
        start += n;
    }
    let predicted = alt.predict(x.view()).unwrap();
    100.0 * imprint_core::metrics::accuracy(&predicted, truth).unwrap()
}

fn section_d() {
    println!("(d) int8 export (Classifier::to_int8_bytes): test accuracy against f32, and file sizes\n");
    println!(
        "    {:<13} {:<12} {:>8} {:>8} {:>7} {:>7} {:>11} {:>12} {:>10} {:>6}",
        "data set",
        "GEN",
        "f32 acc",
        "int8 acc",
        "change",
        "flipped",
        "f32 file",
        "f32 proxies",
        "int8 file",
        "ratio"
    );
    let (mut worst, mut flipped_all, mut rows_all) = (0.0f64, 0usize, 0usize);
    for dataset in DATASETS {
        let (xtr, ytr) = load(dataset, "train");
        let (xte, yte) = load(dataset, "test");
        for (name, recipe) in recipes() {
            let head = Classifier::fit(recipe.clone(), xtr.view(), &labels(&ytr)).unwrap();
            let proxies_only =
                Classifier::fit(recipe.with_updates(Updates::Append), xtr.view(), &labels(&ytr)).unwrap();
            let int8_bytes = head.to_int8_bytes().unwrap();
            let int8 = Classifier::from_bytes(&int8_bytes).unwrap();
            let truth: Vec<usize> =
                yte.iter().map(|&c| head.class_index(&ClassLabel::try_from(c).unwrap()).unwrap()).collect();
            let a32 = accuracy_with(&head, &head.head().weights().to_owned(), &xte, &truth);
            let a8 = accuracy_with(&int8, &int8.head().weights().to_owned(), &xte, &truth);
            let p32 = head.head().predict(xte.view()).unwrap();
            let p8 = int8.head().predict(xte.view()).unwrap();
            let flipped = p32.iter().zip(&p8).filter(|(a, b)| a != b).count();
            (flipped_all, rows_all) = (flipped_all + flipped, rows_all + p32.len());
            worst = worst.max((a8 - a32).abs());
            let (full, lean) = (head.to_bytes().unwrap().len(), proxies_only.to_bytes().unwrap().len());
            println!(
                "    {:<13} {:<12} {:>7.2}% {:>7.2}% {:>+7.2} {:>7} {:>11} {:>12} {:>10} {:>6.3}",
                dataset,
                name,
                a32,
                a8,
                a8 - a32,
                flipped,
                imprint_cli::head::human_size(full as u64),
                imprint_cli::head::human_size(lean as u64),
                imprint_cli::head::human_size(int8_bytes.len() as u64),
                int8_bytes.len() as f64 / lean as f64
            );
        }
    }
    println!(
        "\n    largest accuracy change: {worst:.2} points (one test row = 0.33); {flipped_all} of {rows_all} predictions changed"
    );
    println!(
        "    ratio: int8 file / f32 file of the same proxies ('f32 proxies': fitted with --updates append)\n"
    );
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let files = args.iter().position(|a| a == "--files").map(|i| {
        let dir = PathBuf::from(args.get(i + 1).expect("--files DIR"));
        args.drain(i..i + 2);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    let all = args.is_empty();
    let want = |s: &str| all || args.iter().any(|a| a == s);
    if want("a") {
        section_a(files.as_deref());
    }
    if want("b") {
        section_b();
    }
    if want("c") {
        section_c();
    }
    if want("d") {
        section_d();
    }
}
