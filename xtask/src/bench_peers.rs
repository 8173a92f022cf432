//! `cargo xtask bench-peers`: our implementation against scikit-learn, faiss,
//! torch and a reference-equivalent Python pipeline, in one run; writes
//! BENCHMARKS.md.

use std::path::PathBuf;

use imprint_bench::BenchError;
use imprint_compat::record::utc_timestamp;

use crate::peers::{PeerOptions, PythonEnv, Scale, render_markdown, run, write_report};

use crate::machine::{cpu_model, git_commit, memory};
use crate::workspace_root;

/// Arguments of `bench-peers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Scratch folder for the generated inputs (several GB at paper scale).
    #[arg(long, default_value = "target/bench-peers")]
    work_dir: PathBuf,
    /// Small workloads, to try the command out.
    #[arg(long)]
    quick: bool,
    /// Measure imprint-rs only (no Python).
    #[arg(long)]
    no_python: bool,
    /// Run only the cases whose name contains this text (e.g. "k-means n=6000").
    #[arg(long)]
    filter: Option<String>,
    /// Python that creates the peers' virtual environment.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The peers' virtual environment (made from xtask/peers/requirements.txt).
    #[arg(long, default_value = ".venv-peers")]
    venv: PathBuf,
    /// The reference's environment, for scikit-learn-extra (made from
    /// scripts/reference_check/requirements.txt; shared with that script).
    #[arg(long, default_value = ".venv-reference")]
    reference_venv: PathBuf,
    /// Run every N-th combination of the preset grid in the whole-reproduction
    /// comparison (1 = all 2,190).
    #[arg(long, default_value_t = 1)]
    pipeline_every: usize,
    /// Skip the whole-reproduction comparison.
    #[arg(long)]
    no_pipeline: bool,
}

pub fn run_command(args: Args) -> Result<(), BenchError> {
    let root = workspace_root();
    let peers = root.join("xtask").join("peers");
    let python = (!args.no_python).then(|| PythonEnv {
        base_python: args.python.clone(),
        venv: root.join(&args.venv),
        requirements: peers.join("requirements.txt"),
        scripts: peers.clone(),
    });
    let reference_python = (!args.no_python).then(|| PythonEnv {
        base_python: args.python.clone(),
        venv: root.join(&args.reference_venv),
        requirements: root.join("scripts").join("reference_check").join("requirements.txt"),
        scripts: peers.clone(),
    });
    let options = PeerOptions {
        work_dir: root.join(&args.work_dir),
        scale: if args.quick { Scale::Quick } else { Scale::Paper },
        python,
        reference_python,
        filter: args.filter.clone(),
        pipeline: (!args.no_pipeline).then(|| (root.join("data"), args.pipeline_every.max(1))),
    };
    let report = run(&options)?;
    let header = format!(
        "Measured by `cargo xtask bench-peers{}` on {} UTC, commit {}, on {} ({} threads, {}).",
        if args.quick { " --quick" } else { "" },
        utc_timestamp(std::time::SystemTime::now()),
        git_commit().unwrap_or_else(|| "unknown".into()),
        cpu_model().unwrap_or_else(|| "an unknown CPU".into()),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory().unwrap_or_else(|| "unknown memory".into()),
    );
    let mut text = render_markdown(&report, &header);
    println!("{text}");
    let out = args.out.unwrap_or_else(|| root.join("BENCHMARKS.md"));
    // Sections measured by other tools (the Python package's) stay.
    if let Some(tail) = std::fs::read_to_string(&out).ok().as_deref().and_then(kept_tail) {
        text = format!("{}\n\n{tail}", text.trim_end());
    }
    write_report(&out, &text)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The line that starts the part of `BENCHMARKS.md` that `bench-peers`
/// does not measure and keeps when it rewrites the file.
pub(crate) const KEPT_MARKER: &str =
    "<!-- measured by other tools; cargo xtask bench-peers keeps everything from here -->";

/// The kept part of an existing report: from [`KEPT_MARKER`] to the end.
fn kept_tail(existing: &str) -> Option<&str> {
    existing.find(KEPT_MARKER).map(|at| &existing[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_after_the_marker_is_kept() {
        let old = format!("# Benchmarks\nold tables\n\n{KEPT_MARKER}\n\n## Python package\n\n| a |\n");
        assert_eq!(kept_tail(&old), Some(format!("{KEPT_MARKER}\n\n## Python package\n\n| a |\n").as_str()));
        assert_eq!(kept_tail("# Benchmarks\nno marker\n"), None);
    }
}
