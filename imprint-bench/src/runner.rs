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
    AggregateExt, Aggregation, AggregationMethod, Centering, Collapse, Distance, Generated, ImprintedHead,
    Imprinter, InputNorm, Neighbours, RngMode, WeightNorm, Weighting, neural_collapse,
};
use imprint_data::{FewShot, Prefilter, Presampling, PresamplingMethod, Task, TaskSpec};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayView2, CowArray, Ix2};
use rayon::prelude::*;

use imprint_compat::{Combination, DataCombination, ExperimentGrid, MethodParams, Record, Shard, TaskF1s};

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
/// Work is shared between the combinations of this run (see
/// [`SharedWork`]): each task is built once; proxies once per distinct
/// NORMpre, GEN, k, presampling, NORMpost (and seed, where the generator or
/// the presampling draws random numbers); and one nearest-neighbour search
/// per distinct proxies, NORMinf and m-nn distance, at the largest `m` its
/// combinations need. Records are the same, bit for bit in every
/// non-timing field, as those of [`run_grid_unshared`].
///
/// Every combination is translated and checked before anything runs, so a
/// missing lambda or an unsupported setting fails at once. The first failing
/// combination stops the run with an error naming it; records written before
/// are kept.
pub fn run_grid(grid: &ExperimentGrid, store: &ResultStore, options: &RunOptions) -> Result<RunSummary> {
    run(grid, store, options, true)
}

/// [`run_grid`] without sharing: every combination imprints its own proxies
/// and runs its own aggregation. Slower; kept as the plain reference that
/// the shared runner is tested against.
pub fn run_grid_unshared(
    grid: &ExperimentGrid,
    store: &ResultStore,
    options: &RunOptions,
) -> Result<RunSummary> {
    run(grid, store, options, false)
}

