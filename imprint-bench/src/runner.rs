//! Running an experiment grid on embeddings in the reference layout.
//!
//! Combinations are grouped by the task they need (data combination,
//! few-shot value, seed), each task is built once, and the combinations of a
//! task run in parallel. Every finished combination is written at once as its
//! own record (atomically), so a killed run loses at most the combinations in
//! flight, and a restarted run skips every record already on disk.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Instant;

use imprint::GeneratorSpec;
use imprint_baselines::lambda_for_backbone;
use imprint_core::metrics::{accuracy, per_class_f1};
use imprint_core::{
    Aggregation, AggregationMethod, Centering, Collapse, ImprintedHead, Imprinter, InputNorm, RngMode,
    neural_collapse,
};
use imprint_data::{FewShot, Prefilter, Presampling, PresamplingMethod, Task, TaskSpec};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayView2, CowArray, Ix2};
use rayon::prelude::*;

use imprint_compat::{Combination, DataCombination, ExperimentGrid, Record, Shard, TaskF1s};

use crate::sources::SourceCache;
use crate::store::ResultStore;
use crate::{BenchError, Result};

/// How to run a grid.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Root of the embeddings (`ROOT/embeddings/{Dataset}/{backbone}/...`).
    pub embeddings_root: PathBuf,
    /// The part of the grid this process runs.
    pub shard: Shard,
    /// Lambda per backbone for `ls`/`kls`, overriding the paper's values.
    pub lambdas: BTreeMap<String, f64>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Embeddings loaded so far; clones share it, so grids run with clones of
    /// one `RunOptions` load each file once.
    pub sources: SourceCache,
    /// Whose random draws: portable (the default) or the reference's
    /// (`docs/reference-mode.md`).
    pub rng_mode: RngMode,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunSummary {
    /// Combinations in this shard.
    pub selected: usize,
    /// Combinations skipped because their record exists.
    pub skipped: usize,
    /// Records written.
    pub written: usize,
}

