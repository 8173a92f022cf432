//! `imprint eval`: accuracy, per-class F1, the confusion matrix and, with
//! rows of classes the head does not know, how well it tells them apart.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use imprint::{ClassLabel, Classifier};
use imprint_core::metrics::{accuracy, per_class_f1};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::input::Input;
use crate::{Global, head, progress, text};

/// Arguments of `imprint eval`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprint eval --head fashion.safetensors \\
               --test data/embeddings/FashionMNIST/efficientnet_lite0/test/embeddings_FashionMNIST_efficientnet_lite0_test.h5
  # Open set: rows of classes the head does not know, and machine-readable output:
  imprint eval --head fashion.safetensors --test test.h5 --unknown other_classes.h5 --json
  # Both from one file: the head's classes as --test rows, class 8 as unknown rows:
  imprint eval --head fashion.safetensors --test test.h5 --classes 0-7,9 --unknown test.h5 --unknown-classes 8

Reports accuracy (%), macro and per-class one-vs-rest F1 (%), the confusion matrix (rows: true
class, columns: predicted class), n, and the expected calibration error (ECE, 15 bins) of the
head's probabilities. Every --test label must be a class of the head. With --unknown (rows of other
classes; their labels, if any, are ignored): the AUROC of knownness (a row's similarity to the
nearest proxy of its predicted class) separating --test rows (positive) from --unknown rows, and the
fractions of each that `predict --reject` rejects. --json prints one JSON object with the keys
accuracy, n, macro_f1, ece, temperature, classes, f1_per_class, confusion and, with --unknown,
n_unknown, auroc, known_rejected, unknown_rejected (fractions), target_tpr.")]
pub struct EvalArgs {
    /// The head.
    #[arg(long, value_name = "HEAD")]
    pub head: PathBuf,
    /// Labelled test rows: HDF5 (reference layout), .npy (with --labels) or .csv (with a `label` column).
    #[arg(long, value_name = "FILE")]
    pub test: PathBuf,
    /// Labels of a .npy or CSV --test file: a .npy vector, or text with one label per line.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Use only the --test rows of these classes: labels and integer ranges separated by commas, e.g. `0-4,7`.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<crate::input::ClassFilter>,
    /// Rows of classes the head does not know (open-set evaluation).
    #[arg(long, value_name = "FILE")]
    pub unknown: Option<PathBuf>,
    /// Use only the --unknown rows of these classes (by the file's own labels), e.g. `5-9`.
    #[arg(long, value_name = "LIST", requires = "unknown")]
    pub unknown_classes: Option<crate::input::ClassFilter>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One class's F1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// The class label.
    pub label: ClassLabel,
    /// One-vs-rest F1 in percent.
    pub f1: f64,
    /// Test rows of the class.
    pub support: usize,
}

/// Open-set results (with `--unknown`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenSet {
    /// Rows of unknown classes.
    pub n_unknown: usize,
    /// AUROC of knownness, known rows positive (0.5 = chance, 1 = perfect).
    pub auroc: f64,
    /// Share of known (test) rows that `--reject` rejects; `None` without thresholds.
    pub known_rejected: Option<f64>,
    /// Share of unknown rows that `--reject` rejects; `None` without thresholds.
    pub unknown_rejected: Option<f64>,
    /// The true-positive rate the thresholds were calibrated for.
    pub target_tpr: Option<f64>,
}

/// What `imprint eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Accuracy in percent.
    pub accuracy: f64,
    /// Test rows.
    pub n: usize,
    /// Mean of the per-class F1 in percent.
    pub macro_f1: f64,
    /// Expected calibration error of the probabilities (fraction, 15 bins).
    pub ece: f64,
    /// The head's softmax temperature, if calibrated.
    pub temperature: Option<f32>,
    /// The head's classes in class order (the order of the confusion matrix).
    pub classes: Vec<ClassLabel>,
    /// F1 per class, in class order.
    pub f1_per_class: Vec<ClassScore>,
    /// `confusion[t][p]`: test rows of class `t` predicted as class `p`.
    pub confusion: Vec<Vec<usize>>,
    /// Open-set results, with `--unknown`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub open_set: Option<OpenSet>,
}