fn run(grid: &ExperimentGrid, store: &ResultStore, options: &RunOptions, share: bool) -> Result<RunSummary> {
    let selected: Vec<&Combination> = options.shard.select(grid.combinations()).collect();
    let todo: Vec<&Combination> = selected.iter().copied().filter(|c| !store.is_done(c)).collect();
    let mut summary =
        RunSummary { selected: selected.len(), skipped: selected.len() - todo.len(), written: 0 };
    let plans: Vec<Plan> =
        todo.iter().map(|c| plan_of(c, &options.lambdas, options.rng_mode)).collect::<Result<_>>()?;

    // Group by the task each combination needs, keeping grid order.
    let groups = group_by(0..todo.len(), |&i| TaskKey::of(todo[i], &plans[i]));

    let bar = progress_bar(todo.len() as u64, options.progress);
    for (key, members) in &groups {
        let task = build_task(&key.data, key.fewshot, key.seed, options)?;
        let queries = TestQueries::new(&task, members.iter().map(|&i| plans[i].input_norm))
            .map_err(|source| BenchError::Imprint { context: format!("task {}", key.describe()), source })?;
        bar.set_message(key.describe());
        let finished = |record: Record| -> Result<()> {
            store.write(&record)?;
            bar.inc(1);
            Ok(())
        };
        let written = if share {
            let work = SharedWork { todo: &todo, plans: &plans, task: &task, queries: &queries };
            let by_generation =
                group_by(members.iter().copied(), |&i| ProxyKey::of(todo[i], &plans[i]).generation());
            by_generation
                .par_iter()
                .map(|(_, users)| work.run_generation(users, &finished))
                .collect::<Result<Vec<usize>>>()?
                .into_iter()
                .sum()
        } else {
            members
                .par_iter()
                .map(|&i| finished(run_combination(todo[i], &plans[i], &task, &queries)?))
                .collect::<Result<Vec<()>>>()?
                .len()
        };
        summary.written += written;
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// `items` grouped by `key`, groups in order of first appearance, items in order.
fn group_by<T, K: Clone + Eq + std::hash::Hash>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, Vec<T>)> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    for item in items {
        let k = key(&item);
        let g = *index.entry(k.clone()).or_insert_with(|| {
            groups.push((k, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(item);
    }
    groups
}

/// What the combinations of one task share: NORMpre and GEN for every
/// NORMpost, the proxies of a [`ProxyKey`], and for m-nn one neighbour
/// search per NORMinf and distance at the largest `m` needed
/// ([`Neighbours`]), from which every `m` and weighting votes.
///
/// Timing under sharing: a record's `total_GEN_time` is the GEN time of
/// the one generation that made its proxies (every combination that shares
/// them reports the same number), and its `runtime` is the time of that
/// generation and of its NORMpost, plus the time of the neighbour search it used (m-nn), plus
/// its own aggregation, prediction and metrics: what the combination would
/// have taken alone, with its neighbours searched at the largest `m` of its
/// group. Summed over records, runtimes therefore count shared work once per
/// sharer; the wall time of the run is smaller.
struct SharedWork<'a, 't> {
    todo: &'a [&'a Combination],
    plans: &'a [Plan],
    task: &'t Task,
    queries: &'a TestQueries<'t>,
}

impl SharedWork<'_, '_> {
    /// NORMpre and GEN once for `users` (combinations whose proxies differ at
    /// most in NORMpost), then, per NORMpost, the rest of the imprinting (what
    /// [`Imprinter::imprint_task`] does after [`Imprinter::generate`]) and
    /// the combinations; returns the number of records written.
    fn run_generation(
        &self,
        users: &[usize],
        finished: &(impl Fn(Record) -> Result<()> + Sync),
    ) -> Result<usize> {
        let first = users[0];
        let start = Instant::now();
        let shots: Vec<ArrayView2<'_, f32>> = self.task.classes().iter().map(|class| class.train()).collect();
        let positions: Vec<usize> = (0..shots.len()).collect();
        let generated =
            self.plans[first].imprinter.generate(&shots, &positions).map_err(self.imprint_error(first))?;
        let generation_seconds = start.elapsed().as_secs_f64();
        let by_proxies = group_by(users.iter().copied(), |&i| ProxyKey::of(self.todo[i], &self.plans[i]));
        by_proxies
            .par_iter()
            .map(|(_, users)| self.run_proxies(users, &generated, generation_seconds, finished))
            .collect::<Result<Vec<usize>>>()
            .map(|n| n.into_iter().sum())
    }

    fn imprint_error(&self, i: usize) -> impl Fn(imprint_core::ImprintError) -> BenchError + '_ {
        move |source| BenchError::Imprint {
            context: format!("combination {} ({})", self.todo[i].id(), describe(self.todo[i])),
            source,
        }
    }

    /// NORMpost of the generated proxies into a head, class by class in task
    /// order (quantile NORMpost depends on the weights imprinted before), for
    /// `users` (combinations with one [`ProxyKey`]), then runs each of them.
    fn run_proxies(
        &self,
        users: &[usize],
        generated: &Generated,
        generation_seconds: f64,
        finished: &(impl Fn(Record) -> Result<()> + Sync),
    ) -> Result<usize> {
        let first = users[0];
        let imprint = self.imprint_error(first);
        let start = Instant::now();
        let plan = &self.plans[first];
        let mut head = ImprintedHead::with_inference(self.task.dim(), InputNorm::None, plan.aggregation)
            .map_err(&imprint)?;
        for (class, proxies) in self.task.classes().iter().zip(&generated.proxies) {
            let proxies = plan.imprinter.post_normalize(proxies.view(), head.weights()).map_err(&imprint)?;
            head.add_class(class.label().to_string(), proxies.view()).map_err(&imprint)?;
        }
        let imprinted = Imprinted {
            head: &head,
            proxy_classes: head.proxy_classes(),
            seconds: generation_seconds + start.elapsed().as_secs_f64(),
            gen_seconds: generated.gen_seconds,
        };
        let searches = group_by(users.iter().copied(), |&i| SearchKey::of(&self.plans[i], i));
        searches
            .par_iter()
            .map(|(key, members)| self.run_search(key, members, &imprinted, finished))
            .collect::<Result<Vec<usize>>>()
            .map(|n| n.into_iter().sum())
    }

    /// Runs the combinations of one search group on the shared proxies.
    fn run_search(
        &self,
        key: &SearchKey,
        members: &[usize],
        imprinted: &Imprinted<'_>,
        finished: &(impl Fn(Record) -> Result<()> + Sync),
    ) -> Result<usize> {
        let head = imprinted.head;
        let (n_classes, weights) = (head.n_classes(), head.weights());
        let queries = self.queries.get(key.input_norm);
        let imprint = |i: usize| {
            let c = self.todo[i];
            move |source| BenchError::Imprint {
                context: format!("combination {} ({})", c.id(), describe(c)),
                source,
            }
        };
        match key.distance {
            None => {
                // `max`: one combination per key, nothing more to share.
                let mut n = 0;
                for &i in members {
                    let start = Instant::now();
                    let predicted = self.plans[i]
                        .aggregation
                        .predict(weights, &imprinted.proxy_classes, n_classes, queries)
                        .map_err(imprint(i))?;
                    let seconds = imprinted.seconds + start.elapsed().as_secs_f64();
                    finished(self.record(i, &predicted, seconds, imprinted.gen_seconds)?)?;
                    n += 1;
                }
                Ok(n)
            }
            Some(distance) => {
                let m_max = members
                    .iter()
                    .map(|&i| match self.plans[i].aggregation {
                        Aggregation::Mnn(p) => p.m(),
                        Aggregation::Max { .. } => 1,
                    })
                    .max()
                    .unwrap_or(1);
                let start = Instant::now();
                let found =
                    Neighbours::search(distance, m_max, weights, queries).map_err(imprint(members[0]))?;
                let searched = start.elapsed().as_secs_f64();
                for &i in members {
                    let start = Instant::now();
                    let Aggregation::Mnn(params) = self.plans[i].aggregation else {
                        unreachable!("internal: a search group holds m-nn combinations only")
                    };
                    let predicted =
                        found.predict(&params, &imprinted.proxy_classes, n_classes).map_err(imprint(i))?;
                    let seconds = imprinted.seconds + searched + start.elapsed().as_secs_f64();
                    finished(self.record(i, &predicted, seconds, imprinted.gen_seconds)?)?;
                }
                Ok(members.len())
            }
        }
    }

    fn record(&self, i: usize, predicted: &[usize], runtime: f64, gen_seconds: f64) -> Result<Record> {
        let c = self.todo[i];
        let imprint = |source| BenchError::Imprint {
            context: format!("combination {} ({})", c.id(), describe(c)),
            source,
        };
        let start = Instant::now();
        let (accuracy, f1s) = metrics_of(predicted, self.task).map_err(imprint)?;
        Ok(Record::new(c.clone(), accuracy, f1s, runtime + start.elapsed().as_secs_f64(), gen_seconds))
    }
}

/// Proxies imprinted once for a [`ProxyKey`].
struct Imprinted<'h> {
    head: &'h ImprintedHead,
    proxy_classes: Vec<usize>,
    /// Seconds of the whole imprinting (NORMpre, presampling, GEN, NORMpost).
    seconds: f64,
    /// Seconds of GEN alone.
    gen_seconds: f64,
}

/// Generators whose proxies do not depend on the seed (the reference's
/// deterministic `select_proxies` methods).
pub const DETERMINISTIC_GENERATORS: [&str; 5] = ["all", "mean", "kmedoids", "cov_max", "ls"];

/// What the proxies of a combination depend on within one task: everything
/// but NORMinf and AGG, and the seed only where something draws random
/// numbers (the generator, or presampling inside the imprinter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProxyKey {
    params: MethodParams,
    seed: Option<u64>,
}