/// Runs the combinations of `grid` in `options.shard` that have no record in
/// `store` yet (all of them if the store overwrites), writing one record each.
///
/// Every combination is translated and checked before anything runs, so a
/// missing lambda or an unsupported setting fails at once. The first failing
/// combination stops the run with an error naming it; records written before
/// are kept.
pub fn run_grid(grid: &ExperimentGrid, store: &ResultStore, options: &RunOptions) -> Result<RunSummary> {
    let selected: Vec<&Combination> = options.shard.select(grid.combinations()).collect();
    let todo: Vec<&Combination> = selected.iter().copied().filter(|c| !store.is_done(c)).collect();
    let mut summary =
        RunSummary { selected: selected.len(), skipped: selected.len() - todo.len(), written: 0 };
    let plans: Vec<Plan> =
        todo.iter().map(|c| plan_of(c, &options.lambdas, options.rng_mode)).collect::<Result<_>>()?;

    // Group by the task each combination needs, keeping grid order.
    let mut groups: Vec<(TaskKey, Vec<usize>)> = Vec::new();
    let mut index: HashMap<TaskKey, usize> = HashMap::new();
    for (i, c) in todo.iter().enumerate() {
        let key = TaskKey::of(c, &plans[i]);
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }

    let bar = progress_bar(todo.len() as u64, options.progress);
    for (key, members) in &groups {
        let task = build_task(&key.data, key.fewshot, key.seed, options)?;
        let queries = TestQueries::new(&task, members.iter().map(|&i| plans[i].input_norm))
            .map_err(|source| BenchError::Imprint { context: format!("task {}", key.describe()), source })?;
        bar.set_message(key.describe());
        let written = members
            .par_iter()
            .map(|&i| {
                let record = run_combination(todo[i], &plans[i], &task, &queries)?;
                store.write(&record)?;
                bar.inc(1);
                Ok(())
            })
            .collect::<Result<Vec<()>>>()?;
        summary.written += written.len();
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// Checks, without loading data or writing anything, that every combination
/// of `grid` in `options.shard` can run: its method settings translate and
/// `ls`/`kls` have a lambda for their backbone. [`run_grid`] makes the same
/// checks before it runs; call this first to fail before creating any output.
pub fn check_grid(grid: &ExperimentGrid, options: &RunOptions) -> Result<()> {
    for c in options.shard.select(grid.combinations()) {
        plan_of(c, &options.lambdas, options.rng_mode)?;
    }
    Ok(())
}

/// The distinct data combinations of `grids` in `shard`, in first-seen order.
pub fn distinct_data<'g>(
    grids: impl IntoIterator<Item = &'g ExperimentGrid>,
    shard: Shard,
) -> Vec<Arc<DataCombination>> {
    let mut seen: Vec<Arc<DataCombination>> = Vec::new();
    for grid in grids {
        for c in shard.select(grid.combinations()) {
            if !seen.iter().any(|d| **d == *c.data) {
                seen.push(c.data.clone());
            }
        }
    }
    seen
}

/// NC1 and VCI of each data combination, on all training samples of its task
/// (L2-normalized, paper formula).
///
/// A task that cannot be built (missing or bad data) is an error. NC1 is a
/// description of the data, not part of a result, so a task whose NC1 is
/// undefined (one class, an all-zero embedding that cannot be normalized,
/// coinciding class means) gets the reason instead of a value.
pub fn task_collapse(
    data: &[Arc<DataCombination>],
    options: &RunOptions,
) -> Result<Vec<(DataCombination, std::result::Result<Collapse, BenchError>)>> {
    data.par_iter()
        .map(|data| {
            let task = build_task(data, -1, 0, options)?;
            let classes: Vec<_> = task.classes().iter().map(|c| c.train()).collect();
            let collapse = neural_collapse(&classes, Centering::Paper)
                .map_err(|source| BenchError::Imprint { context: format!("NC1 of {data}"), source });
            Ok(((**data).clone(), collapse))
        })
        .collect()
}

/// How one combination imprints (through the library's [`Imprinter`], like
/// every other front door) and classifies.
#[derive(Debug)]
struct Plan {
    imprinter: Imprinter,
    input_norm: InputNorm,
    aggregation: Aggregation,
    /// Few shots drawn when the task is built (`-1`: all shots, or the
    /// imprinter presamples itself).
    task_fewshot: i64,
}

/// The test embeddings of a task under each NORMinf its combinations use,
/// normalized once and shared by them.
struct TestQueries<'t> {
    normalized: Vec<(InputNorm, CowArray<'t, f32, Ix2>)>,
}

impl<'t> TestQueries<'t> {
    fn new(task: &'t Task, norms: impl IntoIterator<Item = InputNorm>) -> imprint_core::Result<Self> {
        let mut normalized: Vec<(InputNorm, CowArray<'t, f32, Ix2>)> = Vec::new();
        for norm in norms {
            if !normalized.iter().any(|(n, _)| *n == norm) {
                let what = format!("task '{}', test embeddings", task.name());
                normalized.push((norm, norm.apply_cow(task.test_embeddings(), &what)?));
            }
        }
        Ok(Self { normalized })
    }

    fn get(&self, norm: InputNorm) -> ArrayView2<'_, f32> {
        let (_, q) = self
            .normalized
            .iter()
            .find(|(n, _)| *n == norm)
            .expect("internal: every NORMinf of the task was prepared");
        q.view()
    }
}

/// Imprints the task's classes with the combination's [`Imprinter`], then
/// classifies the test set (normalized once per task, see [`TestQueries`]).
fn run_combination(c: &Combination, plan: &Plan, task: &Task, queries: &TestQueries<'_>) -> Result<Record> {
    let context = || format!("combination {} ({})", c.id(), describe(c));
    let imprint = |source| BenchError::Imprint { context: context(), source };
    let start = Instant::now();
    let mut head =
        ImprintedHead::with_inference(task.dim(), InputNorm::None, plan.aggregation).map_err(imprint)?;
    let classes: Vec<(String, ArrayView2<'_, f32>)> =
        task.classes().iter().map(|class| (class.label().to_string(), class.train())).collect();
    let report = plan.imprinter.imprint_task(&mut head, &classes).map_err(imprint)?;
    let predicted = head.predict(queries.get(plan.input_norm)).map_err(imprint)?;
    let accuracy = 100.0 * accuracy(&predicted, task.test_labels()).map_err(imprint)?;
    let f1 = per_class_f1(&predicted, task.test_labels(), task.n_classes()).map_err(imprint)?;
    let f1s = TaskF1s {
        remapped_class_index: f1.iter().map(|f| f.class as i64).collect(),
        one_vs_rest_f1: f1.iter().map(|f| 100.0 * f.f1).collect(),
        class_size: f1.iter().map(|f| f.support as u64).collect(),
    };
    Ok(Record::new(c.clone(), accuracy, f1s, start.elapsed().as_secs_f64(), report.gen_seconds))
}

/// The task a combination runs on. The seed only draws the few shots, so
/// with all shots (`-1`) every seed shares one task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TaskKey {
    data: Arc<DataCombination>,
    fewshot: i64,
    seed: u64,
}

impl TaskKey {
    fn describe(&self) -> String {
        match self.fewshot {
            -1 => format!("{} (all shots)", self.data),
            n => format!("{} ({n} shots, seed {})", self.data, self.seed),
        }
    }

    fn of(c: &Combination, plan: &Plan) -> Self {
        let fewshot = plan.task_fewshot;
        Self { data: c.data.clone(), fewshot, seed: if fewshot == -1 { 0 } else { c.seed } }
    }
}

fn build_task(data: &DataCombination, fewshot: i64, seed: u64, options: &RunOptions) -> Result<Task> {
    let context = format!("task {data} (shots {fewshot}, seed {seed})");
    let unsupported = |reason: String| BenchError::Unsupported { context: context.clone(), reason };
    let [split] = data.task_splits.as_slice() else {
        return Err(unsupported(format!(
            "{} task splits given; a record covers exactly one task (as in the reference)",
            data.task_splits.len()
        )));
    };
    let labels = |values: &[i64], what: &str| -> Result<Vec<usize>> {
        values
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| unsupported(format!("{what} label {v} is negative"))))
            .collect()
    };
    let mut spec = TaskSpec::new(&data.task_name)
        .split(labels(split, "task split")?)
        .shots(
            FewShot::from_reference(fewshot)
                .map_err(|source| BenchError::Data { context: context.clone(), source })?,
        )
        .seed(seed);
    if !data.mapping.is_identity() {
        spec = spec.mapping(data.mapping.clone());
    }
    let sources = options.sources.get(&options.embeddings_root, &data.backbone_name, &data.dataset_name)?;
    spec.build(&sources).map_err(|source| BenchError::Data { context, source })
}

