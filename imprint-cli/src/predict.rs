//! `imprint predict`: labels (and scores) of rows, as CSV or JSON lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use imprint::ClassLabel;

use crate::error::{CliError, Result};
use crate::input::Input;
use crate::{Global, head, progress, text};

/// Arguments of `imprint predict`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprint predict --head fashion.safetensors --input queries.h5
  imprint predict --head fashion.safetensors --input queries.npy --top-k 3 --format jsonl
  imprint predict --head fashion.safetensors --input queries.csv --reject --out predictions.csv
  # For a spreadsheet: label cells that start like a formula get a leading ':
  imprint predict --head fashion.safetensors --input queries.csv --spreadsheet-safe --out predictions.csv

Output (stdout unless --out; `--out -` is stdout too): CSV with the header `row,label,score`, one
line per input row (`row` counts from 0); with --top-k K the columns are
`row,label_1,score_1,...,label_K,score_K`, best first. `score` is the class's probability when the
head's temperature is calibrated (`imprint calibrate`), else its raw score (higher is better).
--format jsonl writes one JSON object per row with the same keys. With --reject, rows whose
similarity to their predicted class is below the class's calibrated threshold get the label
`unknown` (in `label`, or `label_1` with --top-k); their scores are kept; --unknown-label must
differ from every class's label as written.

CSV cells hold the labels exactly as they are (quoted where CSV needs it). With --spreadsheet-safe,
a text label that starts with =, +, -, @, a tab or a carriage return (which spreadsheets read as a
formula), or with ', is written with one ' in front; integer labels and scores are never changed,
and removing one leading ' from a prefixed cell gives the label back.")]
pub struct PredictArgs {
    /// The head.
    #[arg(long, value_name = "HEAD")]
    pub head: PathBuf,
    /// Rows to classify: HDF5 (reference layout; labels ignored), .npy or .csv (a `label` column is ignored).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Write the K best classes per row.
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Label rows that belong to no known class as unknown (needs calibrated rejection thresholds).
    #[arg(long)]
    pub reject: bool,
    /// The label of rejected rows (it must differ from every class's label).
    #[arg(long, value_name = "TEXT", default_value = "unknown")]
    pub unknown_label: String,
    /// Output format.
    #[arg(long, value_name = "F", default_value = "csv", value_parser = ["csv", "jsonl"])]
    pub format: String,
    /// Write the predictions to this file (atomically) instead of stdout (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// CSV for spreadsheets: prefix ' to text labels that start with =, +, -, @, tab, CR or '.
    #[arg(long)]
    pub spreadsheet_safe: bool,
}

/// One output line: the best classes with their scores, and whether the row was rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// `(label, score)` best first (one entry without --top-k).
    pub best: Vec<(ClassLabel, f32)>,
    /// Whether `--reject` found the row unknown.
    pub rejected: bool,
}

