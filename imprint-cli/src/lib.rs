//! # imprint-cli
//!
//! The `imprint` command line: a thin door to the [`imprint`] library. It
//! reads embedding files (HDF5 in the reference layout, `.npy`, CSV), calls
//! the library to fit, update, calibrate and apply heads, and writes heads
//! (safetensors, or JSON text) atomically. No algorithm lives here.
//!
//! | subcommand | what it does |
//! |---|---|
//! | `imprint fit --train FILE --out HEAD` | imprints one class per distinct label (the paper's setting by default) and calibrates rejection |
//! | `imprint add --head HEAD --train FILE [--out NEW]` | new classes and more shots, with exact updates |
//! | `imprint predict --head HEAD --input FILE` | labels and scores as CSV or JSON lines; `--top-k`, `--reject` |
//! | `imprint eval --head HEAD --test FILE [--unknown FILE]` | accuracy, per-class F1, confusion matrix, open-set AUROC |
//! | `imprint calibrate --head HEAD --val FILE` | softmax temperature (and `--rejection` thresholds) |
//! | `imprint inspect HEAD` | recipe, classes, proxies, dimension, format version, file size |
//! | `imprint embed --model M --weights W (--images DIR\|LIST \| --text FILE) --out FILE.h5` | embeddings from images or text with `imprint-embed` (feature `embed`, on by default) |
//!
//! Results go to stdout, diagnostics (progress on a terminal, summaries,
//! warnings) to stderr; errors are one line, `error: FILE: problem`, with
//! exit code 1, or 2 for usage errors.

pub mod add;
pub mod calibrate;
#[cfg(feature = "embed")]
pub mod embed;
pub mod error;
pub mod eval;
pub mod fit;
pub mod head;
pub mod input;
pub mod inspect;
pub mod predict;
pub mod progress;
pub mod text;

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imprint::{Classifier, ImprintError, InputNorm, ZeroVectorPolicy};

pub use error::{CliError, Result};
use input::Input;

/// Weight imprinting for frozen foundation models: fit, update, calibrate and
/// apply classifier heads from embedding files.
#[derive(Debug, Parser)]
#[command(
    name = "imprint",
    version,
    after_help = "\
A session on the bundled data (docs/cli.md has it with its output):
  D=data/embeddings/FashionMNIST/efficientnet_lite0
  TRAIN=$D/train/embeddings_FashionMNIST_efficientnet_lite0_train.h5
  TEST=$D/test/embeddings_FashionMNIST_efficientnet_lite0_test.h5
  imprint fit --train $TRAIN --classes 0-7,9 --out fashion.safetensors      # bags (8) held back
  imprint eval --head fashion.safetensors --test $TEST --classes 0-7,9 --unknown $TEST --unknown-classes 8
  imprint predict --head fashion.safetensors --input $TEST --reject           # bags come out as unknown
  imprint add --head fashion.safetensors --train $TRAIN --classes 8           # now it knows bags

Input files: HDF5 with datasets `embeddings` (float32, N x D) and `labels` (int32, N), as in the
reference layout; a .npy matrix (float32 or float64) with --labels FILE.npy|FILE.txt; or CSV with a
header row, numeric columns and a `label` column. Run `imprint <command> --help` for each command."
)]
pub struct Cli {
    /// Print no progress, summaries or warnings on stderr (errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Imprint one class per distinct label of a training file into a new head.
    Fit(Box<fit::FitArgs>),
    /// Add classes and shots to a head (exact updates).
    Add(add::AddArgs),
    /// Classify rows: labels and scores as CSV or JSON lines.
    Predict(predict::PredictArgs),
    /// Accuracy, per-class F1 and confusion matrix on labelled rows; open-set AUROC with --unknown.
    Eval(eval::EvalArgs),
    /// Fit the softmax temperature (and rejection thresholds) on labelled rows.
    Calibrate(calibrate::CalibrateArgs),
    /// Show a head's recipe, classes, proxies, dimension, format version and file size.
    Inspect(inspect::InspectArgs),
    /// Embed images or text into an HDF5 embedding file (EfficientNet-Lite0/1/2, all-MiniLM-L6-v2).
    #[cfg(feature = "embed")]
    Embed(Box<embed::EmbedArgs>),
}

