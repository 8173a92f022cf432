//! `cargo xtask reproduce`: arguments, then [`imprint_bench::reproduce`].

use std::path::PathBuf;

use imprint_bench::BenchError;
use imprint_bench::reproduce::{ReproduceOptions, dry_run_text, parse_lambda, parse_shard, reproduce};
use imprint_core::RngMode;

use crate::workspace_root;

/// Arguments of `reproduce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Root of the embeddings in the reference layout (default: the bundled data/).
    #[arg(long)]
    embeddings: Option<PathBuf>,
    /// Config file(s) in the reference's format (default: every preset).
    #[arg(long)]
    config: Vec<PathBuf>,
    /// Output folder: records/, neural_collapse.json, report.md, figures/.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Run only shard I of N ("I/N", 0-based). With just "/N", the index comes
    /// from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) or SLURM_ARRAY_TASK_ID.
    #[arg(long)]
    shard: Option<String>,
    /// Run only this backbone of every config (e.g. the paper's grid for
    /// resnet18 alone); every config must list it.
    #[arg(long)]
    backbone: Option<String>,
    /// Lambda of ls/kls for a backbone, e.g. --lambda resnet18=1e-4 (repeatable).
    #[arg(long = "lambda", value_name = "BACKBONE=VALUE")]
    lambdas: Vec<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Print the number of combinations per group and in total, then exit.
    #[arg(long)]
    dry_run: bool,
    /// Recompute and replace records that already exist.
    #[arg(long)]
    overwrite: bool,
    /// Do not draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Whose random draws: `portable` (imprint-rs's streams) or `reference`
    /// (every draw the reference's: torch's generator, NumPy's RandomState;
    /// see docs/reference-mode.md). Records of the two modes go to different folders.
    #[arg(long, default_value = "portable", value_parser = ["portable", "reference"])]
    rng: String,
}

pub fn run(args: Args) -> Result<(), BenchError> {
    if let Some(threads) = args.threads {
        if threads == 0 {
            // rayon would read 0 as "choose for me"; a user who types it means something else.
            return Err(BenchError::InvalidOption {
                option: "--threads".into(),
                value: "0".into(),
                reason: "need at least 1 worker thread".into(),
            });
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| BenchError::Unsupported { context: "--threads".into(), reason: e.to_string() })?;
    }
    let mut options =
        ReproduceOptions::presets(args.embeddings.unwrap_or_else(|| workspace_root().join("data")), args.out);
    options.configs = args.config;
    options.backbone = args.backbone;
    for spec in &args.lambdas {
        let (backbone, value) = parse_lambda(spec)?;
        options.lambdas.insert(backbone, value);
    }
    if args.dry_run {
        print!("{}", dry_run_text(&options)?);
        return Ok(());
    }
    options.shard = parse_shard(args.shard.as_deref())?;
    options.overwrite = args.overwrite;
    options.rng_mode = if args.rng == "reference" { RngMode::Reference } else { RngMode::Portable };
    options.progress = !args.no_progress;
    let summary = reproduce(&options)?;
    for warning in &summary.collapse_warnings {
        eprintln!("warning: {warning}");
    }
    for (name, run) in &summary.runs {
        eprintln!(
            "{name}: {} combinations in shard {}, {} already done, {} written",
            run.selected, options.shard, run.skipped, run.written
        );
    }
    eprintln!(
        "grid finished in {:.1} s; records in {}",
        summary.grid_seconds,
        options.out.join("records").display()
    );
    println!("{}", summary.report.to_text());
    eprintln!("wrote {} files to {} (report.md, figures/)", summary.written.len(), options.out.display());
    Ok(())
}