/// Evaluates `classifier` on labelled `test` rows and, optionally, on rows
/// of unknown classes (the rows' dimension must match the head).
///
/// # Errors
/// A test label that is not a class of the head (naming the file and row),
/// and every error of the library.
pub fn evaluate(
    classifier: &Classifier,
    head: &Path,
    test: &Input,
    unknown: Option<&Input>,
    bar: &ProgressBar,
) -> Result<EvalReport> {
    let labels = test.require_labels()?;
    let truth: Vec<usize> = labels
        .iter()
        .enumerate()
        .map(|(row, l)| {
            classifier.class_index(l).ok_or_else(|| {
                CliError::input(
                    &test.path,
                    format!(
                        "label {} at row {row} is not a class of the head {} (give rows of other classes with --unknown)",
                        text::escape(&l.to_string()),
                        head.display()
                    ),
                )
            })
        })
        .collect::<Result<_>>()?;
    let context = |input: &Input| format!("evaluating {} on {}", head.display(), input.path.display());
    let calibration = classifier.calibration();
    let rows = test.x.nrows() + unknown.map_or(0, |u| u.x.nrows());
    let passes = if unknown.is_some() && calibration.thresholds().is_some() { 2 } else { 1 };
    bar.set_length((rows * passes) as u64);
    let knownness = |input: &Input| -> Result<(Vec<usize>, Vec<f32>)> {
        let pairs = progress::by_chunks(input.x.view(), bar, |x, first| {
            let (p, k) = classifier.knownness(x).map_err(|e| crate::rows_error(e, first, context(input)))?;
            Ok(p.into_iter().zip(k).collect())
        })?;
        Ok(pairs.into_iter().unzip())
    };
    let (predicted, known) = knownness(test)?;
    let fail = |e| CliError::imprint(context(test))(e);
    let acc = 100.0 * accuracy(&predicted, &truth).map_err(fail)?;
    let f1 = per_class_f1(&predicted, &truth, classifier.n_classes()).map_err(fail)?;
    let mut confusion = vec![vec![0usize; classifier.n_classes()]; classifier.n_classes()];
    for (&t, &p) in truth.iter().zip(&predicted) {
        confusion[t][p] += 1;
    }
    let proba = classifier.predict_proba(test.x.view()).map_err(fail)?;
    let ece = imprint::expected_calibration_error(proba.view(), &truth);
    let open_set = match unknown {
        None => None,
        Some(u) => {
            let (_, unknown_known) = knownness(u)?;
            let rejected = |input: &Input| -> Result<Option<f64>> {
                if calibration.thresholds().is_none() {
                    return Ok(None);
                }
                let open = progress::by_chunks(input.x.view(), bar, |x, first| {
                    classifier.predict_open(x).map_err(|e| crate::rows_error(e, first, context(input)))
                })?;
                Ok(Some(open.iter().filter(|l| l.is_none()).count() as f64 / open.len() as f64))
            };
            Some(OpenSet {
                n_unknown: u.x.nrows(),
                auroc: auroc(&known, &unknown_known),
                known_rejected: rejected(test)?,
                unknown_rejected: rejected(u)?,
                target_tpr: calibration.target_tpr(),
            })
        }
    };
    bar.finish_and_clear();
    Ok(EvalReport {
        accuracy: acc,
        n: truth.len(),
        macro_f1: 100.0 * f1.iter().map(|f| f.f1).sum::<f64>() / f1.len().max(1) as f64,
        ece,
        temperature: calibration.is_temperature_calibrated().then(|| calibration.temperature()),
        classes: classifier.classes().to_vec(),
        f1_per_class: f1
            .iter()
            .map(|f| ClassScore {
                label: classifier.classes()[f.class].clone(),
                f1: 100.0 * f.f1,
                support: f.support,
            })
            .collect(),
        confusion,
        open_set,
    })
}

