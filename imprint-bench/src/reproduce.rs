//! `cargo xtask reproduce` and `cargo xtask report` as library functions:
//! run the paper's grids on embeddings, then render the report.
//!
//! Everything that can be checked is checked before anything is written:
//! every setting of every combination, and every task (loaded, built and its
//! NC1 computed). Bad input therefore leaves no output at all, not even an
//! empty folder. Then records are written one by one (resumable, see
//! [`crate::runner`]), then `neural_collapse.json`, `report.md` and
//! `figures/`, each atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use imprint_compat::{DataCombination, ExperimentConfig, ExperimentGrid, Shard, load_all};
use imprint_core::{Collapse, RngMode};
use imprint_report::{Report, TaskCollapse, read_collapse, render, write_collapse, write_report};

use crate::presets::{preset_configs, preset_lambdas};
use crate::runner::{RunOptions, RunSummary, check_grid, distinct_data, run_grid, task_collapse};
use crate::sources::SourceCache;
use crate::store::ResultStore;
use crate::{BenchError, Result};

/// File name of the NC1 values beside the records.
pub const COLLAPSE_FILE: &str = "neural_collapse.json";

/// What to reproduce, and where.
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    /// Root of the embeddings in the reference layout.
    pub embeddings: PathBuf,
    /// Config files in the reference's format; empty: every bundled preset.
    pub configs: Vec<PathBuf>,
    /// Output folder: `records/`, `neural_collapse.json`, `report.md`, `figures/`.
    pub out: PathBuf,
    /// The part of the grid this process runs.
    pub shard: Shard,
    /// Lambda per backbone for `ls`/`kls` (beside the paper's and, for the
    /// presets, the bundled backbone's).
    pub lambdas: BTreeMap<String, f64>,
    /// Recompute and replace existing records.
    pub overwrite: bool,
    /// Draw a progress bar (on a terminal) and say on stderr when the tasks are loaded.
    pub progress: bool,
    /// Whose random draws: portable (the default) or the reference's.
    pub rng_mode: RngMode,
    /// Run only this backbone of every config (each must list it).
    pub backbone: Option<String>,
}

impl ReproduceOptions {
    /// Every preset on the embeddings under `embeddings`, into `out`, whole grid.
    pub fn presets(embeddings: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Self {
            embeddings: embeddings.into(),
            configs: Vec::new(),
            out: out.into(),
            shard: Shard::ALL,
            lambdas: BTreeMap::new(),
            overwrite: false,
            progress: false,
            rng_mode: RngMode::Portable,
            backbone: None,
        }
    }

    /// The named configs: the presets, or the given files; restricted to
    /// [`Self::backbone`] if set.
    fn named_configs(&self) -> Result<Vec<(String, ExperimentConfig)>> {
        let configs: Vec<(String, ExperimentConfig)> = if self.configs.is_empty() {
            preset_configs()?.into_iter().map(|(n, c)| (format!("preset {n}"), c)).collect()
        } else {
            self.configs
                .iter()
                .map(|p| Ok((p.display().to_string(), ExperimentConfig::from_path(p)?)))
                .collect::<Result<_>>()?
        };
        match &self.backbone {
            None => Ok(configs),
            Some(backbone) => {
                configs.into_iter().map(|(name, c)| Ok((name, c.only_backbone(backbone)?))).collect()
            }
        }
    }

    /// The lambdas: the presets' own, then the user's.
    fn all_lambdas(&self) -> BTreeMap<String, f64> {
        let mut lambdas = if self.configs.is_empty() { preset_lambdas() } else { BTreeMap::new() };
        lambdas.extend(self.lambdas.iter().map(|(k, v)| (k.clone(), *v)));
        lambdas
    }
}

/// What [`reproduce`] did.
#[derive(Debug)]
pub struct ReproduceSummary {
    /// Per config: its name and what the run did in this shard.
    pub runs: Vec<(String, RunSummary)>,
    /// Tasks whose NC1 is undefined, with the reason (left out of `neural_collapse.json`).
    pub collapse_warnings: Vec<String>,
    /// The rendered report.
    pub report: Report,
    /// The report's files, `report.md` first.
    pub written: Vec<PathBuf>,
    /// Seconds spent loading and checking tasks (with NC1) and running the grids.
    pub grid_seconds: f64,
}

