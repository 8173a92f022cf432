//! The README's "Using the library" example, compiled and run by CI
//! (`cargo run -p imprint-examples --example practitioner`, from the
//! repository root); a test keeps the README's copy identical.

use imprint::ndarray::{Array2, Axis, s};
use imprint::{ClassLabel, Classifier, Recipe};
use imprint_data::{Embeddings, Split, read_embeddings, reference_path};

/// The rows of `e` whose label satisfies `keep`, with their labels.
fn rows(e: &Embeddings, keep: impl Fn(usize) -> bool) -> (Array2<f32>, Vec<usize>) {
    let idx: Vec<usize> = (0..e.n_samples()).filter(|&i| keep(e.labels()[i])).collect();
    (e.embeddings().select(Axis(0), &idx), idx.iter().map(|&i| e.labels()[i]).collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Embeddings in the reference's HDF5 layout: here the bundled EfficientNet-Lite0
    // features of Fashion-MNIST (80 training and 30 test images per class).
    let file = |split| reference_path("data", "FashionMNIST", "efficientnet_lite0", split);
    let (train, test) = (read_embeddings(file(Split::Train))?, read_embeddings(file(Split::Test))?);

    // Imprint classes 0-7 with the paper's recipe: L2 / k-means (k = 20) / L2 / L2 / max.
    let (x, y) = rows(&train, |label| label < 8);
    let mut head = Classifier::fit(Recipe::paper(), x.view(), &y)?;

    // Weeks later: two new classes, and more shots for a known one. Updates are
    // exact: the head equals one imprinted once with all the shots.
    let (x_new, y_new) = rows(&train, |label| label >= 8);
    head.partial_fit(x_new.view(), &y_new)?;
    head.add_shots(&ClassLabel::from(3), x.slice(s![..4, ..]))?;

    // "None of the known classes": thresholds from the training shots alone
    // (5-fold out-of-fold similarities, 95% of known inputs kept).
    let (x_all, y_all) = rows(&train, |_| true);
    head.calibrate_rejection(x_all.view(), &y_all, 0.95, 5)?;

    // Probabilities: a softmax whose temperature is fitted on held-out labelled
    // rows (here every other test image; the rest is for evaluation).
    let calibration = test.embeddings().slice_move(s![..;2, ..]);
    let calibration_labels: Vec<usize> = test.labels().iter().step_by(2).copied().collect();
    let evaluation = test.embeddings().slice_move(s![1..;2, ..]);
    let t = head.calibrate_temperature(calibration, &calibration_labels)?;
    println!("temperature {:.3}: calibration error {:.3} -> {:.3}", t.temperature, t.ece_before, t.ece_after);

    // Save (safetensors + JSON header), load in another process, classify.
    let path = std::env::temp_dir().join(format!("imprint-readme-{}.safetensors", std::process::id()));
    std::fs::write(&path, head.to_bytes()?)?;
    let head = Classifier::from_bytes(&std::fs::read(&path)?)?;
    std::fs::remove_file(&path)?;

    let predicted = head.predict(evaluation)?;
    let truth = test.labels().iter().skip(1).step_by(2).map(|&l| ClassLabel::try_from(l));
    let truth: Vec<ClassLabel> = truth.collect::<Result<_, _>>()?;
    let hits = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    println!("accuracy {:.1}% on {} test images", 100.0 * hits as f64 / truth.len() as f64, truth.len());
    let p = head.predict_proba(evaluation.slice(s![..1, ..]))?;
    println!("probabilities of the first one: {:.2}", p.row(0));
    let kept = head.predict_open(evaluation)?.iter().filter(|p| p.is_some()).count();
    println!("{kept} of {} known test images kept as known", truth.len());
    Ok(())
}
