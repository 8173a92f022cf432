//! `imprint inspect`: what a head file holds.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use imprint::{ClassLabel, Recipe};
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::{head, text};

/// Arguments of `imprint inspect`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprint inspect fashion.safetensors
  imprint inspect fashion.safetensors --json | jq '.classes[] | .proxies'

Prints the file's encoding, size and format version, the recipe (NORMpre / GEN / NORMpost /
NORMinf / AGG and the seed), the dimension, the calibration (temperature, rejection thresholds) and
every class with its proxies, kept shots and rejection threshold. The whole file is validated.")]
pub struct InspectArgs {
    /// The head file.
    #[arg(value_name = "HEAD")]
    pub head: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Class {
    label: ClassLabel,
    proxies: usize,
    kept_shots: usize,
    threshold: Option<f32>,
}

#[derive(Debug, Serialize)]
struct Tensor {
    name: String,
    dtype: String,
    shape: Vec<usize>,
}

#[derive(Debug, Serialize)]
struct Report {
    path: PathBuf,
    file_size: u64,
    encoding: &'static str,
    format: &'static str,
    version: u32,
    recipe: Recipe,
    recipe_text: String,
    dim: usize,
    n_classes: usize,
    n_proxies: usize,
    proxy_dtype: &'static str,
    temperature: Option<f32>,
    rejection_target_tpr: Option<f64>,
    rejection_folds: Option<usize>,
    classes: Vec<Class>,
    tensors: Vec<Tensor>,
}

/// Runs `imprint inspect`.
pub fn run(a: &InspectArgs, stdout: &mut dyn Write) -> Result<()> {
    let loaded = head::load_with_details(&a.head)?;
    let c = &loaded.classifier;
    let calibration = c.calibration();
    let thresholds = calibration.thresholds();
    let classes: Vec<Class> = c
        .classes()
        .iter()
        .zip(c.proxy_counts())
        .zip(c.kept_shots())
        .enumerate()
        .map(|(i, ((label, proxies), kept_shots))| Class {
            label: label.clone(),
            proxies,
            kept_shots,
            threshold: thresholds.and_then(|t| t.get(i).copied()),
        })
        .collect();
    let report = Report {
        path: a.head.clone(),
        file_size: loaded.file_size,
        encoding: loaded.encoding.name(),
        format: imprint::FORMAT,
        version: imprint::VERSION,
        recipe: c.recipe().clone(),
        recipe_text: c.recipe().describe(),
        dim: c.dim(),
        n_classes: c.n_classes(),
        n_proxies: c.proxy_counts().iter().sum(),
        proxy_dtype: if loaded.tensors.iter().any(|(n, _, _)| n == "proxies_int8") { "int8" } else { "f32" },
        temperature: calibration.is_temperature_calibrated().then(|| calibration.temperature()),
        rejection_target_tpr: calibration.target_tpr(),
        rejection_folds: calibration.folds(),
        classes,
        tensors: loaded
            .tensors
            .iter()
            .map(|(name, dtype, shape)| Tensor {
                name: name.clone(),
                dtype: dtype.clone(),
                shape: shape.clone(),
            })
            .collect(),
    };
    let text = if a.json {
        serde_json::to_string(&report).map_err(|e| CliError::Internal(e.to_string()))? + "\n"
    } else {
        render(&report)
    };
    stdout.write_all(text.as_bytes()).map_err(CliError::Stdout)
}

/// The report as text: labels, file and tensor names escaped ([`text::escape`]).
fn render(r: &Report) -> String {
    let mut s = String::new();
    let line = |s: &mut String, key: &str, value: String| s.push_str(&format!("{key:<12} {value}\n"));
    line(&mut s, "file", text::path(&r.path));
    line(
        &mut s,
        "size",
        format!(
            "{} ({} bytes), {}, format \"{}\" version {}",
            head::human_size(r.file_size),
            r.file_size,
            r.encoding,
            r.format,
            r.version
        ),
    );
    line(&mut s, "recipe", text::escape(&r.recipe_text).into_owned());
    line(
        &mut s,
        "updates",
        match r.recipe.updates {
            imprint::Updates::Exact => "exact (added shots refit their class)".into(),
            imprint::Updates::Append => "append (added shots append proxies)".into(),
        },
    );
    line(&mut s, "dimension", r.dim.to_string());
    line(&mut s, "classes", format!("{} ({} proxies, {})", r.n_classes, r.n_proxies, r.proxy_dtype));
    line(
        &mut s,
        "temperature",
        r.temperature.map_or("not calibrated (predict reports raw scores)".into(), |t| t.to_string()),
    );
    line(
        &mut s,
        "rejection",
        match (r.rejection_target_tpr, r.rejection_folds) {
            (Some(tpr), Some(folds)) => format!("thresholds for TPR {tpr} ({folds}-fold out-of-fold)"),
            _ => "not calibrated (predict --reject is unavailable)".into(),
        },
    );
    let labels: Vec<String> =
        r.classes.iter().map(|c| text::escape(&c.label.to_string()).into_owned()).collect();
    let width = text::column_width(labels.iter().map(String::as_str), 5);
    s.push_str(&format!(
        "\n{}  {:>8}  {:>10}  {:>9}\n",
        text::pad_right("class", width),
        "proxies",
        "kept shots",
        "threshold"
    ));
    for (c, label) in r.classes.iter().zip(&labels) {
        let threshold = c.threshold.map_or("-".to_string(), |t| format!("{t:.4}"));
        s.push_str(&format!(
            "{}  {:>8}  {:>10}  {:>9}\n",
            text::pad_right(label, width),
            c.proxies,
            c.kept_shots,
            threshold
        ));
    }
    if !r.tensors.is_empty() {
        s.push_str("\ntensors\n");
        for t in &r.tensors {
            s.push_str(&format!(
                "  {:<14} {:<4} {:?}\n",
                text::escape(&t.name),
                text::escape(&t.dtype),
                t.shape
            ));
        }
    }
    s
}