/// The number of combinations of each config (after pruning and seeds), in order.
pub fn dry_run(options: &ReproduceOptions) -> Result<Vec<(String, usize)>> {
    Ok(options.named_configs()?.into_iter().map(|(name, c)| (name, ExperimentGrid::new(&c).len())).collect())
}

/// The grids of `options.configs` (or the presets) as [`dry_run`] counts them, with their dry-run text.
pub fn dry_run_text(options: &ReproduceOptions) -> Result<String> {
    let mut text = String::new();
    let mut total = 0;
    for (name, config) in options.named_configs()? {
        let grid = ExperimentGrid::new(&config);
        text.push_str(&format!("{name}:\n{}\n", grid.dry_run()));
        total += grid.len();
    }
    text.push_str(&format!("total over all configs: {total} combinations\n"));
    Ok(text)
}

/// Runs the grids and writes records, NC1 and the report (see the module docs).
pub fn reproduce(options: &ReproduceOptions) -> Result<ReproduceSummary> {
    let configs = options.named_configs()?;
    let grids: Vec<(String, ExperimentGrid)> =
        configs.iter().map(|(n, c)| (n.clone(), ExperimentGrid::new(c))).collect();
    let run = RunOptions {
        embeddings_root: options.embeddings.clone(),
        shard: options.shard,
        lambdas: options.all_lambdas(),
        progress: options.progress,
        sources: SourceCache::new(),
        rng_mode: options.rng_mode,
    };
    let start = Instant::now();
    for (_, grid) in &grids {
        check_grid(grid, &run)?;
    }
    let tasks = distinct_data(grids.iter().map(|(_, g)| g), options.shard);
    let described = task_collapse(&tasks, &run)?;
    if options.progress {
        eprintln!(
            "{} tasks loaded and checked, NC1 computed, in {:.1} s",
            tasks.len(),
            start.elapsed().as_secs_f64()
        );
    }
    let mut collapse = Vec::new();
    let mut collapse_warnings = Vec::new();
    for (data, c) in described {
        match c {
            Ok(c) => collapse.push((data, c)),
            Err(err) => collapse_warnings.push(format!("{err}; {COLLAPSE_FILE} leaves this task out")),
        }
    }
    let records = options.out.join("records");
    let store = ResultStore::open_for(&records, options.overwrite, options.rng_mode)?;
    let mut runs = Vec::new();
    for (name, grid) in &grids {
        runs.push((name.clone(), run_grid(grid, &store, &run)?));
    }
    let grid_seconds = start.elapsed().as_secs_f64();
    let (report, written) = write_collapse_and_report(&options.out, &records, &collapse)?;
    Ok(ReproduceSummary { runs, collapse_warnings, report, written, grid_seconds })
}

/// Writes `neural_collapse.json`, then renders the records in `records` into `out`.
pub fn write_collapse_and_report(
    out: &Path,
    records: &Path,
    collapse: &[(DataCombination, Collapse)],
) -> Result<(Report, Vec<PathBuf>)> {
    let collapse: Vec<TaskCollapse> = collapse
        .iter()
        .map(|(d, c)| TaskCollapse {
            backbone_name: d.backbone_name.clone(),
            dataset_name: d.dataset_name.clone(),
            mapping_name: d.mapping_name.clone(),
            task_name: d.task_name.clone(),
            nc1: c.nc1,
            vci: c.vci,
        })
        .collect();
    write_collapse(out.join(COLLAPSE_FILE), &collapse)?;
    render_and_write(records, out, &collapse)
}

/// `cargo xtask report`: renders the records in `results` into `out`
/// (default: the parent of `results`), with NC1 from `collapse` or from
/// `neural_collapse.json` in `out` when present.
pub fn report(results: &Path, out: Option<&Path>, collapse: Option<&Path>) -> Result<(Report, Vec<PathBuf>)> {
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| {
        results.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(results).to_path_buf()
    });
    let default_collapse = out.join(COLLAPSE_FILE);
    let collapse = match collapse {
        Some(path) => read_collapse(path)?,
        None if default_collapse.exists() => read_collapse(&default_collapse)?,
        None => Vec::new(),
    };
    render_and_write(results, &out, &collapse)
}

