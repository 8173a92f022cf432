//! `cargo xtask`: project automation. `main` parses arguments and dispatches;
//! each subcommand is a module, and the work happens in `imprint-bench`.
//! `peers` is the Python peer harness of `bench-peers` (tooling: it makes
//! virtual environments and runs Python, so it lives here, not in a library).

mod bench_grid;
mod bench_peers;
mod machine;
mod peers;
mod report;
mod reproduce;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation for imprint-rs.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the paper's experiment grid and print its tables.
    ///
    /// Without --config: every preset (imprint-bench/presets/*.yaml) on the
    /// bundled real embeddings in data/. With --config: the given config files
    /// (the reference's src/config/*.yaml work unchanged) on --embeddings ROOT.
    Reproduce(reproduce::Args),
    /// Measure imprint-rs against scikit-learn, faiss, torch and a
    /// reference-equivalent Python pipeline on the same data, in one run, and
    /// write BENCHMARKS.md (creates .venv-peers from
    /// xtask/peers/requirements.txt on first use).
    BenchPeers(bench_peers::Args),
    /// Time the reference's grid at the paper's scale on this machine:
    /// paper-sized synthetic embeddings in the reference layout, the nine
    /// non-ImageNet reference configs restricted to one backbone, a uniform
    /// shard sample (and with --full the whole grid), optionally the
    /// reference's own runner on a few of the same records; writes a section
    /// of BENCHMARKS.md.
    BenchGrid(bench_grid::Args),
    /// Render tables, statistics and figures from a folder of result records
    /// (ours or the reference's own JSON output).
    Report {
        /// Folder of `{id}.json` records.
        #[arg(long)]
        results: PathBuf,
        /// Where to write report.md and figures/ (default: beside the records).
        #[arg(long)]
        out: Option<PathBuf>,
        /// NC1 per task (`neural_collapse.json`, written by reproduce).
        #[arg(long)]
        collapse: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Reproduce(args) => reproduce::run(args),
        Command::BenchPeers(args) => bench_peers::run_command(args),
        Command::BenchGrid(args) => bench_grid::run(args),
        Command::Report { results, out, collapse } => {
            report::run(&results, out.as_deref(), collapse.as_deref())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
