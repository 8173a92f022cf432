//! `imprint add`: new classes and more shots for a head, with exact updates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use imprint::ClassLabel;

use crate::error::{CliError, Result};
use crate::input::Input;
use crate::{Global, head, progress};

/// Arguments of `imprint add`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # Teach the head a new class (and more shots of known ones), replacing it atomically:
  imprint add --head fashion.safetensors --train new_rows.h5
  # Only the rows of class 8 of a file:
  imprint add --head fashion.safetensors --train train.h5 --classes 8
  # Keep the old head and write the updated one elsewhere:
  imprint add --head fashion.safetensors --train more.csv --out fashion_v2.safetensors

Rows with a label the head does not know become new classes (appended in ascending label order);
rows with a known label are added to that class with exact updates: the result equals fitting the
class once with all its shots (heads fitted with --updates append, or int8 exports, append proxies
instead). Rejection thresholds of the changed classes are calibrated again where the head keeps
their shots. Without --out the head file is replaced atomically, and only once everything succeeded.
Concurrent updates of the same head run one after the other (each waits up to --wait seconds).")]
pub struct AddArgs {
    /// The head to update.
    #[arg(long, value_name = "HEAD")]
    pub head: PathBuf,
    /// Labelled rows: HDF5 (reference layout), .npy (with --labels) or .csv (with a `label` column).
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,
    /// Labels of a .npy or CSV file: a .npy vector, or text with one label per line.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Use only the rows of these classes: labels and integer ranges separated by commas, e.g. `0-4,7`.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<crate::input::ClassFilter>,
    /// Write the updated head here instead of replacing --head (.json: JSON text; otherwise safetensors).
    #[arg(long, value_name = "NEW")]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Waiting for concurrent updates of the head.
    #[command(flatten)]
    pub lock: head::WaitArgs,
}

/// Runs `imprint add`.
pub fn run(a: &AddArgs, global: &Global) -> Result<()> {
    let (out, overwrite) = match &a.out {
        Some(out) => {
            head::check_writable(out, a.force)?;
            (out, a.force)
        }
        None => (&a.head, true),
    };
    let start = Instant::now();
    // Held from reading to replacing, so that concurrent updates all land.
    let _lock = head::lock_for_update(out, a.lock.wait, global)?;
    let bar = progress::spinner(progress::visible(global.quiet), format!("reading {}", a.head.display()));
    let mut classifier = head::load(&a.head)?;
    let mut input = Input::read(&a.train, a.labels.as_deref())?;
    if let Some(filter) = &a.classes {
        input.select(filter, "--classes")?;
    }
    input.check_dim(&a.head, classifier.dim())?;
    let labels = input.require_labels()?;
    // NORMpre normalizes the shots; recalibrating rejection also scores them under NORMinf.
    let recipe = classifier.recipe();
    let calibrated = classifier.calibration().thresholds().is_some();
    let norms: &[_] = if calibrated { &[recipe.pre_norm, recipe.input_norm] } else { &[recipe.pre_norm] };
    crate::check_zero_rows(&input, norms, crate::HEAD_ZERO_HINT)?;
    let mut rows: BTreeMap<&ClassLabel, usize> = BTreeMap::new();
    for l in labels {
        *rows.entry(l).or_default() += 1;
    }
    let new: Vec<(&ClassLabel, usize)> =
        rows.iter().filter(|(l, _)| classifier.class_index(l).is_none()).map(|(l, n)| (*l, *n)).collect();
    let known = rows.len() - new.len();
    bar.set_message(format!("adding {} new classes and shots to {known} known classes", new.len()));
    classifier.partial_fit(input.x.view(), labels).map_err(CliError::imprint(format!(
        "adding the rows of {} to {}",
        a.train.display(),
        a.head.display()
    )))?;
    bar.set_message(format!("writing {}", out.display()));
    let size = head::save(&classifier, out, overwrite)?;
    bar.finish_and_clear();
    let listed: Vec<String> = new.iter().map(|(l, n)| format!("{l} ({n} rows)")).collect();
    let mut done = Vec::new();
    if !new.is_empty() {
        let s = if new.len() == 1 { "" } else { "es" };
        done.push(format!("added {} new class{s}: {}", new.len(), listed.join(", ")));
    }
    if known > 0 {
        let rows = input.x.nrows() - new.iter().map(|(_, n)| n).sum::<usize>();
        let s = if known == 1 { "" } else { "es" };
        done.push(format!("added {rows} rows to {known} known class{s}"));
    }
    global.note(format_args!(
        "{} in {:.2} s; {} now has {} classes ({})",
        done.join("; "),
        start.elapsed().as_secs_f64(),
        out.display(),
        classifier.n_classes(),
        head::human_size(size)
    ));
    Ok(())
}