fn render_and_write(records: &Path, out: &Path, collapse: &[TaskCollapse]) -> Result<(Report, Vec<PathBuf>)> {
    let records = load_all(records)?;
    let report = render(&records, collapse)?;
    let written = write_report(&report, out)?;
    Ok((report, written))
}

/// Parses `BACKBONE=VALUE` (a `--lambda` option).
pub fn parse_lambda(spec: &str) -> Result<(String, f64)> {
    let bad = |reason: &str| BenchError::InvalidOption {
        option: "--lambda".into(),
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

/// The shard of `--shard`: `I/N`; `/N` takes I from `JOB_COMPLETION_INDEX`
/// (Kubernetes Indexed Jobs) or `SLURM_ARRAY_TASK_ID`; none is the whole grid.
pub fn parse_shard(spec: Option<&str>) -> Result<Shard> {
    match spec {
        None => Ok(Shard::ALL),
        Some(s) if s.starts_with('/') => {
            let count =
                s[1..].trim().parse::<usize>().map_err(|_| imprint_compat::CompatError::InvalidShard {
                    spec: s.to_string(),
                    reason: "expected /COUNT with the index from the environment".into(),
                })?;
            Ok(Shard::from_env(count)?.ok_or_else(|| imprint_compat::CompatError::InvalidShard {
                spec: s.to_string(),
                reason: "neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set".into(),
            })?)
        }
        Some(s) => Ok(Shard::parse(s)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_presets_count() {
        assert_eq!(parse_lambda("resnet18=1e-4").unwrap(), ("resnet18".into(), 1e-4));
        for bad in ["resnet18", "x=abc", "x=-1", "x=inf"] {
            assert!(matches!(parse_lambda(bad), Err(BenchError::InvalidOption { .. })), "{bad}");
        }
        assert_eq!(parse_shard(None).unwrap(), Shard::ALL);
        assert_eq!(parse_shard(Some("1/3")).unwrap(), Shard::parse("1/3").unwrap());
        assert!(parse_shard(Some("/x")).is_err());
        let counts = dry_run(&ReproduceOptions::presets("data", "out")).unwrap();
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<usize>(), 2190);
        assert!(
            dry_run_text(&ReproduceOptions::presets("data", "out"))
                .unwrap()
                .contains("total over all configs: 2190")
        );
    }

    /// A run over a tiny synthetic task writes records, NC1 and a report;
    /// bad data leaves nothing behind.
    #[test]
    fn reproduces_and_fails_before_writing() {
        use imprint_data::{Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};
        let root = tempfile::tempdir().unwrap();
        let data = SyntheticParams::new(3, 2, 8).n_train(12).n_test(6).generate(5).unwrap();
        for (split, part) in [(Split::Train, &data.train), (Split::Test, &data.test)] {
            write_embeddings(reference_path(root.path(), "Toy", "toynet", split), part, &WriteOptions::new())
                .unwrap();
        }
        let config = root.path().join("c.yaml");
        std::fs::write(&config, r#"{"backbones": ["toynet"], "datasets": [["Toy"]], "task_splits": {"t": [[0, 1, 2]]}, "seeds": [1, 2], "proxy_methods": ["mean", "kmeans"], "ks": [2]}"#).unwrap();
        let out = root.path().join("out");
        let mut options =
            ReproduceOptions { configs: vec![config], ..ReproduceOptions::presets(root.path(), &out) };
        let summary = reproduce(&options).unwrap();
        assert_eq!(summary.runs[0].1.written, 4);
        assert!(out.join(COLLAPSE_FILE).is_file() && out.join("report.md").is_file());
        assert_eq!(load_all(out.join("records")).unwrap().len(), 4);
        let again = reproduce(&options).unwrap();
        assert_eq!(
            (again.runs[0].1.skipped, again.runs[0].1.written),
            (4, 0),
            "finished records are skipped"
        );
        options.embeddings = root.path().join("missing");
        options.out = root.path().join("out2");
        assert!(reproduce(&options).is_err());
        assert!(!options.out.exists(), "an error before the grid creates nothing");
    }
}
