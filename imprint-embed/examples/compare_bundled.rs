//! The by-hand check of the whole bundled data set: embed its 3,300 images (as
//! written by `scripts/export_bundled_images.py`) with `embed_images`, compare every
//! row with the bundled Python embeddings in `data/embeddings`, and compare the
//! accuracy of heads imprinted from either. Results are in docs/embed.md.
//!
//! ```sh
//! .venv-embed/bin/python scripts/export_bundled_images.py target/bundled-images
//! cargo run --release -p imprint-embed --example compare_bundled -- \
//!     --weights "$IMPRINT_EFFICIENTNET_LITE0_PTH" --images target/bundled-images
//! ```

#![allow(clippy::unwrap_used)] // a check run by hand: a failure should stop it loudly

use std::path::{Path, PathBuf};
use std::time::Instant;

use imprint_core::{Aggregation, ImprintedHead, Imprinter, InputNorm, WeightNorm, ZeroVectorPolicy};
use imprint_data::{EmbeddingFile, Embeddings, read_embeddings};
use imprint_embed::{EmbedOptions, ImageInput, Model, embed_images};
use imprint_gen::Mean;
use ndarray::Axis;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let weights = PathBuf::from(arg("--weights").expect("--weights PATH"));
    let images = PathBuf::from(arg("--images").expect("--images DIR"));
    let threads: usize = arg("--threads").map_or(2, |t| t.parse().unwrap());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out_dir = std::env::temp_dir().join(format!("imprint-embed-compare-{}", std::process::id()));
    println!(
        "| data set | images (train + test) | max relative error | mean relative error | L2/mean/L2/L2/max acc. Rust | acc. Python | same predictions | embed time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for dataset in ["FashionMNIST", "MNIST5k", "Digits"] {
        let mut ours = Vec::new();
        let mut python = Vec::new();
        let (mut max_err, mut sum_err, mut n) = (0.0f64, 0.0f64, 0usize);
        let t = Instant::now();
        for split in ["train", "test"] {
            let out = out_dir.join(format!("{dataset}_{split}.h5"));
            let options = EmbedOptions::new().with_threads(threads).with_overwrite(true).with_progress(false);
            embed_images(
                Model::EfficientNetLite0,
                &weights,
                &ImageInput::Folder(images.join(dataset).join(split)),
                &out,
                &options,
            )
            .unwrap();
            let file = EmbeddingFile::open(&out).unwrap();
            let rust = file.read().unwrap();
            let rows: Vec<usize> = file
                .read_strings("paths")
                .unwrap()
                .iter()
                .map(|p| p.rsplit('/').next().unwrap()[..4].parse().unwrap())
                .collect();
            let reference = read_embeddings(repo.join(format!(
                "data/embeddings/{dataset}/efficientnet_lite0/{split}/embeddings_{dataset}_efficientnet_lite0_{split}.h5"
            )))
            .unwrap();
            assert_eq!(rows.len(), reference.n_samples(), "{dataset} {split}: every bundled row");
            let py = Embeddings::new(
                reference.embeddings().select(Axis(0), &rows),
                rows.iter().map(|&r| reference.labels()[r]).collect(),
            )
            .unwrap();
            assert_eq!(rust.labels(), py.labels(), "{dataset} {split}: labels from class folders");
            let (rust_rows, py_rows) = (rust.embeddings(), py.embeddings());
            for i in 0..rust.n_samples() {
                let (a, b) = (rust_rows.row(i), py_rows.row(i));
                let scale = b.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
                let err =
                    a.iter().zip(b).fold(0.0f64, |m, (&x, &y)| m.max((f64::from(x) - f64::from(y)).abs()))
                        / scale;
                max_err = max_err.max(err);
                sum_err += err;
                n += 1;
            }
            ours.push(rust);
            python.push(py);
        }
        let secs = t.elapsed().as_secs_f64();
        let (acc_r, pred_r) = accuracy(&ours[0], &ours[1]);
        let (acc_p, pred_p) = accuracy(&python[0], &python[1]);
        println!(
            "| {dataset} | {n} | {max_err:.2e} | {:.2e} | {:.2} % | {:.2} % | {} | {secs:.1} s |",
            sum_err / n as f64,
            100.0 * acc_r,
            100.0 * acc_p,
            if pred_r == pred_p {
                "yes".to_owned()
            } else {
                format!("{} differ", pred_r.iter().zip(&pred_p).filter(|(a, b)| a != b).count())
            }
        );
    }
    std::fs::remove_dir_all(&out_dir).ok();
}

/// Accuracy and predictions of Qi et al.'s head (L2 / mean / L2 / L2 / max).
fn accuracy(train: &Embeddings, test: &Embeddings) -> (f64, Vec<usize>) {
    let l2 = InputNorm::L2(ZeroVectorPolicy::Reject);
    let imprinter = Imprinter::new(Mean::new())
        .with_pre_norm(l2)
        .with_post_norm(WeightNorm::L2(ZeroVectorPolicy::Reject));
    let mut head = ImprintedHead::with_inference(train.dim(), l2, Aggregation::max()).unwrap();
    let classes: Vec<usize> = train.class_counts().keys().copied().collect();
    for &c in &classes {
        let rows: Vec<usize> = (0..train.n_samples()).filter(|&i| train.labels()[i] == c).collect();
        imprinter
            .imprint_class(&mut head, c.to_string(), train.embeddings().select(Axis(0), &rows).view())
            .unwrap();
    }
    let predicted: Vec<usize> =
        head.predict(test.embeddings()).unwrap().into_iter().map(|p| classes[p]).collect();
    let correct = predicted.iter().zip(test.labels()).filter(|(p, t)| p == t).count();
    (correct as f64 / test.n_samples() as f64, predicted)
}