/// The [`Imprinter`] and inference settings of a combination: the one
/// place where the reference's keys become the library's stages.
///
/// Few-shot presampling with `all` happens when the task is built, on each
/// label's own stream (as every portable record so far). The reference's
/// order (`weibull` filter, then few shots, interleaved with GEN on one torch
/// generator in reference mode) is the imprinter's presampling stage.
fn plan_of(c: &Combination, lambdas: &BTreeMap<String, f64>, rng_mode: RngMode) -> Result<Plan> {
    let p = &c.params;
    let context = || format!("combination {} ({})", c.id(), describe(c));
    let unsupported = |reason: String| BenchError::Unsupported { context: context(), reason };
    let imprint = |source| BenchError::Imprint { context: context(), source };
    let k = match p.k {
        -1 => None,
        k if k >= 1 => Some(k as usize),
        k => return Err(unsupported(format!("k = {k} is neither -1 nor positive"))),
    };
    let spec = if imprint::JOINT_NAMES.contains(&p.proxy_method) {
        let lambda = lambdas
            .get(&c.data.backbone_name)
            .copied()
            .or_else(|| lambda_for_backbone(&c.data.backbone_name))
            .ok_or_else(|| {
                unsupported(format!(
                    "backbone '{}' has no known lambda for {}; pass --lambda {}=VALUE",
                    c.data.backbone_name, p.proxy_method, c.data.backbone_name
                ))
            })?;
        GeneratorSpec::oracle(p.proxy_method, k, lambda)
    } else {
        GeneratorSpec::new(p.proxy_method, k)
    };
    let aggregation = match p.aggregation_method {
        AggregationMethod::Max => Aggregation::Max { distance: p.aggregation_distance_function },
        AggregationMethod::Mnn => {
            let m = usize::try_from(p.m).map_err(|_| unsupported(format!("m = {} for mnn", p.m)))?;
            Aggregation::mnn(m, p.aggregation_distance_function, p.aggregation_weighting).map_err(imprint)?
        }
    };
    let mut imprinter = Imprinter::from_generator(spec.build_with(rng_mode, c.seed).map_err(imprint)?)
        .with_pre_norm(p.normalize_for_proxy_selection)
        .with_post_norm(p.normalize_weights)
        .with_seed(c.seed)
        .with_rng_mode(rng_mode);
    let fewshot = match p.presampling_fewshot_value {
        -1 => None,
        n if n >= 1 => Some(n as usize),
        n => return Err(unsupported(format!("presampling_fewshot_value = {n} is neither -1 nor positive"))),
    };
    let prefilter = match p.presampling_method {
        PresamplingMethod::All => Prefilter::All,
        PresamplingMethod::Weibull => {
            let q = p.presampling_quantiles_value;
            Prefilter::Weibull(q.low().value(), q.high().value())
        }
    };
    let task_fewshot = if rng_mode == RngMode::Portable && prefilter == Prefilter::All {
        p.presampling_fewshot_value
    } else {
        imprinter = imprinter.with_presampler(Presampling { prefilter, fewshot });
        -1
    };
    Ok(Plan { imprinter, input_norm: p.normalize_input_data, aggregation, task_fewshot })
}