/// Area under the ROC curve of scores of `positive` against `negative`
/// rows: the probability that a random positive scores above a random
/// negative, ties counting one half (the Mann-Whitney U statistic over
/// `n_pos * n_neg`, with average ranks for ties). 0.5 when either side is empty.
pub fn auroc(positive: &[f32], negative: &[f32]) -> f64 {
    if positive.is_empty() || negative.is_empty() {
        return 0.5;
    }
    let mut all: Vec<(f32, bool)> =
        positive.iter().map(|&v| (v, true)).chain(negative.iter().map(|&v| (v, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let average = (i + 1 + j) as f64 / 2.0;
        rank_sum += average * all[i..j].iter().filter(|(_, p)| *p).count() as f64;
        i = j;
    }
    let (np, nn) = (positive.len() as f64, negative.len() as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

/// Runs `imprint eval`.
pub fn run(a: &EvalArgs, global: &Global, stdout: &mut dyn Write) -> Result<()> {
    let classifier = head::load(&a.head)?;
    let mut test = Input::read(&a.test, a.labels.as_deref())?;
    if let Some(filter) = &a.classes {
        test.select(filter, "--classes")?;
    }
    test.check_dim(&a.head, classifier.dim())?;
    test.require_labels()?;
    crate::check_zero_rows(&test, &[classifier.recipe().input_norm], crate::HEAD_ZERO_HINT)?;
    let unknown = match &a.unknown {
        Some(path) => {
            let mut u = Input::read(path, None)?;
            if let Some(filter) = &a.unknown_classes {
                u.select(filter, "--unknown-classes")?;
            }
            u.check_dim(&a.head, classifier.dim())?;
            crate::check_zero_rows(&u, &[classifier.recipe().input_norm], crate::HEAD_ZERO_HINT)?;
            Some(u)
        }
        None => None,
    };
    let bar = progress::rows_bar(progress::visible(global.quiet), 0, "evaluating");
    let report = evaluate(&classifier, &a.head, &test, unknown.as_ref(), &bar)?;
    if report.open_set.as_ref().is_some_and(|o| o.known_rejected.is_none()) {
        global.note(format_args!(
            "warning: {} has no rejection thresholds, so the rejected fractions are left out; {}",
            a.head.display(),
            crate::REJECTION_HINT
        ));
    }
    let text = if a.json {
        let mut s = serde_json::to_string(&report).map_err(|e| CliError::Internal(e.to_string()))?;
        s.push('\n');
        s
    } else {
        render(&report, a)
    };
    stdout.write_all(text.as_bytes()).map_err(CliError::Stdout)
}

/// The report as text: labels and file names escaped ([`text::escape`]).
fn render(r: &EvalReport, a: &EvalArgs) -> String {
    let mut s = String::new();
    let labels: Vec<String> = r.classes.iter().map(|l| text::escape(&l.to_string()).into_owned()).collect();
    let width = text::column_width(labels.iter().map(String::as_str), 5);
    s.push_str(&format!(
        "head      {}\ntest      {} ({} rows)\n",
        text::path(&a.head),
        text::path(&a.test),
        r.n
    ));
    s.push_str(&format!("accuracy  {:.2} %\nmacro F1  {:.2} %\n", r.accuracy, r.macro_f1));
    match r.temperature {
        Some(t) => s.push_str(&format!("ECE       {:.4} (temperature {t})\n", r.ece)),
        None => s.push_str(&format!("ECE       {:.4} (temperature not calibrated)\n", r.ece)),
    }
    s.push_str(&format!("\n{}  {:>7}  {:>7}\n", text::pad_right("class", width), "F1 %", "support"));
    for c in &r.f1_per_class {
        let label = text::escape(&c.label.to_string()).into_owned();
        s.push_str(&format!("{}  {:>7.2}  {:>7}\n", text::pad_right(&label, width), c.f1, c.support));
    }
    let cell = r.confusion.iter().flatten().map(|v| v.to_string().len()).max().unwrap_or(1).max(width.min(8));
    s.push_str("\nconfusion matrix (rows: true class, columns: predicted class)\n");
    s.push_str(&text::pad_right("", width));
    for l in &labels {
        s.push_str(&format!(" {}", text::pad_left(&truncate(l, cell), cell)));
    }
    s.push('\n');
    for (l, row) in labels.iter().zip(&r.confusion) {
        s.push_str(&text::pad_right(l, width));
        for v in row {
            s.push_str(&format!(" {v:>cell$}"));
        }
        s.push('\n');
    }
    if let (Some(o), Some(u)) = (&r.open_set, &a.unknown) {
        s.push_str(&format!("\nunknown   {} ({} rows)\n", text::path(u), o.n_unknown));
        s.push_str(&format!("AUROC     {:.4} (knownness, test rows against unknown rows)\n", o.auroc));
        match (o.known_rejected, o.unknown_rejected, o.target_tpr) {
            (Some(k), Some(u), Some(tpr)) => {
                s.push_str(&format!(
                    "rejected  {:.2} % of test rows, {:.2} % of unknown rows (thresholds for TPR {tpr})\n",
                    100.0 * k,
                    100.0 * u
                ));
            }
            _ => s.push_str("rejected  - (the head has no rejection thresholds)\n"),
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_counts_ties_as_one_half() {
        // Pairs: 0.9 beats both, 0.8 beats both, 0.5 ties 0.5 and beats 0.3: 5.5 of 6.
        assert!((auroc(&[0.9, 0.8, 0.5], &[0.5, 0.3]) - 5.5 / 6.0).abs() < 1e-12);
        assert_eq!(auroc(&[1.0, 2.0], &[0.0]), 1.0);
        assert_eq!(auroc(&[0.0], &[1.0, 2.0]), 0.0);
        assert_eq!(auroc(&[1.0, 1.0], &[1.0]), 0.5);
        assert_eq!(auroc(&[], &[1.0]), 0.5);
        // A brute-force pair count on a larger case with many ties.
        let pos: Vec<f32> = (0..40).map(|i| (i % 7) as f32).collect();
        let neg: Vec<f32> = (0..30).map(|i| (i % 5) as f32 - 1.0).collect();
        let pairs: f64 = pos
            .iter()
            .flat_map(|p| {
                neg.iter().map(move |n| {
                    if p > n {
                        1.0
                    } else if p == n {
                        0.5
                    } else {
                        0.0
                    }
                })
            })
            .sum();
        assert!((auroc(&pos, &neg) - pairs / 1200.0).abs() < 1e-12);
    }
}