/// Options every subcommand shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Global {
    /// No diagnostics on stderr.
    pub quiet: bool,
}

impl Global {
    /// Writes one diagnostic line to stderr (unless quiet), its control and
    /// invisible characters escaped ([`text::escape`]: labels and file names
    /// reach the terminal only as text). A failing stderr is ignored.
    pub fn note(&self, message: fmt::Arguments<'_>) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{}", text::escape(&message.to_string()));
        }
    }
}

/// Runs a parsed command, writing results to `stdout`.
///
/// # Errors
/// Every [`CliError`]; on error no file was written or replaced.
pub fn run(cli: &Cli, stdout: &mut dyn Write) -> Result<()> {
    let global = Global { quiet: cli.quiet };
    match &cli.command {
        Command::Fit(a) => fit::run(a, &global),
        Command::Add(a) => add::run(a, &global),
        Command::Predict(a) => predict::run(a, &global, stdout),
        Command::Eval(a) => eval::run(a, &global, stdout),
        Command::Calibrate(a) => calibrate::run(a, &global, stdout),
        Command::Inspect(a) => inspect::run(a, stdout),
        #[cfg(feature = "embed")]
        Command::Embed(a) => embed::run(a, &global),
    }
}

/// The `imprint` binary: parses the arguments (clap exits with 2 on usage
/// errors and 0 for `--help`), runs, prints `error: ...` on one line.
pub fn main() -> ExitCode {
    remove_temporaries_on_signals();
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(&cli, &mut out).and_then(|()| out.flush().map_err(CliError::Stdout));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`imprint predict ... | head`) is not an error.
        Err(CliError::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP: removes the temporary files of writes in
/// progress and exits with 128 + the signal's number, as a shell reports a
/// process the signal killed. The files being replaced stay as they were.
fn remove_temporaries_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            imprint_data::remove_pending_temporaries();
            std::process::exit(128 + signal);
        }
    });
}

/// What to do about all-zero rows when the head rejects them.
pub(crate) const HEAD_ZERO_HINT: &str = "the head's L2 normalization rejects all-zero rows (fit it with --zero-vectors keep to keep them as zeros)";

/// How to get rejection thresholds.
pub(crate) const REJECTION_HINT: &str = "fit the head without --no-reject-calibration, or run \
     `imprint calibrate --head HEAD --val TRAIN_FILE --rejection --no-temperature` on its training rows";

/// Fails on the first all-zero row when one of `norms` is L2 that rejects them.
pub(crate) fn check_zero_rows(input: &Input, norms: &[InputNorm], hint: &str) -> Result<()> {
    if !norms.contains(&InputNorm::L2(ZeroVectorPolicy::Reject)) {
        return Ok(());
    }
    match input.x.outer_iter().position(|row| row.iter().all(|&v| v == 0.0)) {
        Some(row) => Err(CliError::input(&input.path, format!("row {row} is an all-zero vector; {hint}"))),
        None => Ok(()),
    }
}

/// Fails when `classifier` has no rejection thresholds.
pub(crate) fn check_rejection_calibrated(classifier: &Classifier, path: &Path) -> Result<()> {
    if classifier.calibration().thresholds().is_some() {
        return Ok(());
    }
    Err(CliError::input(path, format!("the head has no rejection thresholds for --reject; {REJECTION_HINT}")))
}

/// A library error about a block of rows starting at row `first`, with the
/// row numbers of the whole file.
pub(crate) fn rows_error(e: ImprintError, first: usize, context: String) -> CliError {
    let source = match e {
        ImprintError::ZeroVector { what, row } => ImprintError::ZeroVector { what, row: row + first },
        ImprintError::NonFinite { what, row, col, value } => {
            ImprintError::NonFinite { what, row: row + first, col, value }
        }
        other => other,
    };
    CliError::Imprint { context, source }
}
