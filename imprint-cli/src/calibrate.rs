//! `imprint calibrate`: the softmax temperature (and, on request, rejection
//! thresholds) from labelled rows, stored in the head.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::input::Input;
use crate::{Global, head, progress, text};

/// Arguments of `imprint calibrate`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # Probabilities: fit the softmax temperature on held-out labelled rows (not the training rows):
  imprint calibrate --head fashion.safetensors --val validation.h5
  # Rejection thresholds for a head fitted with --no-reject-calibration, from its training rows:
  imprint calibrate --head fashion.safetensors --val train.h5 --rejection --no-temperature

The temperature T minimizes the negative log-likelihood of the --val labels under softmax(scores / T);
afterwards `predict` reports probabilities instead of raw scores. Printed: T, and the NLL and the
expected calibration error (ECE, 15 bins) on the --val rows before and after. With --rejection, each
class's threshold is the (1 - TPR) quantile of out-of-fold knownness of the --val rows of that class:
each fold is scored against the class imprinted from the other folds. The head is replaced
atomically (or written to --out) only after everything succeeded.")]
pub struct CalibrateArgs {
    /// The head.
    #[arg(long, value_name = "HEAD")]
    pub head: PathBuf,
    /// Labelled rows of the head's classes: HDF5 (reference layout), .npy (with --labels) or .csv.
    #[arg(long, value_name = "FILE")]
    pub val: PathBuf,
    /// Labels of a .npy or CSV --val file: a .npy vector, or text with one label per line.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Use only the rows of these classes: labels and integer ranges separated by commas, e.g. `0-4,7`.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<crate::input::ClassFilter>,
    /// Also calibrate rejection thresholds (for `predict --reject`) from the --val rows.
    #[arg(long)]
    pub rejection: bool,
    /// Leave the temperature as it is (with --rejection).
    #[arg(long, requires = "rejection")]
    pub no_temperature: bool,
    /// Share of known rows the rejection thresholds keep.
    #[arg(long, value_name = "TPR", default_value_t = 0.95)]
    pub target_tpr: f64,
    /// Folds of the out-of-fold rejection calibration.
    #[arg(long, value_name = "F", default_value_t = 5)]
    pub folds: usize,
    /// Write the calibrated head here instead of replacing --head.
    #[arg(long, value_name = "NEW")]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Waiting for concurrent updates of the head.
    #[command(flatten)]
    pub lock: head::WaitArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `imprint calibrate` did.
#[derive(Debug, Serialize)]
struct Report {
    rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<imprint::TemperatureReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<Rejection>,
}

#[derive(Debug, Serialize)]
struct Rejection {
    target_tpr: f64,
    folds: usize,
    thresholds: Vec<f32>,
}

/// Runs `imprint calibrate`.
pub fn run(a: &CalibrateArgs, global: &Global, stdout: &mut dyn Write) -> Result<()> {
    if a.rejection {
        crate::fit::check_rejection_args(a.target_tpr, a.folds)?;
    }
    let (out, overwrite) = match &a.out {
        Some(out) => {
            head::check_writable(out, a.force)?;
            (out, a.force)
        }
        None => (&a.head, true),
    };
    // Held from reading to replacing, so that concurrent updates all land.
    let _lock = head::lock_for_update(out, a.lock.wait, global)?;
    let bar = progress::spinner(progress::visible(global.quiet), format!("reading {}", text::path(&a.val)));
    let mut classifier = head::load(&a.head)?;
    let mut input = Input::read(&a.val, a.labels.as_deref())?;
    if let Some(filter) = &a.classes {
        input.select(filter, "--classes")?;
    }
    input.check_dim(&a.head, classifier.dim())?;
    let labels = input.require_labels()?;
    let recipe = classifier.recipe().clone();
    crate::check_zero_rows(&input, &[recipe.input_norm, recipe.pre_norm], crate::HEAD_ZERO_HINT)?;
    if let Some((row, l)) = labels.iter().enumerate().find(|(_, l)| classifier.class_index(l).is_none()) {
        return Err(CliError::input(
            &a.val,
            format!(
                "label {} at row {row} is not a class of the head {}",
                text::escape(&l.to_string()),
                a.head.display()
            ),
        ));
    }
    let context = |what: &str| format!("calibrating {what} of {} on {}", a.head.display(), a.val.display());
    let temperature = if a.no_temperature {
        None
    } else {
        bar.set_message("fitting the temperature");
        Some(
            classifier
                .calibrate_temperature(input.x.view(), labels)
                .map_err(CliError::imprint(context("the temperature")))?,
        )
    };
    let rejection = if a.rejection {
        bar.set_message(format!("calibrating rejection ({} folds)", a.folds));
        classifier
            .calibrate_rejection(input.x.view(), labels, a.target_tpr, a.folds)
            .map_err(CliError::imprint(context("rejection")))?;
        Some(Rejection {
            target_tpr: a.target_tpr,
            folds: a.folds,
            thresholds: classifier.calibration().thresholds().unwrap_or_default().to_vec(),
        })
    } else {
        None
    };
    bar.set_message(format!("writing {}", text::path(out)));
    head::save(&classifier, out, overwrite)?;
    bar.finish_and_clear();
    let report = Report { rows: input.x.nrows(), temperature, rejection };
    let text = if a.json {
        serde_json::to_string(&report).map_err(|e| CliError::Internal(e.to_string()))? + "\n"
    } else {
        let mut s = String::new();
        if let Some(t) = &report.temperature {
            s.push_str(&format!(
                "temperature {} on {} rows: NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4}\n",
                t.temperature, t.n, t.nll_before, t.nll_after, t.ece_before, t.ece_after
            ));
        }
        if let Some(r) = &report.rejection {
            let (lo, hi) = r
                .thresholds
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &t| (lo.min(t), hi.max(t)));
            s.push_str(&format!(
                "rejection thresholds for TPR {} ({} folds, {} classes): {lo:.4} to {hi:.4}\n",
                r.target_tpr,
                r.folds,
                r.thresholds.len()
            ));
        }
        s
    };
    stdout.write_all(text.as_bytes()).map_err(CliError::Stdout)?;
    global.note(format_args!("wrote {}", out.display()));
    Ok(())
}