/// Runs `imprint predict`.
pub fn run(a: &PredictArgs, global: &Global, stdout: &mut dyn Write) -> Result<()> {
    // `--out -` is stdout; `./-` names a file called `-`.
    let out = a.out.as_deref().filter(|p| *p != Path::new("-"));
    if let Some(out) = out {
        head::check_writable(out, a.force)?;
    }
    if a.top_k == Some(0) {
        return Err(CliError::Usage("--top-k 0: K must be at least 1".into()));
    }
    if a.spreadsheet_safe && a.format != "csv" {
        return Err(CliError::Usage(format!(
            "--spreadsheet-safe applies to CSV output; --format {} keeps labels exact",
            a.format
        )));
    }
    let classifier = head::load(&a.head)?;
    if a.reject {
        crate::check_rejection_calibrated(&classifier, &a.head)?;
        // Compared as written: `--unknown-label 3` would read as the integer class 3.
        if let Some(class) = classifier.classes().iter().find(|c| c.to_string() == a.unknown_label) {
            let kind = if class.as_int().is_some() { "an integer" } else { "a text" };
            return Err(CliError::Usage(format!(
                "{} has {kind} class labelled '{class}', which rejected rows would be confused with; choose \
                 another --unknown-label",
                a.head.display(),
            )));
        }
    }
    let input = Input::read(&a.input, None)?;
    input.check_dim(&a.head, classifier.dim())?;
    crate::check_zero_rows(&input, &[classifier.recipe().input_norm], crate::HEAD_ZERO_HINT)?;
    let k = a.top_k.unwrap_or(1).min(classifier.n_classes());
    let bar = progress::rows_bar(progress::visible(global.quiet), input.x.nrows(), "predicting");
    let context = || format!("classifying the rows of {} with {}", a.input.display(), a.head.display());
    let predictions = progress::by_chunks(input.x.view(), &bar, |x, first| {
        let fail = |e| crate::rows_error(e, first, context());
        let top = classifier.top_k(x, k).map_err(fail)?;
        let labels: Vec<Option<ClassLabel>> = if a.reject {
            classifier.predict_open(x).map_err(fail)?
        } else {
            classifier.predict(x).map_err(fail)?.into_iter().map(Some).collect()
        };
        Ok(top
            .into_iter()
            .zip(labels)
            .map(|(mut best, label)| {
                let rejected = label.is_none();
                if a.top_k.is_none()
                    && let (Some(label), Some(first)) = (label, best.first_mut())
                {
                    // The argmax of the raw scores (as `eval` counts it); the
                    // probability only differs from its score in exact ties.
                    first.0 = label;
                }
                Prediction { best, rejected }
            })
            .collect())
    })?;
    bar.finish_and_clear();
    let cells = Cells { unknown: &a.unknown_label, spreadsheet_safe: a.spreadsheet_safe };
    let text = render(&predictions, a.top_k.is_some(), &a.format, cells)?;
    match out {
        Some(out) => {
            imprint_data::write_atomic(out, &text, a.force).map_err(CliError::from_write)?;
            global.note(format_args!("wrote {} predictions to {}", predictions.len(), out.display()));
        }
        None => stdout.write_all(&text).map_err(CliError::Stdout)?,
    }
    if a.reject {
        let n = predictions.iter().filter(|p| p.rejected).count();
        global.note(format_args!(
            "{n} of {} rows ({:.1}%) rejected as {}",
            predictions.len(),
            100.0 * n as f64 / predictions.len().max(1) as f64,
            a.unknown_label
        ));
    }
    Ok(())
}

/// How label cells are written.
#[derive(Debug, Clone, Copy)]
struct Cells<'a> {
    /// The label of rejected rows.
    unknown: &'a str,
    /// CSV text labels through [`text::spreadsheet_cell`].
    spreadsheet_safe: bool,
}

impl Cells<'_> {
    /// A label as a CSV cell.
    fn csv(self, label: &ClassLabel) -> String {
        match label {
            ClassLabel::Text(t) if self.spreadsheet_safe => text::spreadsheet_cell(t).into_owned(),
            other => other.to_string(),
        }
    }
}

/// The predictions as CSV or JSON lines.
fn render(predictions: &[Prediction], top_k: bool, format: &str, cells: Cells<'_>) -> Result<Vec<u8>> {
    let k = predictions.first().map_or(1, |p| p.best.len());
    let names: Vec<(String, String)> = if top_k {
        (1..=k).map(|i| (format!("label_{i}"), format!("score_{i}"))).collect()
    } else {
        vec![("label".into(), "score".into())]
    };
    let label_of = |p: &Prediction, i: usize, l: &ClassLabel| -> ClassLabel {
        if p.rejected && i == 0 { ClassLabel::Text(cells.unknown.to_string()) } else { l.clone() }
    };
    if format == "jsonl" {
        let mut out = String::new();
        for (row, p) in predictions.iter().enumerate() {
            out.push_str(&format!("{{\"row\":{row}"));
            for (i, ((label, score), (ln, sn))) in p.best.iter().zip(&names).enumerate() {
                let label = serde_json::to_string(&label_of(p, i, label))
                    .map_err(|e| CliError::Internal(format!("cannot write a label as JSON: {e}")))?;
                out.push_str(&format!(",\"{ln}\":{label},\"{sn}\":{}", json_number(*score)));
            }
            out.push_str("}\n");
        }
        return Ok(out.into_bytes());
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string()];
    header.extend(names.iter().flat_map(|(l, s)| [l.clone(), s.clone()]));
    let csv_error = |e: csv::Error| CliError::Internal(format!("cannot write CSV: {e}"));
    writer.write_record(&header).map_err(csv_error)?;
    for (row, p) in predictions.iter().enumerate() {
        let mut record = vec![row.to_string()];
        for (i, (label, score)) in p.best.iter().enumerate() {
            record.push(cells.csv(&label_of(p, i, label)));
            record.push(score.to_string());
        }
        writer.write_record(&record).map_err(csv_error)?;
    }
    writer.into_inner().map_err(|e| CliError::Internal(format!("cannot write CSV: {e}")))
}

/// A finite f32 as a JSON number (non-finite scores, which the library never returns, as null).
fn json_number(v: f32) -> String {
    if v.is_finite() { v.to_string() } else { "null".into() }
}
