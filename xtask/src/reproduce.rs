//! `cargo xtask reproduce`: run grids, then report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use imprint_bench::presets::{preset_configs, preset_lambdas};
use imprint_bench::runner::{RunOptions, check_grid, distinct_data, run_grid, task_collapse};
use imprint_bench::sources::SourceCache;
use imprint_bench::{BenchError, ExperimentConfig, ExperimentGrid, ResultStore, Shard};

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
    /// Run only shard I of N ("I/N", 0-based). With just "/N" or without the
    /// flag, the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Jobs) or SLURM_ARRAY_TASK_ID, if set.
    #[arg(long)]
    shard: Option<String>,
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
}

pub fn run(args: Args) -> Result<(), BenchError> {
    if let Some(threads) = args.threads {
        if threads == 0 {
            // rayon would read 0 as "choose for me"; a user who types it means something else.
            return Err(BenchError::InvalidValue {
                source_name: "command line".into(),
                key: "--threads".into(),
                value: "0".into(),
                reason: "need at least 1 worker thread".into(),
            });
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| BenchError::Unsupported { context: "--threads".into(), reason: e.to_string() })?;
    }
    let presets = args.config.is_empty();
    let configs: Vec<(String, ExperimentConfig)> = if presets {
        preset_configs()?.into_iter().map(|(n, c)| (format!("preset {n}"), c)).collect()
    } else {
        args.config
            .iter()
            .map(|p| Ok((p.display().to_string(), ExperimentConfig::from_path(p)?)))
            .collect::<Result<_, BenchError>>()?
    };
    let mut lambdas = if presets { preset_lambdas() } else { BTreeMap::new() };
    for spec in &args.lambdas {
        let (backbone, value) = parse_lambda(spec)?;
        lambdas.insert(backbone, value);
    }
    let grids: Vec<(String, ExperimentGrid)> =
        configs.iter().map(|(name, c)| (name.clone(), ExperimentGrid::new(c))).collect();

    if args.dry_run {
        let mut total = 0;
        for (name, grid) in &grids {
            println!("{name}:\n{}", grid.dry_run());
            total += grid.len();
        }
        println!("total over all configs: {total} combinations");
        return Ok(());
    }

    let shard = resolve_shard(args.shard.as_deref())?;
    let root = args.embeddings.unwrap_or_else(|| workspace_root().join("data"));
    let records = args.out.join("records");
    let options = RunOptions {
        embeddings_root: root.clone(),
        shard,
        lambdas,
        progress: !args.no_progress,
        sources: SourceCache::new(),
    };
    // Check every setting and load and check every task before anything is written:
    // bad input then leaves no output at all, not even an empty folder. NC1 is only
    // described: a task where it is undefined is reported and left out of it.
    let start = Instant::now();
    let mut collapse = Vec::new();
    for (_, grid) in &grids {
        check_grid(grid, &options)?;
    }
    let tasks = distinct_data(grids.iter().map(|(_, g)| g), shard);
    let described = task_collapse(&tasks, &options)?;
    eprintln!(
        "{} tasks loaded and checked, NC1 computed, in {:.1} s",
        tasks.len(),
        start.elapsed().as_secs_f64()
    );
    for (data, c) in described {
        match c {
            Ok(c) => collapse.push((data, c)),
            Err(err) => eprintln!("warning: {err}; neural_collapse.json leaves this task out"),
        }
    }
    let store = ResultStore::open(&records, args.overwrite)?;
    for (name, grid) in &grids {
        let summary = run_grid(grid, &store, &options)?;
        eprintln!(
            "{name}: {} combinations in shard {shard}, {} already done, {} written",
            summary.selected, summary.skipped, summary.written
        );
    }
    eprintln!("grid finished in {:.1} s; records in {}", start.elapsed().as_secs_f64(), records.display());
    crate::report::write_collapse_and_report(&args.out, &records, &collapse)
}

fn parse_lambda(spec: &str) -> Result<(String, f64), BenchError> {
    let bad = |reason: &str| BenchError::InvalidValue {
        source_name: "command line".into(),
        key: "--lambda".into(),
        value: spec.to_string(),
        reason: reason.to_string(),
    };
    let (backbone, value) = spec.split_once('=').ok_or_else(|| bad("expected BACKBONE=VALUE"))?;
    let value: f64 = value.trim().parse().map_err(|_| bad("VALUE is not a number"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad("lambda must be finite and >= 0"));
    }
    Ok((backbone.trim().to_string(), value))
}

fn resolve_shard(spec: Option<&str>) -> Result<Shard, BenchError> {
    match spec {
        None => Ok(Shard::ALL),
        Some(s) if s.starts_with('/') => {
            let count = s[1..].trim().parse::<usize>().map_err(|_| BenchError::InvalidShard {
                spec: s.to_string(),
                reason: "expected /COUNT with the index from the environment".into(),
            })?;
            Shard::from_env(count)?.ok_or_else(|| BenchError::InvalidShard {
                spec: s.to_string(),
                reason: "neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set".into(),
            })
        }
        Some(s) => Shard::parse(s),
    }
}