/// A short description of a combination for messages.
pub fn describe(c: &Combination) -> String {
    let p = &c.params;
    format!(
        "{} / {} k={} / {} / {} / {} {} m={} {}, shots {}, seed {}, data {}",
        p.normalize_for_proxy_selection,
        p.proxy_method,
        p.k,
        p.normalize_weights,
        p.normalize_input_data,
        p.aggregation_method,
        p.aggregation_distance_function,
        p.m,
        p.aggregation_weighting,
        p.presampling_fewshot_value,
        c.seed,
        c.data
    )
}

fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {wide_msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use imprint_compat::ExperimentConfig;

    #[test]
    fn check_grid_fails_on_a_missing_lambda_without_touching_data() {
        let text = r#"{"backbones": ["toynet"], "datasets": [["Nowhere"]], "proxy_methods": ["mean", "ls"]}"#;
        let grid = ExperimentGrid::new(&ExperimentConfig::from_yaml_str(text, "c.yaml").unwrap());
        let mut options = RunOptions {
            embeddings_root: PathBuf::from("/nonexistent"),
            shard: Shard::ALL,
            lambdas: BTreeMap::new(),
            progress: false,
            sources: SourceCache::new(),
            rng_mode: RngMode::Portable,
        };
        let err = check_grid(&grid, &options).unwrap_err();
        assert!(matches!(err, BenchError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("--lambda toynet=VALUE"), "{err}");
        options.lambdas.insert("toynet".into(), 0.1);
        check_grid(&grid, &options).unwrap();
    }
}