impl ProxyKey {
    /// What the generated proxies (before NORMpost) depend on: this key
    /// without NORMpost.
    fn generation(mut self) -> Self {
        self.params.normalize_weights = WeightNorm::None;
        self
    }

    fn of(c: &Combination, plan: &Plan) -> Self {
        let mut params = c.params;
        params.aggregation_distance_function = Distance::InnerProduct;
        params.aggregation_method = AggregationMethod::Max;
        params.aggregation_weighting = Weighting::Uniform;
        params.m = -1;
        params.normalize_input_data = InputNorm::None;
        let draws = plan.presampling_draws || !DETERMINISTIC_GENERATORS.contains(&params.proxy_method);
        Self { params, seed: draws.then_some(c.seed) }
    }
}

/// One aggregation over shared proxies: `max` combinations each on their
/// own (`distance: None`, keyed by their position), m-nn combinations by
/// NORMinf and ranking distance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SearchKey {
    input_norm: InputNorm,
    distance: Option<Distance>,
    max_index: Option<usize>,
}

impl SearchKey {
    fn of(plan: &Plan, i: usize) -> Self {
        match plan.aggregation {
            Aggregation::Max { .. } => {
                Self { input_norm: plan.input_norm, distance: None, max_index: Some(i) }
            }
            Aggregation::Mnn(p) => {
                Self { input_norm: plan.input_norm, distance: Some(p.ranking_distance()), max_index: None }
            }
        }
    }
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
    /// Whether the imprinter's presampling may draw random numbers (a
    /// few-shot draw or a Weibull filter; keeping all shots draws nothing).
    presampling_draws: bool,
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
    let (accuracy, f1s) = metrics_of(&predicted, task).map_err(imprint)?;
    Ok(Record::new(c.clone(), accuracy, f1s, start.elapsed().as_secs_f64(), report.gen_seconds))
}

/// Accuracy (%) and per-class F1 (%) of `predicted` on the task's test labels.
fn metrics_of(predicted: &[usize], task: &Task) -> imprint_core::Result<(f64, TaskF1s)> {
    let accuracy = 100.0 * accuracy(predicted, task.test_labels())?;
    let f1 = per_class_f1(predicted, task.test_labels(), task.n_classes())?;
    let f1s = TaskF1s {
        remapped_class_index: f1.iter().map(|f| f.class as i64).collect(),
        one_vs_rest_f1: f1.iter().map(|f| 100.0 * f.f1).collect(),
        class_size: f1.iter().map(|f| f.support as u64).collect(),
    };
    Ok((accuracy, f1s))
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
        AggregationMethod::Max => match p.aggregation_distance_function {
            Distance::InnerProduct => Aggregation::max(),
            // The reference's `forward`: `max` under any other distance is
            // 1-nearest-neighbour (`mnn` with m = 1), ties to the lower proxy
            // index. So it shares the neighbour search of its m-nn siblings.
            distance => Aggregation::mnn(1, distance, Weighting::Uniform).map_err(imprint)?,
        },
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
    let in_imprinter = !(rng_mode == RngMode::Portable && prefilter == Prefilter::All);
    let presampling_draws = in_imprinter && (fewshot.is_some() || prefilter != Prefilter::All);
    let task_fewshot = if in_imprinter {
        imprinter = imprinter.with_presampler(Presampling { prefilter, fewshot });
        -1
    } else {
        p.presampling_fewshot_value
    };
    Ok(Plan { imprinter, input_norm: p.normalize_input_data, aggregation, task_fewshot, presampling_draws })
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
